package privacy

import (
	"fmt"
	"math"
)

// Conversion names a way of turning RDP at several orders into ε for a δ.
// All of them take the minimum over the orders.
type Conversion int

const (
	// Balle is Opacus's get_privacy_spent: Balle et al. (2020), "Hypothesis
	// testing interpretations and Rényi differential privacy", Theorem 21:
	// ε = rdp - (log δ + log α)/(α-1) + log((α-1)/α). The default.
	Balle Conversion = iota
	// TFPrivacy is the same bound as computed by TF Privacy's
	// dp_accounting.RdpAccountant (the one compute_dp_sgd_privacy uses
	// today): ε = 0 when δ² + expm1(-rdp) > 0 (the KL bound), orders
	// α <= 1.01 give +Inf, and ε is clamped at 0.
	TFPrivacy
	// Mironov is the older, looser conversion of Mironov (2017),
	// Proposition 3: ε = rdp - log(δ)/(α-1), which TF Privacy used until
	// 2020 (its test vectors from then, e.g. 0.941870567, use it).
	Mironov
)

func (c Conversion) String() string {
	switch c {
	case Balle:
		return "balle2020"
	case TFPrivacy:
		return "tf-privacy"
	case Mironov:
		return "mironov2017"
	}
	return fmt.Sprintf("Conversion(%d)", int(c))
}

// Epsilon converts RDP values at orders into the smallest ε for delta with
// Opacus's conversion; it returns ε and the order that gave it. When every
// order is undefined it returns +Inf and NaN, as Opacus does.
func Epsilon(orders, rdp []float64, delta float64) (eps, order float64, err error) {
	return EpsilonWith(Balle, orders, rdp, delta)
}

// EpsilonWith is Epsilon with a chosen conversion.
func EpsilonWith(c Conversion, orders, rdp []float64, delta float64) (eps, order float64, err error) {
	if len(orders) != len(rdp) {
		return 0, 0, fmt.Errorf("%d orders but %d RDP values", len(orders), len(rdp))
	}
	if err := checkOrders(orders); err != nil {
		return 0, 0, err
	}
	if !(delta > 0 && delta < 1) {
		return 0, 0, fmt.Errorf("delta %g must be in (0, 1)", delta)
	}
	best, bestOrder := math.NaN(), math.NaN()
	for k, a := range orders {
		r := rdp[k]
		var e float64
		switch c {
		case Balle:
			e = r - (math.Log(delta)+math.Log(a))/(a-1) + math.Log((a-1)/a)
		case TFPrivacy:
			switch {
			case r < 0:
				return 0, 0, fmt.Errorf("negative RDP %g at order %g", r, a)
			case delta*delta+math.Expm1(-r) > 0:
				e = 0
			case a > 1.01:
				e = r + math.Log1p(-1/a) - math.Log(delta*a)/(a-1)
			default:
				e = math.Inf(1)
			}
		case Mironov:
			e = r - math.Log(delta)/(a-1)
		default:
			return 0, 0, fmt.Errorf("unknown conversion %v", c)
		}
		// The first minimum wins, NaNs are skipped (numpy's nanargmin).
		if !math.IsNaN(e) && (math.IsNaN(best) || e < best) {
			best, bestOrder = e, a
		}
	}
	if math.IsNaN(best) {
		return math.Inf(1), math.NaN(), nil
	}
	if c == TFPrivacy && best < 0 {
		best = 0
	}
	return best, bestOrder, nil
}
