package nn

// EmbeddingForward gathers token and position embeddings.
//
//	ids: [B*T], wte: [V, C], wpe: [P, C] → x: [B*T, C] (writes), position of row i is i % T
func EmbeddingForward(x []float32, ids []int32, wte, wpe []float32, n, t, c int) {
	Parallel(n, c, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			tok := wte[int(ids[i])*c:][:c]
			pos := wpe[(i%t)*c:][:c]
			out := x[i*c : i*c+c]
			for j := range out {
				out[j] = tok[j] + pos[j]
			}
		}
	})
}

// EmbeddingBackward scatter-adds dx into the embedding gradients; nil skips
// one. Rows of the same token are added in row order (deterministic): the
// columns are split between goroutines, not the rows.
//
//	dx: [B*T, C], ids: [B*T] → dwte: [V, C] (+=), dwpe: [P, C] (+=)
func EmbeddingBackward(dwte, dwpe, dx []float32, ids []int32, n, t, c int) {
	const blk = 64
	Parallel((c+blk-1)/blk, n*blk, func(lo, hi int) {
		j0, j1 := lo*blk, min(hi*blk, c)
		for i := 0; i < n; i++ {
			d := dx[i*c : i*c+c]
			if dwte != nil {
				g := dwte[int(ids[i])*c:][:c]
				for j := j0; j < j1; j++ {
					g[j] += d[j]
				}
			}
			if dwpe != nil {
				g := dwpe[(i%t)*c:][:c]
				for j := j0; j < j1; j++ {
					g[j] += d[j]
				}
			}
		}
	})
}
