package tokenize

import (
	"math"
	"strings"
)

const noRank = math.MaxInt32

// Word cache limits: words repeat so much in real text that a small cache
// answers most of them; it is emptied when full so memory stays bounded.
const (
	cacheMaxWord    = 64      // longer words are rare and not worth a copy
	cacheMaxEntries = 1 << 15 // per encoder
	cacheMaxIDs     = 1 << 18 // arena of cached ids per encoder
)

// heapMinWord is the word length (in bytes) from which the merge loop keeps
// its candidate pairs in a heap: the plain loop rescans all pairs after each
// merge (quadratic), which only matters for long runs of digits or spaces.
var heapMinWord = 256

// encoder is one goroutine's scratch space and word cache.
type encoder struct {
	t     *Tokenizer
	cache map[string]uint64 // word -> offset<<32 | length in arena
	arena []int32
	syms  []int32
	ranks []int32
	mids  []int32 // merged id of each pair in ranks
	heap  []uint64
	next  []int32
	prev  []int32
}

func (t *Tokenizer) getEncoder() *encoder {
	if e, ok := t.encoders.Get().(*encoder); ok {
		return e
	}
	return &encoder{t: t, cache: make(map[string]uint64, 1024)}
}

func (t *Tokenizer) putEncoder(e *encoder) { t.encoders.Put(e) }

// encodeRange appends the ids of s[a:b] to dst; a and b must be word
// boundaries (see preTokenizer.boundary).
func (e *encoder) encodeRange(dst []int32, s string, a, b int) []int32 {
	next := e.t.pre.next
	for i := a; i < b; {
		j := next(s, i)
		if j == i+1 {
			dst = append(dst, e.t.byteID[s[i]])
		} else {
			dst = e.word(dst, s[i:j])
		}
		i = j
	}
	return dst
}

// word appends the BPE ids of one pre-tokenized word.
func (e *encoder) word(dst []int32, w string) []int32 {
	if len(w) > cacheMaxWord {
		return e.bpe(dst, w)
	}
	if v, ok := e.cache[w]; ok {
		return append(dst, e.arena[v>>32:v>>32+v&0xffffffff]...)
	}
	n := len(dst)
	dst = e.bpe(dst, w)
	ids := dst[n:]
	if len(e.cache) >= cacheMaxEntries || len(e.arena)+len(ids) > cacheMaxIDs {
		clear(e.cache)
		e.arena = e.arena[:0]
	}
	e.cache[strings.Clone(w)] = uint64(len(e.arena))<<32 | uint64(len(ids)) // w points into the caller's text
	e.arena = append(e.arena, ids...)
	return dst
}

// bpe applies the merge rules to one word: repeatedly merge the adjacent
// pair with the lowest rank, the leftmost one on ties.
func (e *encoder) bpe(dst []int32, w string) []int32 {
	if len(w) >= heapMinWord {
		return e.bpeHeap(dst, w)
	}
	t := e.t
	syms := e.syms[:0]
	for i := 0; i < len(w); i++ {
		syms = append(syms, t.byteID[w[i]])
	}
	ranks, mids := e.ranks[:0], e.mids[:0]
	for i := 0; i+1 < len(syms); i++ {
		r, id := t.pairs.get(syms[i], syms[i+1])
		ranks, mids = append(ranks, r), append(mids, id)
	}
	for len(syms) > 1 {
		best, bi := int32(noRank), -1
		for i, r := range ranks {
			if r < best {
				best, bi = r, i
			}
		}
		if bi < 0 {
			break
		}
		syms[bi] = mids[bi]
		syms = append(syms[:bi+1], syms[bi+2:]...)
		ranks = append(ranks[:bi], ranks[bi+1:]...)
		mids = append(mids[:bi], mids[bi+1:]...)
		if bi > 0 {
			ranks[bi-1], mids[bi-1] = t.pairs.get(syms[bi-1], syms[bi])
		}
		if bi < len(ranks) {
			ranks[bi], mids[bi] = t.pairs.get(syms[bi], syms[bi+1])
		}
	}
	e.syms, e.ranks, e.mids = syms, ranks, mids
	return append(dst, syms...)
}

func (t *Tokenizer) rank(a, b int32) int32 {
	r, _ := t.pairs.get(a, b)
	return r
}

// bpeHeap is bpe for long words: symbols form a linked list and candidate
// pairs sit in a min-heap keyed by (rank, position of the left symbol), so
// the same merge order costs O(n log n). Entries made stale by a merge are
// recognised when popped because the pair at that position no longer has
// that rank (a rank names exactly one pair).
func (e *encoder) bpeHeap(dst []int32, w string) []int32 {
	t := e.t
	n := len(w)
	syms := grow(e.syms, n)
	next, prev := grow(e.next, n), grow(e.prev, n)
	h := e.heap[:0]
	for i := 0; i < n; i++ {
		syms[i] = t.byteID[w[i]]
		next[i], prev[i] = int32(i+1), int32(i-1)
	}
	next[n-1] = -1
	for i := 0; i+1 < n; i++ {
		if r := t.rank(syms[i], syms[i+1]); r != noRank {
			h = heapPush(h, uint64(r)<<32|uint64(i))
		}
	}
	for len(h) > 0 {
		var top uint64
		top, h = heapPop(h)
		r, i := int32(top>>32), int32(uint32(top))
		if syms[i] < 0 || next[i] < 0 {
			continue
		}
		j := next[i]
		if t.rank(syms[i], syms[j]) != r {
			continue
		}
		_, syms[i] = t.pairs.get(syms[i], syms[j])
		syms[j] = -1
		next[i] = next[j]
		if next[j] >= 0 {
			prev[next[j]] = i
			if r2 := t.rank(syms[i], syms[next[i]]); r2 != noRank {
				h = heapPush(h, uint64(r2)<<32|uint64(i))
			}
		}
		if p := prev[i]; p >= 0 {
			if r2 := t.rank(syms[p], syms[i]); r2 != noRank {
				h = heapPush(h, uint64(r2)<<32|uint64(p))
			}
		}
	}
	for i := int32(0); i >= 0; i = next[i] {
		dst = append(dst, syms[i])
	}
	e.syms, e.next, e.prev, e.heap = syms, next, prev, h
	return dst
}

func grow(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

func heapPush(h []uint64, v uint64) []uint64 {
	h = append(h, v)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	return h
}

func heapPop(h []uint64) (uint64, []uint64) {
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h[l] < h[m] {
			m = l
		}
		if r < len(h) && h[r] < h[m] {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	return top, h
}
