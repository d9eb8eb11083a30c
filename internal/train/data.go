package train

import "math/rand/v2"

// Block is one training sequence: Targets[i] follows Inputs[i]; Mask[i] is
// 1 where Targets[i] counts towards the loss. Same fields as tokenize.Block.
type Block struct {
	Inputs, Targets []int32
	Mask            []float32
}

// cursor is the position in the endless stream of blocks: epoch e visits
// every block once in an order that is a pure function of (seed, e), so a
// resumed run needs only the cursor to see the same batches.
type cursor struct {
	Epoch int `json:"epoch"`
	Index int `json:"index"` // next position within the epoch's order
}

type stream struct {
	n     int
	seed  int64
	at    cursor
	order []int // of at.Epoch
	built int   // epoch order holds; -1 none
}

func newStream(n int, seed int64, at cursor) *stream {
	return &stream{n: n, seed: seed, at: at, order: make([]int, n), built: -1}
}

// next fills idx with the next len(idx) block indices, crossing epochs when
// one runs out (so a batch larger than the data still works).
func (s *stream) next(idx []int) {
	for i := range idx {
		if s.at.Index >= s.n {
			s.at = cursor{Epoch: s.at.Epoch + 1}
		}
		if s.built != s.at.Epoch {
			permutation(s.order, s.seed, s.at.Epoch)
			s.built = s.at.Epoch
		}
		idx[i] = s.order[s.at.Index]
		s.at.Index++
	}
}

// progress is the number of epochs completed, fractional.
func (s *stream) progress() float64 {
	return float64(s.at.Epoch) + float64(s.at.Index)/float64(s.n)
}

// permutation writes a Fisher-Yates shuffle of 0..len(p)-1 seeded by (seed,
// epoch). It draws from PCG directly rather than rand.Perm so that the order
// cannot change with the Go release.
func permutation(p []int, seed int64, epoch int) {
	r := rand.NewPCG(uint64(seed), uint64(epoch)^0x9e3779b97f4a7c15)
	for i := range p {
		p[i] = i
	}
	for i := len(p) - 1; i > 0; i-- {
		j := int(r.Uint64() % uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
}
