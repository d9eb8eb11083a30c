package nn

import "math"

// CrossEntropy computes masked softmax cross-entropy over the vocabulary and
// its gradient in one pass.
//
//	logits: [n, v], targets: [n], mask: [n] (nil = all ones)
//	→ dlogits: [n, v] (writes scale*mask*(softmax − onehot); may alias logits; nil skips)
//	returns sum_i mask_i*CE_i and sum_i mask_i
func CrossEntropy(dlogits, logits []float32, targets []int32, mask []float32, n, v int, scale float32) (lossSum, count float64) {
	var parts [64]struct{ loss, count float64 }
	Parallel(n, v, func(lo, hi int) {
		var l, c float64
		for i := lo; i < hi; i++ {
			m := float32(1)
			if mask != nil {
				m = mask[i]
			}
			row := logits[i*v : i*v+v]
			var drow []float32
			if dlogits != nil {
				drow = dlogits[i*v : i*v+v]
			}
			if m == 0 {
				if drow != nil {
					clear(drow)
				}
				continue
			}
			mx := row[0]
			for _, x := range row[1:] {
				if x > mx {
					mx = x
				}
			}
			tgt := int(targets[i])
			xt := row[tgt]
			var s float64
			if drow == nil {
				for _, x := range row {
					s += float64(expf(x - mx))
				}
			} else {
				expSub(drow, row, mx)
				for _, e := range drow {
					s += float64(e)
				}
			}
			l += float64(m) * (float64(mx) + math.Log(s) - float64(xt))
			c += float64(m)
			if drow != nil {
				g := scale * m / float32(s)
				for j := range drow {
					drow[j] *= g
				}
				drow[tgt] -= scale * m
			}
		}
		// One slot per range start keeps the reduction deterministic.
		parts[slot(lo, n)] = struct{ loss, count float64 }{l, c}
	})
	for _, p := range parts {
		lossSum += p.loss
		count += p.count
	}
	return lossSum, count
}

func slot(lo, n int) int {
	if n == 0 {
		return 0
	}
	return lo * 64 / n
}
