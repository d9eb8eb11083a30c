package nn

import (
	"runtime"
	"sync"

	gblas "gonum.org/v1/gonum/blas"

	"github.com/llmtune/llmtune/internal/blas"
)

// Gemm is blas.Sgemm (row-major C = alpha·op(A)·op(B) + beta·C, op(A) m×k,
// op(B) k×n) split across the cores by this package's goroutines: the larger
// of m and n is cut into one block per core and each block is a
// single-threaded SGEMM. With blas.SetThreads(1) this keeps one kind of
// worker on the cores: OpenBLAS's own threads spin-wait after each call,
// which steals the cores from the Go kernels that run between GEMMs.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	workers := runtime.GOMAXPROCS(0)
	if workers == 1 || m*n*k < 1<<18 || blas.Threads() > 1 {
		blas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	var wg sync.WaitGroup
	if m >= n {
		// Split the rows of op(A) and C.
		for w := 0; w < workers; w++ {
			lo, hi := m*w/workers, m*(w+1)/workers
			if lo == hi {
				continue
			}
			ao := lo * lda
			if transA {
				ao = lo
			}
			job := func() {
				blas.Sgemm(transA, transB, hi-lo, n, k, alpha, a[ao:], lda, b, ldb, beta, c[lo*ldc:], ldc)
			}
			if w == workers-1 {
				job()
			} else {
				wg.Add(1)
				go func() { defer wg.Done(); job() }()
			}
		}
	} else {
		// Split the columns of op(B) and C.
		for w := 0; w < workers; w++ {
			lo, hi := n*w/workers, n*(w+1)/workers
			if lo == hi {
				continue
			}
			bo := lo
			if transB {
				bo = lo * ldb
			}
			job := func() {
				blas.Sgemm(transA, transB, m, hi-lo, k, alpha, a, lda, b[bo:], ldb, beta, c[lo:], ldc)
			}
			if w == workers-1 {
				job()
			} else {
				wg.Add(1)
				go func() { defer wg.Done(); job() }()
			}
		}
	}
	wg.Wait()
}

// UseGoThreads makes OpenBLAS single-threaded so that Gemm and the kernels
// parallelise with goroutines instead (see Gemm). Measured on the 2-core
// machine: BenchmarkTrainStep124M's go-threads vs openblas-threads.
func UseGoThreads() { blas.SetThreads(1) }

// gemver is the level-2 routine both BLAS backends provide.
type gemver interface {
	Sgemv(tA gblas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int)
}

// Gemv is y = alpha·op(A)·x + beta·y for row-major A [m, n] (op(A) = Aᵀ
// when trans), split across the cores along y. Decoding one position is a
// matrix-vector product: SGEMM with one row costs about 5x more than SGEMV
// (it packs the whole weight matrix each call).
func Gemv(trans bool, m, n int, alpha float32, a []float32, lda int, x []float32, beta float32, y []float32) {
	g, ok := blas.Impl.(gemver)
	if !ok {
		if trans {
			Gemm(false, false, 1, n, m, alpha, x, m, a, lda, beta, y, n)
		} else {
			Gemm(false, true, 1, m, n, alpha, x, n, a, lda, beta, y, m)
		}
		return
	}
	outLen := m
	if trans {
		outLen = n
	}
	parallelBLAS(outLen, m*n/outLen*4, func(lo, hi int) {
		if trans {
			g.Sgemv(gblas.Trans, m, hi-lo, alpha, a[lo:], lda, x, 1, beta, y[lo:hi], 1)
		} else {
			g.Sgemv(gblas.NoTrans, hi-lo, n, alpha, a[lo*lda:], lda, x, 1, beta, y[lo:hi], 1)
		}
	})
}
