package blas

import (
	"math"
	"testing"
)

func TestSgemmMatchesNaive(t *testing.T) {
	m, n, k := 7, 5, 9
	a := make([]float32, m*k)
	b := make([]float32, n*k) // stored as [n,k], used transposed
	for i := range a {
		a[i] = float32(i%13) - 6
	}
	for i := range b {
		b[i] = float32(i%7) * 0.5
	}
	c := make([]float32, m*n)
	for i := range c {
		c[i] = 1
	}
	Sgemm(false, true, m, n, k, 2, a, k, b, k, 0.5, c, n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += a[i*k+p] * b[j*k+p]
			}
			want := 2*s + 0.5
			if math.Abs(float64(c[i*n+j]-want)) > 1e-4 {
				t.Fatalf("c[%d,%d]=%v want %v (backend %s)", i, j, c[i*n+j], want, Backend())
			}
		}
	}
}

func BenchmarkSgemm1024(b *testing.B) {
	const n = 1024
	x := make([]float32, n*n)
	y := make([]float32, n*n)
	z := make([]float32, n*n)
	for i := range x {
		x[i] = float32(i%17) * 0.01
		y[i] = float32(i%11) * 0.01
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Sgemm(false, false, n, n, n, 1, x, n, y, n, 0, z, n)
	}
	b.ReportMetric(2*n*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}
