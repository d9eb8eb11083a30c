package train

import (
	"math"

	"github.com/llmtune/llmtune/internal/model"
)

// bigram is a stand-in network with an analytic gradient: logits of the
// token after x are W[x] + b, for a vocabulary of V. Its "dropout" zeroes
// W's contribution at positions chosen by a hash of (seed, key, position),
// so, like the real network, its randomness is a pure function of the key.
type bigram struct {
	V       int
	seed    int64
	dropout bool
	params  []float32
	grads   []float32
	lay     *model.Layout
	logits  []float64
}

func newBigram(V int, seed int64, dropout bool) *bigram {
	n := &bigram{V: V, seed: seed, dropout: dropout, params: make([]float32, V*V+V), grads: make([]float32, V*V+V),
		logits: make([]float64, V)}
	n.lay = &model.Layout{Total: V*V + V, Tensors: []model.Tensor{
		{Name: "w", Shape: []int{V, V}, Offset: 0, Size: V * V, Decay: true},
		{Name: "b", Shape: []int{V}, Offset: V * V, Size: V},
	}}
	for i := range n.params { // small deterministic start
		n.params[i] = float32(math.Sin(float64(i)*1.7)) * 0.1
	}
	return n
}

func (n *bigram) dropped(key uint64, pos int) bool {
	if !n.dropout {
		return false
	}
	h := uint64(n.seed)*0x9e3779b97f4a7c15 ^ key*0xbf58476d1ce4e5b9 ^ uint64(pos)*0x94d049bb133111eb
	h ^= h >> 31
	h *= 0xd6e8feb86ca6d273
	h ^= h >> 29
	return h%5 == 0
}

func (n *bigram) run(inputs, targets []int32, mask []float32, scale float32, key uint64, grad, drop bool) (float64, float64, error) {
	V := n.V
	var sum, count float64
	for i, x := range inputs {
		if mask[i] == 0 {
			continue
		}
		d := drop && n.dropped(key, i)
		mx := math.Inf(-1)
		for j := 0; j < V; j++ {
			l := float64(n.params[V*V+j])
			if !d {
				l += float64(n.params[int(x)*V+j])
			}
			n.logits[j] = l
			mx = math.Max(mx, l)
		}
		var z float64
		for j := range n.logits {
			z += math.Exp(n.logits[j] - mx)
		}
		t := int(targets[i])
		m := float64(mask[i])
		sum += m * (mx + math.Log(z) - n.logits[t])
		count += m
		if !grad {
			continue
		}
		for j := 0; j < V; j++ {
			g := math.Exp(n.logits[j]-mx) / z
			if j == t {
				g--
			}
			g *= m * float64(scale)
			n.grads[V*V+j] += float32(g)
			if !d {
				n.grads[int(x)*V+j] += float32(g)
			}
		}
	}
	return sum, count, nil
}

func (n *bigram) Step(inputs, targets []int32, mask []float32, scale float32, key uint64) (float64, float64, error) {
	return n.run(inputs, targets, mask, scale, key, true, true)
}
func (n *bigram) Eval(inputs, targets []int32, mask []float32) (float64, float64, error) {
	return n.run(inputs, targets, mask, 0, 0, false, false)
}
func (n *bigram) Trainable() []float32           { return n.params }
func (n *bigram) Grads() []float32               { return n.grads }
func (n *bigram) ZeroGrads()                     { clear(n.grads) }
func (n *bigram) TrainableLayout() *model.Layout { return n.lay }

// bigramWeights saves the fake's parameters as a checkpoint's model files.
type bigramWeights struct {
	n       *bigram
	failing bool // save fails half-way, as a full disk would
}

func (w *bigramWeights) save(dir string) error {
	if err := writeTensors(dir+"/model.safetensors", map[string][]float32{"params": w.n.params}); err != nil {
		return err
	}
	if w.failing {
		return errDiskFull
	}
	return nil
}

func (w *bigramWeights) restore(dir string) error {
	ts, err := readTensors(dir + "/model.safetensors")
	if err != nil {
		return err
	}
	copy(w.n.params, ts["params"])
	return nil
}

type diskFull struct{}

func (diskFull) Error() string { return "no space left on device" }

var errDiskFull error = diskFull{}

// fakeBlocks is a deterministic corpus of n blocks with a learnable rule
// (the next token is mostly x+1 mod V) and a loss mask that leaves some
// positions out, as prompt tokens are.
func fakeBlocks(n, T, V int) []Block {
	out := make([]Block, n)
	s := uint32(12345)
	rnd := func() uint32 { s = s*1664525 + 1013904223; return s >> 8 }
	for b := range out {
		seq := make([]int32, T+1)
		seq[0] = int32(rnd() % uint32(V))
		for i := 1; i <= T; i++ {
			if rnd()%4 == 0 {
				seq[i] = int32(rnd() % uint32(V))
			} else {
				seq[i] = (seq[i-1] + 1) % int32(V)
			}
		}
		mask := make([]float32, T)
		for i := range mask {
			if (b+i)%5 != 0 {
				mask[i] = 1
			}
		}
		out[b] = Block{Inputs: seq[:T], Targets: seq[1:], Mask: mask}
	}
	return out
}
