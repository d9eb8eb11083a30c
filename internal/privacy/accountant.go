package privacy

import (
	"fmt"
	"math"
)

// Phase is a run of steps with the same noise multiplier and sampling rate.
type Phase struct {
	Noise      float64 `json:"noise_multiplier"`
	SampleRate float64 `json:"sample_rate"`
	Steps      int64   `json:"steps"`
}

// Accountant tracks the privacy spent by DP-SGD steps, like Opacus's
// RDPAccountant. Its History is plain data so that a resumed run can restore
// it from a checkpoint. The zero value is ready to use with DefaultOrders.
type Accountant struct {
	History []Phase   `json:"history"`
	Orders  []float64 `json:"orders,omitempty"` // nil means DefaultOrders
}

// Step records one step; consecutive steps with equal parameters are merged.
func (a *Accountant) Step(noise, sampleRate float64) { a.Add(noise, sampleRate, 1) }

// Add records n steps at once.
func (a *Accountant) Add(noise, sampleRate float64, n int64) {
	if n <= 0 {
		return
	}
	if k := len(a.History) - 1; k >= 0 && a.History[k].Noise == noise && a.History[k].SampleRate == sampleRate {
		a.History[k].Steps += n
		return
	}
	a.History = append(a.History, Phase{noise, sampleRate, n})
}

// Steps is the number of steps recorded.
func (a *Accountant) Steps() int64 {
	var n int64
	for _, p := range a.History {
		n += p.Steps
	}
	return n
}

func (a *Accountant) orders() []float64 {
	if len(a.Orders) == 0 {
		return DefaultOrders
	}
	return a.Orders
}

// RDP is the composed RDP at each order: the sum over phases.
func (a *Accountant) RDP() ([]float64, error) {
	orders := a.orders()
	total := make([]float64, len(orders))
	for _, p := range a.History {
		r, err := RDP(p.SampleRate, p.Noise, p.Steps, orders)
		if err != nil {
			return nil, err
		}
		for k := range total {
			total[k] += r[k]
		}
	}
	return total, nil
}

// Epsilon is the ε spent so far for delta and the order that gave it, with
// Opacus's conversion. With no steps recorded nothing has been spent and it
// returns 0 (Opacus would report the conversion's offset for zero RDP).
func (a *Accountant) Epsilon(delta float64) (eps, order float64, err error) {
	return a.EpsilonWith(Balle, delta)
}

// EpsilonWith is Epsilon with a chosen conversion.
func (a *Accountant) EpsilonWith(c Conversion, delta float64) (eps, order float64, err error) {
	if a.Steps() == 0 {
		return 0, math.NaN(), nil
	}
	rdp, err := a.RDP()
	if err != nil {
		return 0, 0, err
	}
	return EpsilonWith(c, a.orders(), rdp, delta)
}

// EpsilonFor is the ε after steps steps at one noise and sampling rate,
// with Opacus's default orders and conversion.
func EpsilonFor(noise, sampleRate float64, steps int64, delta float64) (eps, order float64, err error) {
	acc := Accountant{History: []Phase{{noise, sampleRate, steps}}}
	if steps == 0 {
		return 0, math.NaN(), nil
	}
	return acc.Epsilon(delta)
}

// StepsForEpochs is how Opacus turns epochs into steps: int(epochs / q).
func StepsForEpochs(epochs, sampleRate float64) int64 {
	return int64(epochs / sampleRate)
}

// DefaultTolerance is Opacus's epsilon_tolerance for the noise search.
const DefaultTolerance = 0.01

// maxNoise is Opacus's MAX_SIGMA: beyond it the budget is called too low.
const maxNoise = 1e6

// NoiseMultiplier finds the noise multiplier that keeps the ε after steps
// steps at sampleRate at or below targetEps for delta, exactly as Opacus's
// get_noise_multiplier does: double from 10 until the target is met, then
// bisect until the ε reached is within tolerance below the target. The
// result errs on the side of more noise (its ε never exceeds the target).
func NoiseMultiplier(targetEps, delta, sampleRate float64, steps int64, tolerance float64) (float64, error) {
	switch {
	case !(targetEps > 0) || math.IsInf(targetEps, 1):
		return 0, fmt.Errorf("target epsilon %g must be a finite number > 0", targetEps)
	case !(tolerance > 0):
		return 0, fmt.Errorf("tolerance %g must be > 0", tolerance)
	case !(sampleRate > 0 && sampleRate <= 1):
		return 0, fmt.Errorf("sample rate %g must be in (0, 1]", sampleRate)
	case steps <= 0:
		return 0, fmt.Errorf("steps %d must be > 0", steps)
	}
	eps := func(sigma float64) (float64, error) {
		e, _, err := EpsilonFor(sigma, sampleRate, steps, delta)
		return e, err
	}
	epsHigh := math.Inf(1)
	sigmaLow, sigmaHigh := 0.0, 10.0
	for epsHigh > targetEps {
		sigmaHigh *= 2
		e, err := eps(sigmaHigh)
		if err != nil {
			return 0, err
		}
		epsHigh = e
		if sigmaHigh > maxNoise {
			return 0, fmt.Errorf("the privacy budget ε=%g, δ=%g is too low for %d steps at sample rate %g: no noise multiplier up to %g reaches it",
				targetEps, delta, steps, sampleRate, maxNoise)
		}
	}
	for targetEps-epsHigh > tolerance && sigmaHigh-sigmaLow > 1e-12 {
		sigma := (sigmaLow + sigmaHigh) / 2
		e, err := eps(sigma)
		if err != nil {
			return 0, err
		}
		if e < targetEps {
			sigmaHigh, epsHigh = sigma, e
		} else {
			sigmaLow = sigma
		}
	}
	return sigmaHigh, nil
}
