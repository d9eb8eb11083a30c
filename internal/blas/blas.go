// Package blas selects the BLAS implementation that every GEMM in llmtune goes
// through: OpenBLAS via cgo when built with the "openblas" tag (the Makefile
// does this when libopenblas is installed), gonum's pure-Go BLAS otherwise.
// Both Gorgonia and the hand-written kernels call the same implementation.
package blas

import (
	"gonum.org/v1/gonum/blas"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Impl is the float32 level-3 BLAS every kernel uses.
var Impl blas.Float32Level3 = impl

func init() {
	tensor.Use(impl)
	gorgonia.Use(impl)
}

// Backend names the implementation in use: "openblas" or "gonum".
func Backend() string { return backend }

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices,
// where op(A) is m×k and op(B) is k×n.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	Impl.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
