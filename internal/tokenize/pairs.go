package tokenize

import "math/bits"

// pairTable is the merge rules as an open-addressing hash table: the merge
// loop looks up every adjacent pair of every new word, and this flat table
// answers about twice as fast as a Go map.
type pairTable struct {
	slots []pairSlot
	shift uint8
}

type pairSlot struct {
	key      uint64 // pairKey; emptyPair when unused
	rank, id int32
}

const emptyPair = ^uint64(0)

func newPairTable(m map[uint64]merge) pairTable {
	n := 1 << bits.Len(uint(len(m)*2+1)) // load factor <= 1/2
	t := pairTable{slots: make([]pairSlot, n), shift: uint8(64 - bits.TrailingZeros(uint(n)))}
	for i := range t.slots {
		t.slots[i].key = emptyPair
	}
	for k, v := range m {
		i := t.home(k)
		for t.slots[i].key != emptyPair {
			i = (i + 1) & (len(t.slots) - 1)
		}
		t.slots[i] = pairSlot{key: k, rank: v.rank, id: v.id}
	}
	return t
}

func (t *pairTable) home(k uint64) int { return int((k * 0x9e3779b97f4a7c15) >> t.shift) }

// get returns the rank and merged id of the pair (a, b), or rank noRank.
func (t *pairTable) get(a, b int32) (rank, id int32) {
	k := pairKey(a, b)
	mask := len(t.slots) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == k {
			return s.rank, s.id
		}
		if s.key == emptyPair {
			return noRank, -1
		}
	}
}
