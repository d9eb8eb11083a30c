package eval

import "sort"

// quantile of xs (sorted in place) by linear interpolation.
func quantile(xs []float64, q float64) float64 {
	sort.Float64s(xs)
	if len(xs) == 0 {
		return 0
	}
	pos := q * float64(len(xs)-1)
	i := int(pos)
	if i+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[i] + (pos-float64(i))*(xs[i+1]-xs[i])
}
