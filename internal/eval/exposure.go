package eval

import (
	"math"
	"sort"
)

// ExposureInterpolation is the exact exposure of a canary whose
// log-perplexity is canary, against the log-perplexities of the reference
// candidates: log2|R| - log2(rank), rank = 1 + the number of candidates that
// are more likely than the canary. It is TensorFlow Privacy's
// compute_exposure_interpolation (sorted references, searchsorted).
func ExposureInterpolation(canary float64, reference []float64) float64 {
	ref := append([]float64(nil), reference...)
	sort.Float64s(ref)
	rank := sort.SearchFloat64s(ref, canary) // references strictly below the canary
	return math.Log2(float64(len(ref))) - math.Log2(float64(rank+1))
}

// SkewNormal is a fitted skew-normal distribution (scipy's skewnorm with
// shape a, location loc, scale scale).
type SkewNormal struct{ A, Loc, Scale float64 }

// LogPDF is the log density at x.
func (s SkewNormal) LogPDF(x float64) float64 {
	z := (x - s.Loc) / s.Scale
	return math.Ln2 + logPhi(z) + logNormCDF(s.A*z) - math.Log(s.Scale)
}

// LogCDF is log P(X <= x), computed by integrating the density in log space
// so that the far tail (where a memorised canary lies) keeps its precision.
func (s SkewNormal) LogCDF(x float64) float64 {
	z := (x - s.Loc) / s.Scale
	// The density is negligible 40 standard units below the mode of the
	// integrand; integrate from there to z with the trapezoid rule in log space.
	lo := math.Min(z, 0) - 40
	const steps = 20000
	h := (z - lo) / steps
	if h <= 0 {
		return math.Inf(-1)
	}
	maxv := math.Inf(-1)
	vals := make([]float64, steps+1)
	for i := range vals {
		t := lo + float64(i)*h
		v := math.Ln2 + logPhi(t) + logNormCDF(s.A*t)
		if i == 0 || i == steps {
			v += math.Log(0.5)
		}
		vals[i] = v
		maxv = math.Max(maxv, v)
	}
	var sum float64
	for _, v := range vals {
		sum += math.Exp(v - maxv)
	}
	return maxv + math.Log(sum*h)
}

func logPhi(z float64) float64 { return -0.5*z*z - 0.5*math.Log(2*math.Pi) }

// logNormCDF is log Φ(x), stable for very negative x.
func logNormCDF(x float64) float64 {
	if x > -5 {
		return math.Log(0.5 * math.Erfc(-x/math.Sqrt2))
	}
	// Asymptotic series of the Mills ratio.
	x2 := x * x
	series := 1 - 1/x2 + 3/(x2*x2) - 15/(x2*x2*x2)
	return logPhi(x) - math.Log(-x) + math.Log(series)
}

// FitSkewNormal fits a skew-normal to xs by maximum likelihood (as scipy's
// skewnorm.fit, which TF Privacy's extrapolation uses), starting from the
// method of moments.
func FitSkewNormal(xs []float64) SkewNormal {
	n := float64(len(xs))
	var mean, m2, m3 float64
	for _, x := range xs {
		mean += x
	}
	mean /= n
	for _, x := range xs {
		d := x - mean
		m2 += d * d
		m3 += d * d * d
	}
	m2 /= n
	m3 /= n
	sd := math.Sqrt(m2)
	if sd == 0 {
		return SkewNormal{A: 0, Loc: mean, Scale: 1e-12}
	}
	// Method of moments for the skew-normal (skewness capped at its maximum).
	g := m3 / (sd * sd * sd)
	g = math.Max(-0.99, math.Min(0.99, g))
	c := math.Pow(2*math.Abs(g)/(4-math.Pi), 1.0/3)
	delta := math.Copysign(math.Sqrt(math.Pi/2*c*c/(1+c*c)), g)
	delta = math.Max(-0.995, math.Min(0.995, delta))
	a0 := delta / math.Sqrt(1-delta*delta)
	scale0 := sd / math.Sqrt(1-2*delta*delta/math.Pi)
	loc0 := mean - scale0*delta*math.Sqrt(2/math.Pi)

	nll := func(p []float64) float64 {
		s := SkewNormal{A: p[0], Loc: p[1], Scale: math.Exp(p[2])}
		var sum float64
		for _, x := range xs {
			sum -= s.LogPDF(x)
		}
		return sum
	}
	x, f := nelderMead(nll, []float64{a0, loc0, math.Log(scale0)}, []float64{0.5, 0.1 * scale0, 0.1}, 3000)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return SkewNormal{A: a0, Loc: loc0, Scale: scale0}
	}
	return SkewNormal{A: x[0], Loc: x[1], Scale: math.Exp(x[2])}
}

// nelderMead minimises f from x0 with initial simplex steps (the downhill
// simplex method with standard coefficients), as scipy's fmin does.
func nelderMead(f func([]float64) float64, x0, step []float64, maxIter int) ([]float64, float64) {
	n := len(x0)
	pts := make([][]float64, n+1)
	vals := make([]float64, n+1)
	for i := range pts {
		pts[i] = append([]float64(nil), x0...)
		if i > 0 {
			pts[i][i-1] += step[i-1]
		}
		vals[i] = f(pts[i])
	}
	at := func(c []float64, towards []float64, t float64) []float64 {
		p := make([]float64, n)
		for j := range p {
			p[j] = c[j] + t*(towards[j]-c[j])
		}
		return p
	}
	for it := 0; it < maxIter; it++ {
		sort.Sort(simplex{pts, vals})
		if math.Abs(vals[n]-vals[0]) <= 1e-10*(math.Abs(vals[0])+1e-10) {
			break
		}
		c := make([]float64, n)
		for _, p := range pts[:n] {
			for j := range c {
				c[j] += p[j] / float64(n)
			}
		}
		r := at(c, pts[n], -1)
		fr := f(r)
		switch {
		case fr < vals[0]:
			if e := at(c, pts[n], -2); f(e) < fr {
				pts[n], vals[n] = e, f(e)
			} else {
				pts[n], vals[n] = r, fr
			}
		case fr < vals[n-1]:
			pts[n], vals[n] = r, fr
		default:
			k := at(c, pts[n], 0.5)
			if fk := f(k); fk < vals[n] {
				pts[n], vals[n] = k, fk
				continue
			}
			for i := 1; i <= n; i++ {
				pts[i] = at(pts[0], pts[i], 0.5)
				vals[i] = f(pts[i])
			}
		}
	}
	sort.Sort(simplex{pts, vals})
	return pts[0], vals[0]
}

type simplex struct {
	pts  [][]float64
	vals []float64
}

func (s simplex) Len() int           { return len(s.vals) }
func (s simplex) Less(i, j int) bool { return s.vals[i] < s.vals[j] }
func (s simplex) Swap(i, j int) {
	s.pts[i], s.pts[j] = s.pts[j], s.pts[i]
	s.vals[i], s.vals[j] = s.vals[j], s.vals[i]
}

// ExposureExtrapolation estimates a canary's exposure from a fitted
// distribution of candidate log-perplexities: -log2 P(X <= canary), as TF
// Privacy's compute_exposure_extrapolation does.
func ExposureExtrapolation(canary float64, fit SkewNormal) float64 {
	return -fit.LogCDF(canary) / math.Ln2
}
