// Package privacy is the accountant for DP-SGD: the Rényi differential
// privacy (RDP) of the sampled Gaussian mechanism, its composition over
// training steps, the conversion to an (ε, δ) guarantee, and the search for
// the noise multiplier that reaches a target ε.
//
// The arithmetic follows Opacus (opacus/accountants/analysis/rdp.py), itself
// a port of TensorFlow Privacy's rdp_accountant.py, so that a user who plans
// a run with Opacus or TF Privacy gets the same numbers here: the RDP of one
// step is log(A_α)/(α-1) with A_α from Mironov, Talwar and Zhang (2019),
// "Rényi Differential Privacy of the Sampled Gaussian Mechanism", section
// 3.3: a finite binomial sum for integer α and a convergent two-sided series
// for fractional α, both evaluated in log space.
package privacy

import (
	"fmt"
	"math"
)

// DefaultOrders are Opacus's RDPAccountant.DEFAULT_ALPHAS:
// [1 + x/10 for x in 1..99] + [12..63].
var DefaultOrders = func() []float64 {
	o := make([]float64, 0, 99+52)
	for x := 1; x < 100; x++ {
		o = append(o, 1+float64(x)/10.0)
	}
	for a := 12; a < 64; a++ {
		o = append(o, float64(a))
	}
	return o
}()

// TFPrivacyOrders are the orders of TensorFlow Privacy's
// compute_dp_sgd_privacy: 1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5,
// 5..63, 128, 256, 512.
var TFPrivacyOrders = func() []float64 {
	o := []float64{1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5}
	for a := 5; a < 64; a++ {
		o = append(o, float64(a))
	}
	return append(o, 128, 256, 512)
}()

// maxSeriesTerms bounds the fractional-order series; it converges long
// before this for any sampling rate and noise a training run can use.
const maxSeriesTerms = 1_000_000

// logAdd returns log(exp(x) + exp(y)).
func logAdd(x, y float64) float64 {
	a, b := math.Min(x, y), math.Max(x, y)
	if math.IsInf(a, -1) {
		return b
	}
	return math.Log1p(math.Exp(a-b)) + b
}

// logSub returns log(exp(x) - exp(y)) for x >= y.
func logSub(x, y float64) (float64, error) {
	if x < y {
		return math.NaN(), fmt.Errorf("log-space subtraction would be negative")
	}
	if math.IsInf(y, -1) {
		return x, nil
	}
	if x == y {
		return math.Inf(-1), nil
	}
	d := math.Expm1(x - y)
	if math.IsInf(d, 1) {
		return x, nil // exp(y) is negligible next to exp(x)
	}
	return math.Log(d) + y, nil
}

// logErfc is log(erfc(x)), accurate where erfc(x) underflows.
func logErfc(x float64) float64 {
	if x < 20 {
		return math.Log(math.Erfc(x))
	}
	// Laurent series of the tail at infinity (as TF Privacy's fallback):
	// erfc(x) ~ exp(-x²-.5/x²+.625/x⁴-...)/(x√π).
	x2 := x * x
	return -math.Log(math.Pi)/2 - math.Log(x) - x2 - 0.5/x2 + 0.625/(x2*x2) -
		37.0/24.0/(x2*x2*x2) + 353.0/64.0/(x2*x2*x2*x2)
}

// logBinomInt is log C(n, k) for integers 0 <= k <= n.
func logBinomInt(n, k int) float64 {
	if k > n-k {
		k = n - k
	}
	// The running product C(n-k+i, i) is an integer at every step, so it is
	// exact up to 2^53 and correctly rounded after.
	c := 1.0
	for i := 1; i <= k; i++ {
		c = c * float64(n-k+i) / float64(i)
	}
	if math.IsInf(c, 0) {
		a, _ := math.Lgamma(float64(n + 1))
		b, _ := math.Lgamma(float64(k + 1))
		d, _ := math.Lgamma(float64(n - k + 1))
		return a - b - d
	}
	return math.Log(c)
}

// logAInt is log(A_α) for integer α: the binomial expansion
// A_α = Σ_i C(α,i) q^i (1-q)^(α-i) exp((i²-i)/(2σ²)).
func logAInt(q, sigma float64, alpha int) float64 {
	logA := math.Inf(-1)
	lq, l1q := math.Log(q), math.Log(1-q)
	for i := 0; i <= alpha; i++ {
		fi := float64(i)
		s := logBinomInt(alpha, i) + fi*lq + float64(alpha-i)*l1q + (fi*fi-fi)/(2*sigma*sigma)
		logA = logAdd(logA, s)
	}
	return logA
}

