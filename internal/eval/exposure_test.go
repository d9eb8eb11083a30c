package eval

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TensorFlow Privacy's exposures_test: reference perplexities 1..16.
func TestExposureInterpolationTFPrivacyVectors(t *testing.T) {
	ref := make([]float64, 16)
	for i := range ref {
		ref[i] = float64(i + 1)
	}
	for _, c := range []struct{ canary, want float64 }{
		{0, 4}, {0.1, 4}, {3.5, 2}, {20, 4 - math.Log2(17)},
	} {
		if got := ExposureInterpolation(c.canary, ref); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("canary %v: exposure %v want %v", c.canary, got, c.want)
		}
	}
}

// A skew-normal sample is fitted back to its parameters, and extrapolated
// exposure agrees with the exact rank where the sample is dense.
func TestSkewNormalFitAndExtrapolation(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	want := SkewNormal{A: 3, Loc: 20, Scale: 4}
	delta := want.A / math.Sqrt(1+want.A*want.A)
	xs := make([]float64, 10000)
	for i := range xs {
		u0, v := r.NormFloat64(), r.NormFloat64()
		u1 := delta*u0 + math.Sqrt(1-delta*delta)*v
		if u0 < 0 {
			u1 = -u1
		}
		xs[i] = want.Loc + want.Scale*u1
	}
	fit := FitSkewNormal(xs)
	if math.Abs(fit.A-want.A) > 0.6 || math.Abs(fit.Loc-want.Loc) > 0.4 || math.Abs(fit.Scale-want.Scale) > 0.4 {
		t.Fatalf("fit %+v, want about %+v", fit, want)
	}
	// The CDF integrates the density: at the location of a symmetric fit it is 1/2,
	// and it matches Φ for a = 0.
	normal := SkewNormal{A: 0, Loc: 0, Scale: 1}
	for _, z := range []float64{-3, -1, 0, 1.5} {
		if got, w := math.Exp(normal.LogCDF(z)), 0.5*math.Erfc(-z/math.Sqrt2); math.Abs(got-w) > 1e-6 {
			t.Fatalf("cdf(%v) = %v want %v", z, got, w)
		}
	}
	// Far tail: log Φ(-20) = -203.917...
	if got := normal.LogCDF(-20); math.Abs(got-(-203.91715537109)) > 1e-3 {
		t.Fatalf("log cdf(-20) = %v", got)
	}
	for _, q := range []float64{0.01, 0.1, 0.5} {
		sorted := append([]float64(nil), xs...)
		x := quantile(sorted, q)
		exact := ExposureInterpolation(x, xs)
		if got := ExposureExtrapolation(x, fit); math.Abs(got-exact) > 0.25 {
			t.Errorf("quantile %v: extrapolated %v exact %v", q, got, exact)
		}
	}
}
