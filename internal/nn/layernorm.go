package nn

import "math"

// LayerNormForward normalises each row of x and applies the affine w, b.
//
//	x: [n, c], w, b: [c] → y: [n, c] (writes); mean, rstd: [n] (writes, kept for backward)
func LayerNormForward(y, mean, rstd, x, w, b []float32, n, c int, eps float32) {
	Parallel(n, c, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := x[i*c : i*c+c]
			var s float64
			for _, v := range row {
				s += float64(v)
			}
			m := s / float64(c)
			var ss float64
			for _, v := range row {
				d := float64(v) - m
				ss += d * d
			}
			r := 1 / math.Sqrt(ss/float64(c)+float64(eps))
			mean[i], rstd[i] = float32(m), float32(r)
			mf, rf := float32(m), float32(r)
			out := y[i*c : i*c+c]
			for j, v := range row {
				out[j] = (v-mf)*rf*w[j] + b[j]
			}
		}
	})
}

// LayerNormBackward accumulates the gradients of LayerNormForward.
//
//	dy, x: [n, c], w: [c], mean, rstd: [n] → dx: [n, c] (+=); dw, db: [c] (+=, nil to skip)
func LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd []float32, n, c int) {
	Parallel(n, c, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xr, dyr, dxr := x[i*c:i*c+c], dy[i*c:i*c+c], dx[i*c:i*c+c]
			m, r := mean[i], rstd[i]
			// dxhat = dy*w; dx = r*(dxhat - mean(dxhat) - xhat*mean(dxhat*xhat))
			var s1, s2 float32
			for j := range xr {
				dxh := dyr[j] * w[j]
				s1 += dxh
				s2 += dxh * (xr[j] - m) * r
			}
			s1 /= float32(c)
			s2 /= float32(c)
			for j := range xr {
				xh := (xr[j] - m) * r
				dxr[j] += r * (dyr[j]*w[j] - s1 - xh*s2)
			}
		}
	})
	if dw == nil {
		return
	}
	// Parameter gradients reduce over rows; split the columns instead so
	// that no two goroutines write the same element.
	const blk = 32
	Parallel((c+blk-1)/blk, n*blk, func(lo, hi int) {
		for cb := lo; cb < hi; cb++ {
			j0, j1 := cb*blk, min((cb+1)*blk, c)
			for i := 0; i < n; i++ {
				m, r := mean[i], rstd[i]
				xr, dyr := x[i*c:i*c+c], dy[i*c:i*c+c]
				for j := j0; j < j1; j++ {
					dw[j] += dyr[j] * (xr[j] - m) * r
					db[j] += dyr[j]
				}
			}
		}
	})
}
