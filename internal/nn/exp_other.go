//go:build !amd64

package nn

// expSub writes dst[i] = exp(src[i] - sub) (dst may alias src).
func expSub(dst, src []float32, sub float32) {
	for i := range dst {
		dst[i] = expf(src[i] - sub)
	}
}
