package nn

import "golang.org/x/sys/cpu"

var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func expSubAVX2(dst, src []float32, sub float32)

// expSub writes dst[i] = exp(src[i] - sub), eight lanes at a time with AVX2
// and FMA where the CPU has them (dst may alias src). Arguments are clamped
// to [-87, 88], which only matters for results that underflow to 0 or
// overflow anyway.
func expSub(dst, src []float32, sub float32) {
	n := 0
	if haveAVX2 {
		n = len(dst) &^ 7
		if n > 0 {
			expSubAVX2(dst[:n], src[:n], sub)
		}
	}
	for i := n; i < len(dst); i++ {
		dst[i] = expf(src[i] - sub)
	}
}
