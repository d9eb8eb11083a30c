package train

import (
	"math"
	"runtime"
	"sync"

	"github.com/llmtune/llmtune/internal/model"
)

// adamW is torch.optim.AdamW over one flat parameter buffer: decoupled
// weight decay (only on tensors the layout marks Decay: matrices and
// embeddings, not biases or LayerNorm), bias-corrected moments, eps outside
// the square root. The moments are two buffers shaped like the parameters.
type adamW struct {
	beta1, beta2, eps, weightDecay float64
	m, v                           []float32
	t                              int // updates applied so far
	work                           []span
	partial                        []float64 // per span, for the gradient norm
}

// span is a piece of the buffer updated by one goroutine; pieces never
// cross a tensor boundary, so each has one decay flag.
type span struct {
	lo, hi int
	decay  bool
}

const spanSize = 1 << 16

func newAdamW(l *model.Layout, beta1, beta2, eps, weightDecay float64) *adamW {
	a := &adamW{beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay,
		m: make([]float32, l.Total), v: make([]float32, l.Total)}
	a.work = spans(l)
	a.partial = make([]float64, len(a.work))
	return a
}

func spans(l *model.Layout) []span {
	var out []span
	for _, t := range l.Tensors {
		for lo := t.Offset; lo < t.Offset+t.Size; lo += spanSize {
			out = append(out, span{lo, min(lo+spanSize, t.Offset+t.Size), t.Decay})
		}
	}
	return out
}

// update applies one step with learning rate lr to params given grads
// times gscale (the clipping factor, folded in to save a pass over memory).
// It leaves grads zeroed for the next accumulation, again in the same pass.
func (a *adamW) update(params, grads []float32, lr float64, gscale float32) {
	a.t++
	bc1 := 1 - math.Pow(a.beta1, float64(a.t))
	bc2 := 1 - math.Pow(a.beta2, float64(a.t))
	b1, b2 := float32(a.beta1), float32(a.beta2)
	stepSize := float32(lr / bc1)
	rbc2 := float32(1 / math.Sqrt(bc2))
	eps := float32(a.eps)
	parallel(len(a.work), func(i int) {
		s := a.work[i]
		p, g, m, v := params[s.lo:s.hi], grads[s.lo:s.hi], a.m[s.lo:s.hi], a.v[s.lo:s.hi]
		shrink := float32(1)
		if s.decay {
			shrink = float32(1 - lr*a.weightDecay)
		}
		for j := range p {
			gj := g[j] * gscale
			g[j] = 0
			mj := b1*m[j] + (1-b1)*gj
			vj := b2*v[j] + (1-b2)*gj*gj
			m[j], v[j] = mj, vj
			p[j] = p[j]*shrink - stepSize*mj/(float32(math.Sqrt(float64(vj)))*rbc2+eps)
		}
	})
}

// globalNorm is the L2 norm of the whole buffer, summed in a fixed order so
// that it is the same run after run.
func globalNorm(work []span, g []float32) float64 {
	return sumSquares(work, g, make([]float64, len(work)))
}

// norm is globalNorm without allocating.
func (a *adamW) norm(g []float32) float64 { return sumSquares(a.work, g, a.partial) }

func sumSquares(work []span, g []float32, partial []float64) float64 {
	parallel(len(work), func(i int) {
		var s float64
		for _, x := range g[work[i].lo:work[i].hi] {
			s += float64(x) * float64(x)
		}
		partial[i] = s
	})
	var s float64
	for _, p := range partial {
		s += p
	}
	return math.Sqrt(s)
}

// clipScale is the factor torch.nn.utils.clip_grad_norm_ scales gradients
// by: maxNorm/(norm+1e-6) when the norm exceeds maxNorm, else 1.
func clipScale(norm, maxNorm float64) float32 {
	if maxNorm <= 0 || norm <= maxNorm {
		return 1
	}
	return float32(maxNorm / (norm + 1e-6))
}

// parallel runs fn(0..n-1) on GOMAXPROCS goroutines. Each index is
// independent, so the result does not depend on scheduling.
func parallel(n int, fn func(i int)) {
	p := min(runtime.GOMAXPROCS(0), n)
	if p <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < p; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += p {
				fn(i)
			}
		}(w)
	}
	wg.Wait()
}
