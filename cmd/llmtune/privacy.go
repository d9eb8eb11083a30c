package main

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/spf13/cobra"

	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/privacy"
)

// privacyOptions are the flags of `llmtune privacy epsilon|noise`.
type privacyOptions struct {
	noise      float64
	epsilon    float64
	sampleRate float64
	steps      int64
	epochs     float64
	delta      float64
	tolerance  float64
	method     string
}

func init() {
	cmd := &cobra.Command{
		Use:   "privacy",
		Short: "Plan a differentially private run: ε for a noise level, or the noise for an ε",
		Long: `The privacy accountant of DP-SGD training (Rényi DP of the sampled Gaussian
mechanism, converted to (ε, δ) as Opacus does), for planning a run before
starting it. The sample rate is batch size / number of training records.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}

	var eo privacyOptions
	eps := &cobra.Command{
		Use:   "epsilon",
		Short: "Print the ε spent by a number of DP-SGD steps at a noise multiplier",
		Example: `  llmtune privacy epsilon --noise 1.5 --sample-rate 0.04 --steps 2250 --delta 1e-5
  llmtune privacy epsilon --noise 1.1 --sample-rate 0.01 --epochs 3 --delta 1e-6 --json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPrivacyEpsilon(cmd.Context(), eo, output(cmd))
		},
	}
	f := eps.Flags()
	f.Float64Var(&eo.noise, "noise", 0, "noise multiplier σ (noise standard deviation / clipping norm)")
	f.StringVar(&eo.method, "method", "opacus", "accounting: opacus (Opacus's orders and conversion), tf-privacy (TF Privacy's orders and conversion), tf-privacy-2019 (TF Privacy's orders, Mironov 2017's looser conversion)")
	addPrivacyFlags(eps, &eo)

	var no privacyOptions
	noise := &cobra.Command{
		Use:   "noise",
		Short: "Print the noise multiplier that keeps a run within a target ε",
		Example: `  llmtune privacy noise --epsilon 8 --sample-rate 0.04 --epochs 90 --delta 1e-5
  llmtune privacy noise --epsilon 3 --sample-rate 0.01 --steps 1000 --delta 1e-6 --json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPrivacyNoise(cmd.Context(), no, output(cmd))
		},
	}
	f = noise.Flags()
	f.Float64Var(&no.epsilon, "epsilon", 0, "target ε")
	f.Float64Var(&no.tolerance, "tolerance", privacy.DefaultTolerance, "stop when the ε reached is this close below the target (Opacus's epsilon_tolerance)")
	addPrivacyFlags(noise, &no)

	cmd.AddCommand(eps, noise)
	rootCmd.AddCommand(cmd)
}

func addPrivacyFlags(cmd *cobra.Command, o *privacyOptions) {
	f := cmd.Flags()
	f.Float64Var(&o.sampleRate, "sample-rate", 0, "Poisson sampling rate q = batch size / training records")
	f.Int64Var(&o.steps, "steps", 0, "number of training steps")
	f.Float64Var(&o.epochs, "epochs", 0, "number of epochs instead of --steps (steps = int(epochs / q), as Opacus counts)")
	f.Float64Var(&o.delta, "delta", 0, "δ of the (ε, δ) guarantee; keep it below 1/records")
}

// accounting resolves --method into orders and a conversion.
func (o privacyOptions) accounting() ([]float64, privacy.Conversion, error) {
	switch o.method {
	case "opacus":
		return privacy.DefaultOrders, privacy.Balle, nil
	case "tf-privacy":
		return privacy.TFPrivacyOrders, privacy.TFPrivacy, nil
	case "tf-privacy-2019":
		return privacy.TFPrivacyOrders, privacy.Mironov, nil
	}
	return nil, 0, cli.Usagef("--method %q: use opacus, tf-privacy or tf-privacy-2019", o.method)
}

// resolveSteps checks the shared flags and returns the step count.
func (o privacyOptions) resolveSteps() (int64, error) {
	if !(o.sampleRate > 0 && o.sampleRate <= 1) {
		return 0, cli.Usagef("--sample-rate must be in (0, 1] (batch size / training records), got %g", o.sampleRate)
	}
	if !(o.delta > 0 && o.delta < 1) {
		return 0, cli.Usagef("--delta must be in (0, 1) (below 1/records), got %g", o.delta)
	}
	switch {
	case o.steps > 0 && o.epochs > 0:
		return 0, cli.Usagef("give --steps or --epochs, not both")
	case o.epochs > 0:
		s := privacy.StepsForEpochs(o.epochs, o.sampleRate)
		if s <= 0 {
			return 0, cli.Usagef("--epochs %g at --sample-rate %g is less than one step", o.epochs, o.sampleRate)
		}
		return s, nil
	case o.steps > 0:
		return o.steps, nil
	}
	return 0, cli.Usagef("give --steps N (or --epochs E) greater than 0")
}

// epsilonFor is the ε after steps at sigma with the chosen accounting.
func epsilonFor(orders []float64, conv privacy.Conversion, sigma, q float64, steps int64, delta float64) (float64, float64, error) {
	rdp, err := privacy.RDP(q, sigma, steps, orders)
	if err != nil {
		return 0, 0, err
	}
	return privacy.EpsilonWith(conv, orders, rdp, delta)
}

type privacyEpsilonResult struct {
	Epsilon    float64 `json:"epsilon"`
	Order      float64 `json:"order"`
	Noise      float64 `json:"noise"`
	SampleRate float64 `json:"sample_rate"`
	Steps      int64   `json:"steps"`
	Delta      float64 `json:"delta"`
	Method     string  `json:"method"`
}

func runPrivacyEpsilon(_ context.Context, o privacyOptions, out *cli.Output) error {
	orders, conv, err := o.accounting()
	if err != nil {
		return err
	}
	steps, err := o.resolveSteps()
	if err != nil {
		return err
	}
	if !(o.noise > 0) || math.IsInf(o.noise, 1) {
		return cli.Usagef("--noise must be a finite number > 0 (without noise there is no differential privacy), got %g", o.noise)
	}
	eps, order, err := epsilonFor(orders, conv, o.noise, o.sampleRate, steps, o.delta)
	if err != nil {
		return err
	}
	if math.IsInf(eps, 1) || math.IsNaN(order) {
		return fmt.Errorf("ε is infinite at noise %g, sample rate %g, %d steps: no order gives a finite bound", o.noise, o.sampleRate, steps)
	}
	if order == orders[0] || order == orders[len(orders)-1] {
		which := "largest"
		if order == orders[0] {
			which = "smallest"
		}
		out.Warnf("the best RDP order is the %s one (%g): the true ε may be somewhat lower", which, order)
	}
	res := privacyEpsilonResult{Epsilon: eps, Order: order, Noise: o.noise, SampleRate: o.sampleRate, Steps: steps, Delta: o.delta, Method: o.method}
	return out.Result(res, func(w io.Writer) {
		fmt.Fprintf(w, "ε = %.6g for δ = %g after %d steps at noise %g and sample rate %g (RDP order %g, %s accounting)\n",
			eps, o.delta, steps, o.noise, o.sampleRate, order, o.method)
	})
}

type privacyNoiseResult struct {
	Noise      float64 `json:"noise"`
	Epsilon    float64 `json:"epsilon"` // ε actually reached at that noise, <= the target
	Target     float64 `json:"target_epsilon"`
	SampleRate float64 `json:"sample_rate"`
	Steps      int64   `json:"steps"`
	Delta      float64 `json:"delta"`
}

func runPrivacyNoise(_ context.Context, o privacyOptions, out *cli.Output) error {
	steps, err := o.resolveSteps()
	if err != nil {
		return err
	}
	if !(o.epsilon > 0) || math.IsInf(o.epsilon, 1) {
		return cli.Usagef("--epsilon must be a finite number > 0, got %g", o.epsilon)
	}
	if !(o.tolerance > 0) {
		return cli.Usagef("--tolerance must be > 0, got %g", o.tolerance)
	}
	sigma, err := privacy.NoiseMultiplier(o.epsilon, o.delta, o.sampleRate, steps, o.tolerance)
	if err != nil {
		return err
	}
	eps, _, err := privacy.EpsilonFor(sigma, o.sampleRate, steps, o.delta)
	if err != nil {
		return err
	}
	res := privacyNoiseResult{Noise: sigma, Epsilon: eps, Target: o.epsilon, SampleRate: o.sampleRate, Steps: steps, Delta: o.delta}
	return out.Result(res, func(w io.Writer) {
		fmt.Fprintf(w, "noise %.6g keeps %d steps at sample rate %g within ε = %g, δ = %g (reaches ε = %.4g)\n",
			sigma, steps, o.sampleRate, o.epsilon, o.delta, eps)
	})
}
