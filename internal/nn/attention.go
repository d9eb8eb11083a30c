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
func (a *Attention) Forward(out, probs, qkv, scratch []float32) {
	B, T, H, D, C := a.B, a.T, a.H, a.D, a.c()
	scale := float32(1 / math.Sqrt(float64(D)))
	tt := T * T
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			q := qkv[b*T*3*C+h*D:]
			k := qkv[b*T*3*C+C+h*D:]
			blas.Sgemm(false, true, T, T, D, scale, q, 3*C, k, 3*C, 0, probs[(b*H+h)*tt:], T)
		}
	}
	Parallel(B*H*T, T, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			causalSoftmax(probs[r*T:r*T+T], r%T)
		}
	})
	if a.Drop.Active() {
		a.dropped(scratch, probs)
		a.weighted(out, scratch, qkv)
		return
	}
	a.weighted(out, probs, qkv)
}

// dropped writes pd = dropout(p) over the lower triangle.
func (a *Attention) dropped(pd, p []float32) {
	T := a.T
	d := a.Drop
	th, sc := d.threshold(), 1/(1-d.P)
	Parallel(a.B*a.H*T, T, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			i := r % T
			base := r * T
			for j := 0; j <= i; j++ {
				if Rand32(d.Seed, d.Key, d.Stream, uint64(base+j)) < th {
					pd[base+j] = 0
				} else {
					pd[base+j] = p[base+j] * sc
				}
			}
			for j := i + 1; j < T; j++ {
				pd[base+j] = 0
			}
		}
	})
}

// weighted writes out[b, :, h] = P[b, h] · V[b, :, h].
func (a *Attention) weighted(out, p, qkv []float32) {
	B, T, H, D, C := a.B, a.T, a.H, a.D, a.c()
	tt := T * T
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			v := qkv[b*T*3*C+2*C+h*D:]
			blas.Sgemm(false, false, T, D, T, 1, p[(b*H+h)*tt:], T, v, 3*C, 0, out[b*T*C+h*D:], C)
		}
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
	var s float32
	for j := 0; j <= i; j++ {
		e := float32(math.Exp(float64(row[j] - mx)))
		row[j] = e
		s += e
	}
	inv := 1 / s
	for j := 0; j <= i; j++ {
		row[j] *= inv
	}
	for j := i + 1; j < len(row); j++ {
		row[j] = 0
	}
}

// Backward writes dqkv from dout. s1, s2: [B, H, T, T] scratch.
//
//	dout: [B, T, C], probs: [B, H, T, T], qkv: [B, T, 3C] → dqkv: [B, T, 3C] (writes)
func (a *Attention) Backward(dqkv, dout, probs, qkv, s1, s2 []float32) {
	B, T, H, D, C := a.B, a.T, a.H, a.D, a.c()
	scale := float32(1 / math.Sqrt(float64(D)))
	tt := T * T
	pd := probs
	if a.Drop.Active() {
		a.dropped(s1, probs)
		pd = s1
	}
	dp := s2
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			v := qkv[b*T*3*C+2*C+h*D:]
			do := dout[b*T*C+h*D:]
			// dPd = dOut·Vᵀ ; dV = Pdᵀ·dOut
			blas.Sgemm(false, true, T, T, D, 1, do, C, v, 3*C, 0, dp[(b*H+h)*tt:], T)
			blas.Sgemm(true, false, T, D, T, 1, pd[(b*H+h)*tt:], T, do, C, 0, dqkv[b*T*3*C+2*C+h*D:], 3*C)
		}
	}
	d := a.Drop
	th, dsc := d.threshold(), 1/(1-d.P)
	// dS = P ⊙ (dP − rowsum(P ⊙ dP)), written into s1 (pd is no longer needed).
	ds := s1
	Parallel(B*H*T, T, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			i := r % T
			base := r * T
			p, g, o := probs[base:base+T], dp[base:base+T], ds[base:base+T]
			if d.Active() {
				for j := 0; j <= i; j++ {
					if Rand32(d.Seed, d.Key, d.Stream, uint64(base+j)) < th {
						g[j] = 0
					} else {
						g[j] *= dsc
					}
				}
			}
			var s float32
			for j := 0; j <= i; j++ {
				s += p[j] * g[j]
			}
			for j := 0; j <= i; j++ {
				o[j] = p[j] * (g[j] - s)
			}
			for j := i + 1; j < T; j++ {
				o[j] = 0
			}
		}
	})
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			q := qkv[b*T*3*C+h*D:]
			k := qkv[b*T*3*C+C+h*D:]
			dsh := ds[(b*H+h)*tt:]
			// dQ = scale·dS·K ; dK = scale·dSᵀ·Q
			blas.Sgemm(false, false, T, D, T, scale, dsh, T, k, 3*C, 0, dqkv[b*T*3*C+h*D:], 3*C)
			blas.Sgemm(true, false, T, D, T, scale, dsh, T, q, 3*C, 0, dqkv[b*T*3*C+C+h*D:], 3*C)
		}
	}
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