// logAFrac is log(A_α) for fractional α: the integral is split at z0 and
// each half expanded as a series in the generalised binomial coefficients
// C(α, i), summed until both new terms are below e^-30.
func logAFrac(q, sigma, alpha float64) (float64, error) {
	logA0, logA1 := math.Inf(-1), math.Inf(-1)
	z0 := sigma*sigma*math.Log(1/q-1) + 0.5
	lq, l1q := math.Log(q), math.Log(1-q)
	coef := 1.0 // C(α, 0)
	for i := 0; ; i++ {
		if i > 0 {
			coef = coef * (alpha - float64(i) + 1) / float64(i)
		}
		if i > maxSeriesTerms {
			return math.NaN(), fmt.Errorf("RDP series at order %g did not converge (q=%g, σ=%g)", alpha, q, sigma)
		}
		fi := float64(i)
		j := alpha - fi
		logCoef := math.Log(math.Abs(coef))
		logT0 := logCoef + fi*lq + j*l1q
		logT1 := logCoef + j*lq + fi*l1q
		logE0 := math.Log(0.5) + logErfc((fi-z0)/(math.Sqrt2*sigma))
		logE1 := math.Log(0.5) + logErfc((z0-j)/(math.Sqrt2*sigma))
		logS0 := logT0 + (fi*fi-fi)/(2*sigma*sigma) + logE0
		logS1 := logT1 + (j*j-j)/(2*sigma*sigma) + logE1
		if coef > 0 {
			logA0 = logAdd(logA0, logS0)
			logA1 = logAdd(logA1, logS1)
		} else {
			var err error
			if logA0, err = logSub(logA0, logS0); err != nil {
				return math.NaN(), fmt.Errorf("RDP series at order %g: %w", alpha, err)
			}
			if logA1, err = logSub(logA1, logS1); err != nil {
				return math.NaN(), fmt.Errorf("RDP series at order %g: %w", alpha, err)
			}
		}
		if math.Max(logS0, logS1) < -30 {
			break
		}
	}
	return logAdd(logA0, logA1), nil
}

// stepRDP is the RDP at order alpha of one step of the sampled Gaussian
// mechanism with sampling rate q and noise multiplier sigma; it may be +Inf.
func stepRDP(q, sigma, alpha float64) (float64, error) {
	switch {
	case q == 0:
		return 0, nil
	case sigma == 0:
		return math.Inf(1), nil
	case q == 1:
		return alpha / (2 * sigma * sigma), nil
	case math.IsInf(alpha, 1):
		return math.Inf(1), nil
	}
	if alpha == math.Trunc(alpha) && alpha < 1<<30 {
		return logAInt(q, sigma, int(alpha)) / (alpha - 1), nil
	}
	la, err := logAFrac(q, sigma, alpha)
	if err != nil {
		return math.NaN(), err
	}
	return la / (alpha - 1), nil
}

func checkMechanism(q, sigma float64, steps int64) error {
	switch {
	case !(q >= 0 && q <= 1):
		return fmt.Errorf("sample rate %g is outside [0, 1]", q)
	case !(sigma >= 0) || math.IsInf(sigma, 1):
		return fmt.Errorf("noise multiplier %g must be a finite number >= 0", sigma)
	case steps < 0:
		return fmt.Errorf("steps %d must be >= 0", steps)
	}
	return nil
}

func checkOrders(orders []float64) error {
	if len(orders) == 0 {
		return fmt.Errorf("no RDP orders given")
	}
	for _, a := range orders {
		if !(a > 1) {
			return fmt.Errorf("RDP order %g must be > 1", a)
		}
	}
	return nil
}

// RDP returns the RDP, at each order, of steps compositions of the sampled
// Gaussian mechanism (Opacus's compute_rdp): step RDP times steps.
func RDP(q, sigma float64, steps int64, orders []float64) ([]float64, error) {
	if err := checkMechanism(q, sigma, steps); err != nil {
		return nil, err
	}
	if err := checkOrders(orders); err != nil {
		return nil, err
	}
	out := make([]float64, len(orders))
	for k, a := range orders {
		r, err := stepRDP(q, sigma, a)
		if err != nil {
			return nil, err
		}
		out[k] = r * float64(steps)
	}
	return out, nil
}
