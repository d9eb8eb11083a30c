package nn

import (
	"math"

	"github.com/llmtune/llmtune/internal/blas"
)

// Attention is GPT-2's fused causal self-attention for one shape: the QKV
// split, scores Q·Kᵀ/sqrt(D), causal softmax (upper triangle never read: no
// mask is materialised), optional dropout of the probabilities, and the
// weighted sum of V with the heads merged back.
//
//	qkv: [B, T, 3C] (q, k, v each C = H*D wide) → out: [B, T, C]
//	probs: [B, H, T, T] softmax output kept for backward (upper triangle zero)
type Attention struct {
	B, T, H, D int
	Drop       Dropout // attn_pdrop site for this layer and step
}

func (a *Attention) c() int { return a.H * a.D }

// Forward writes out and probs; scratch [B, H, T, T] holds the dropped
// probabilities when attention dropout is active (else it may be nil).
// Each (batch, head) pair is one task: two small GEMMs and the softmax rows
// between them stay in one core's cache.
func (a *Attention) Forward(out, probs, qkv, scratch []float32) {
	B, T, H, D, C := a.B, a.T, a.H, a.D, a.c()
	scale := float32(1 / math.Sqrt(float64(D)))
	tt := T * T
	parallelBLAS(B*H, T*T*D, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/H, bh%H
			q := qkv[b*T*3*C+h*D:]
			k := qkv[b*T*3*C+C+h*D:]
			v := qkv[b*T*3*C+2*C+h*D:]
			p := probs[bh*tt : (bh+1)*tt]
			blas.Sgemm(false, true, T, T, D, scale, q, 3*C, k, 3*C, 0, p, T)
			for i := 0; i < T; i++ {
				causalSoftmax(p[i*T:i*T+T], i)
			}
			if a.Drop.Active() {
				pd := scratch[bh*tt : (bh+1)*tt]
				a.dropRows(pd, p, bh*tt)
				p = pd
			}
			blas.Sgemm(false, false, T, D, T, 1, p, T, v, 3*C, 0, out[b*T*C+h*D:], C)
		}
	})
}

// dropRows writes pd = dropout(p) for one (batch, head) block whose first
// element is element base of the site.
func (a *Attention) dropRows(pd, p []float32, base int) {
	T, d := a.T, a.Drop
	th, sc := d.threshold(), 1/(1-d.P)
	for i := 0; i < T; i++ {
		r := i * T
		for j := 0; j <= i; j++ {
			if Rand32(d.Seed, d.Key, d.Stream, uint64(base+r+j)) < th {
				pd[r+j] = 0
			} else {
				pd[r+j] = p[r+j] * sc
			}
		}
		clear(pd[r+i+1 : r+T])
	}
}

// causalSoftmax turns scores row[0..i] into probabilities and zeroes the
// rest (future positions).
func causalSoftmax(row []float32, i int) {
	mx := row[0]
	for j := 1; j <= i; j++ {
		if row[j] > mx {
			mx = row[j]
		}
	}
	expSub(row[:i+1], row[:i+1], mx)
	var s float32
	for _, e := range row[:i+1] {
		s += e
	}
	inv := 1 / s
	for j := 0; j <= i; j++ {
		row[j] *= inv
	}
	clear(row[i+1:])
}

// Backward writes dqkv from dout. s1, s2: [B, H, T, T] scratch.
//
//	dout: [B, T, C], probs: [B, H, T, T], qkv: [B, T, 3C] → dqkv: [B, T, 3C] (writes)
func (a *Attention) Backward(dqkv, dout, probs, qkv, s1, s2 []float32) {
	B, T, H, D, C := a.B, a.T, a.H, a.D, a.c()
	scale := float32(1 / math.Sqrt(float64(D)))
	tt := T * T
	d := a.Drop
	th, dsc := d.threshold(), 1/(1-d.P)
	parallelBLAS(B*H, 2*T*T*D, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/H, bh%H
			q := qkv[b*T*3*C+h*D:]
			k := qkv[b*T*3*C+C+h*D:]
			v := qkv[b*T*3*C+2*C+h*D:]
			do := dout[b*T*C+h*D:]
			p := probs[bh*tt : (bh+1)*tt]
			pd, dp := p, s2[bh*tt:(bh+1)*tt]
			if d.Active() {
				pd = s1[bh*tt : (bh+1)*tt]
				a.dropRows(pd, p, bh*tt)
			}
			// dPd = dOut·Vᵀ ; dV = Pdᵀ·dOut
			blas.Sgemm(false, true, T, T, D, 1, do, C, v, 3*C, 0, dp, T)
			blas.Sgemm(true, false, T, D, T, 1, pd, T, do, C, 0, dqkv[b*T*3*C+2*C+h*D:], 3*C)
			// dS = P ⊙ (dP − rowsum(P ⊙ dP)), written over dP.
			for i := 0; i < T; i++ {
				r := i * T
				g := dp[r : r+T]
				if d.Active() {
					for j := 0; j <= i; j++ {
						if Rand32(d.Seed, d.Key, d.Stream, uint64(bh*tt+r+j)) < th {
							g[j] = 0
						} else {
							g[j] *= dsc
						}
					}
				}
				pr := p[r : r+T]
				var s float32
				for j := 0; j <= i; j++ {
					s += pr[j] * g[j]
				}
				for j := 0; j <= i; j++ {
					g[j] = pr[j] * (g[j] - s)
				}
				clear(g[i+1:])
			}
			// dQ = scale·dS·K ; dK = scale·dSᵀ·Q
			blas.Sgemm(false, false, T, D, T, scale, dp, T, k, 3*C, 0, dqkv[b*T*3*C+h*D:], 3*C)
			blas.Sgemm(true, false, T, D, T, scale, dp, T, q, 3*C, 0, dqkv[b*T*3*C+C+h*D:], 3*C)
		}
	})
}

// parallelBLAS is Parallel for tasks that call SGEMM: serial when OpenBLAS
// runs its own threads, so that the two kinds of workers never stack.
func parallelBLAS(n, cost int, fn func(lo, hi int)) {
	if blas.Threads() > 1 {
		fn(0, n)
		return
	}
	Parallel(n, cost, fn)
}

// AttendCached is causal attention for n new positions pos..pos+n-1 against
// a key/value cache that already holds positions 0..pos+n-1 (the new ones
// included): the incremental form used by generation.
//
//	qkv: [n, 3C] (only q is read), kc, vc: [≥pos+n, C] → out: [n, C] (writes); scores: [n*(pos+n)] scratch
func AttendCached(out, qkv, kc, vc, scores []float32, pos, n, H, D int) {
	C := H * D
	m := pos + n
	scale := float32(1 / math.Sqrt(float64(D)))
	for h := 0; h < H; h++ {
		blas.Sgemm(false, true, n, m, D, scale, qkv[h*D:], 3*C, kc[h*D:], C, 0, scores, m)
		Parallel(n, m, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				causalSoftmax(scores[i*m:i*m+m], pos+i)
			}
		})
		blas.Sgemm(false, false, n, D, m, 1, scores, m, vc[h*D:], C, 0, out[h*D:], C)
	}
}
