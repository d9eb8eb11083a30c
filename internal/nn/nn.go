// Package nn holds the hand-written float32 kernels of the GPT-2 network:
// each layer's forward and backward side by side in one file, shapes in the
// doc comment, row-major slices, GEMMs through internal/blas.
//
// Conventions: N = B*T rows; backward kernels ACCUMULATE (+=) into parameter
// gradients and into the input gradient unless the doc says "writes". Kernels
// allocate nothing; callers own every buffer (planned once per shape).
//
// Backend lists the kernels a device implementation must provide, so that a
// GPU backend can replace CPU without touching the network code.
package nn

// Backend is the set of kernels the network is written against.
type Backend interface {
	LayerNormForward(y, mean, rstd, x, w, b []float32, n, c int, eps float32)
	LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd []float32, n, c int)
	LinearForward(y, x, w, b []float32, n, in, out int)
	LinearBackward(dx, dw, db, dy, x, w []float32, n, in, out int)
	GELUForward(y, x []float32)
	GELUBackward(dx, dy, x []float32)
	AttentionForward(out, probs, qkv, scratch []float32, a *Attention)
	AttentionBackward(dqkv, dout, probs, qkv, scratch1, scratch2 []float32, a *Attention)
	CrossEntropy(dlogits, logits []float32, targets []int32, mask []float32, n, v int, scale float32) (lossSum, count float64)
}

// CPU is the goroutine-parallel Go implementation.
type CPU struct{}

var _ Backend = CPU{}

func (CPU) LayerNormForward(y, mean, rstd, x, w, b []float32, n, c int, eps float32) {
	LayerNormForward(y, mean, rstd, x, w, b, n, c, eps)
}
func (CPU) LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd []float32, n, c int) {
	LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd, n, c)
}
func (CPU) LinearForward(y, x, w, b []float32, n, in, out int) { LinearForward(y, x, w, b, n, in, out) }
func (CPU) LinearBackward(dx, dw, db, dy, x, w []float32, n, in, out int) {
	LinearBackward(dx, dw, db, dy, x, w, n, in, out)
}
func (CPU) GELUForward(y, x []float32)       { GELUForward(y, x) }
func (CPU) GELUBackward(dx, dy, x []float32) { GELUBackward(dx, dy, x) }
func (CPU) AttentionForward(out, probs, qkv, scratch []float32, a *Attention) {
	a.Forward(out, probs, qkv, scratch)
}
func (CPU) AttentionBackward(dqkv, dout, probs, qkv, s1, s2 []float32, a *Attention) {
	a.Backward(dqkv, dout, probs, qkv, s1, s2)
}
func (CPU) CrossEntropy(dlogits, logits []float32, targets []int32, mask []float32, n, v int, scale float32) (float64, float64) {
	return CrossEntropy(dlogits, logits, targets, mask, n, v, scale)
}
