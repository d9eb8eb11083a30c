package nn

import (
	"runtime"
	"sync"

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
