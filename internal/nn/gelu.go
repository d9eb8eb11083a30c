package nn

const (
	geluK = 0.7978845608028654 // sqrt(2/pi)
	geluC = 0.044715
)

// GELUForward is gelu_new (the tanh approximation GPT-2 uses).
//
//	x: [n] → y: [n] (writes; may alias x only if backward is not needed)
func GELUForward(y, x []float32) {
	Parallel(len(x), 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := x[i]
			y[i] = 0.5 * v * (1 + tanhf(geluK*(v+geluC*v*v*v)))
		}
	})
}

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
//	x: [n] → y: [n] (writes); d: [n] (writes gelu'(x); may alias x)
func GELUForwardSave(y, d, x []float32) {
	Parallel(len(x), 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := x[i]
			t := tanhf(geluK * (v + geluC*v*v*v))
			y[i] = 0.5 * v * (1 + t)
			d[i] = 0.5*(1+t) + 0.5*v*(1-t*t)*geluK*(1+3*geluC*v*v)
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
