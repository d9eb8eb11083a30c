package nn

import "math"

// expf is exp for float32 arguments with about 2 ulp of error (Cephes'
// expf polynomial after reduction by ln 2), several times faster than
// math.Exp on float64. Arguments below -87 give 0, above 88 +Inf.
func expf(x float32) float32 {
	if x < -87 {
		return 0
	}
	if x > 88 {
		return float32(math.Inf(1))
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	t := x * log2e
	var k int32
	if t >= 0 {
		k = int32(t + 0.5)
	} else {
		k = int32(t - 0.5)
	}
	kf := float32(k)
	r := x - kf*ln2hi - kf*ln2lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	return p * math.Float32frombits(uint32(k+127)<<23)
}

// tanhf is tanh through expf: 1 - 2/(e^{2u}+1), exact ±1 beyond |u| > 9
// where float32 saturates anyway.
func tanhf(u float32) float32 {
	if u > 9 {
		return 1
	}
	if u < -9 {
		return -1
	}
	return 1 - 2/(expf(2*u)+1)
}
