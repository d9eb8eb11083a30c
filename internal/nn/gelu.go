package nn

const (
	geluK = 0.7978845608028654 // sqrt(2/pi)
	geluC = 0.044715
)

// GELUForward is gelu_new (the tanh approximation GPT-2 uses).
//
//	x: [n] → y: [n] (writes; may alias x only if backward is not needed)
func GELUForward(y, x []float32) { GELUForwardSave(y, nil, x) }

// GELUBackward writes dx = dy * gelu'(x) (dx may alias dy).
//
//	dy, x: [n] → dx: [n] (writes)
func GELUBackward(dx, dy, x []float32) {
	Parallel(len(x), 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := x[i]
			t := tanhf(geluK * (v + geluC*v*v*v))
			d := 0.5*(1+t) + 0.5*v*(1-t*t)*geluK*(1+3*geluC*v*v)
			dx[i] = dy[i] * d
		}
	})
}

// GELUForwardSave is GELUForward that also keeps gelu'(x) for backward, so
// backward needs no second tanh: use GELUBackwardSaved with it.
//
//	x: [n] → y: [n] (writes); d: [n] (writes gelu'(x); may alias x; nil skips)
func GELUForwardSave(y, d, x []float32) {
	Parallel(len(x), 8, func(lo, hi int) {
		// tanh(u) = 1 - 2/(e^{2u}+1), the exponentials vectorised a block at a time.
		var e [256]float32
		for b := lo; b < hi; b += len(e) {
			n := min(len(e), hi-b)
			xs := x[b : b+n]
			for j, v := range xs {
				u := 2 * geluK * (v + geluC*v*v*v)
				e[j] = max(-18, min(18, u))
			}
			expSub(e[:n], e[:n], 0)
			for j, v := range xs {
				t := 1 - 2/(e[j]+1)
				y[b+j] = 0.5 * v * (1 + t)
				if d != nil {
					d[b+j] = 0.5*(1+t) + 0.5*v*(1-t*t)*geluK*(1+3*geluC*v*v)
				}
			}
		}
	})
}

// GELUBackwardSaved writes dx = dy * d with d from GELUForwardSave (dx may alias dy).
func GELUBackwardSaved(dx, dy, d []float32) {
	Parallel(len(d), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dx[i] = dy[i] * d[i]
		}
	})
}
