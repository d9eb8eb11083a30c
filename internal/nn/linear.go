package nn

// LinearForward is Hugging Face's Conv1D: y = x·w + b, w stored [in, out].
//
//	x: [n, in], w: [in, out], b: [out] (nil for none) → y: [n, out] (writes)
func LinearForward(y, x, w, b []float32, n, in, out int) {
	beta := float32(0)
	if b != nil {
		for i := 0; i < n; i++ {
			copy(y[i*out:i*out+out], b)
		}
		beta = 1
	}
	if n == 1 {
		Gemv(true, in, out, 1, w, out, x, beta, y)
		return
	}
	Gemm(false, false, n, out, in, 1, x, in, w, out, beta, y, out)
}

// LinearBackward computes the gradients of LinearForward. A nil dw skips
// the weight gradient (frozen weights: the GEMM is not done at all), a nil dx
// skips the input gradient.
//
//	dy: [n, out], x: [n, in], w: [in, out] → dx: [n, in] (writes); dw: [in, out] (+=); db: [out] (+=)
func LinearBackward(dx, dw, db, dy, x, w []float32, n, in, out int) {
	if dx != nil {
		Gemm(false, true, n, in, out, 1, dy, out, w, out, 0, dx, in)
	}
	if dw != nil {
		Gemm(true, false, in, out, n, 1, x, in, dy, out, 1, dw, out)
	}
	if db != nil {
		ColSumAdd(db, dy, n, out)
	}
}

// ColSumAdd adds the column sums of m [n, c] to s [c].
func ColSumAdd(s, m []float32, n, c int) {
	const blk = 64
	Parallel((c+blk-1)/blk, n*blk, func(lo, hi int) {
		j0, j1 := lo*blk, min(hi*blk, c)
		for i := 0; i < n; i++ {
			row := m[i*c : i*c+c]
			for j := j0; j < j1; j++ {
				s[j] += row[j]
			}
		}
	})
}
