package train

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/privacy"
)

func dpOptions(t *testing.T) Options {
	o := fakeOptions(t)
	o.Batch, o.DPNoise, o.DPMaxGradNorm, o.ValEvery, o.CheckpointEvery = 4, 0.8, 0.05, 0, 3
	return o
}

func TestDPSampling(t *testing.T) {
	d := &dpState{n: 200, q: 0.05}
	total, first := 0, append([]int(nil), d.sample(1, 0)...)
	const steps = 2000
	for s := 0; s < steps; s++ {
		total += len(d.sample(1, s))
	}
	// Binomial(200·2000, 0.05): mean 20000, sd ≈ 138.
	if math.Abs(float64(total)-20000) > 5*138 {
		t.Fatalf("%d records sampled over %d steps, want about 20000", total, steps)
	}
	again := d.sample(1, 0)
	if len(again) != len(first) || (len(first) > 0 && again[0] != first[0]) {
		t.Fatal("the sample of a step is not a function of (seed, step)")
	}
	same := 0
	for s := 0; s < 50; s++ {
		a := append([]int(nil), d.sample(1, s)...)
		b := d.sample(2, s)
		if len(a) == len(b) {
			same++
		}
	}
	if same == 50 {
		t.Fatal("another seed samples the same records")
	}
}

// TestDPClippedMean recomputes a DP step's gradient independently: each
// sampled record's gradient from the network alone, clipped to C, summed and
// divided by the expected batch size (the noise is made negligible).
func TestDPClippedMean(t *testing.T) {
	o := dpOptions(t)
	o.DPNoise, o.Steps = 1e-12, 1
	var r fakeRun
	_, recs, err := r.run(t, o)
	if err != nil {
		t.Fatal(err)
	}
	blocks := fakeBlocks(21, o.Seq, 7)
	net := newBigram(7, o.Seed, true)
	d := &dpState{n: len(blocks), q: float64(o.Batch) / float64(len(blocks))}
	sum := make([]float64, len(net.params))
	sampled := d.sample(o.Seed, 0)
	if len(sampled) == 0 {
		t.Fatal("step 0 sampled no record; pick another seed for this test")
	}
	clipped := 0
	for key, bi := range sampled {
		net.ZeroGrads()
		b := blocks[bi]
		var count float64
		for _, m := range b.Mask {
			count += float64(m)
		}
		if _, _, err := net.Step(b.Inputs, b.Targets, b.Mask, float32(1/count), uint64(key)); err != nil {
			t.Fatal(err)
		}
		var n2 float64
		for _, g := range net.grads {
			n2 += float64(g) * float64(g)
		}
		f := math.Min(1, o.DPMaxGradNorm/(math.Sqrt(n2)+1e-6))
		if f < 1 {
			clipped++
		}
		for i, g := range net.grads {
			sum[i] += f * float64(g)
		}
	}
	var n2 float64
	for _, v := range sum {
		n2 += v * v
	}
	want := math.Sqrt(n2) / float64(o.Batch)
	if clipped == 0 || len(recs) == 0 || math.Abs(recs[0].GradNorm-want) > 1e-6*want {
		t.Fatalf("DP step gradient norm %v, independent clipped mean %v (%d of %d clipped)", recs[0].GradNorm, want, clipped, len(sampled))
	}
	if len(recs) == 0 || recs[0].Epsilon == nil {
		t.Fatalf("no ε in the metrics: %+v", recs)
	}
}

func TestDPAccountingAndBudget(t *testing.T) {
	o := dpOptions(t)
	o.Steps = 6
	var r fakeRun
	sum, recs, err := r.run(t, o)
	if err != nil {
		t.Fatal(err)
	}
	n := 21.0
	want, _, err := privacy.EpsilonFor(0.8, 4/n, 6, 0.1/n)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Privacy == nil || sum.Privacy.Epsilon != want || *recs[5].Epsilon != want || sum.Privacy.Delta != 0.1/n {
		t.Fatalf("ε %+v, want %v after 6 steps", sum.Privacy, want)
	}
	if _, err := os.Stat(filepath.Join(o.Out, "privacy.json")); err != nil {
		t.Fatal(err)
	}
	// A budget below what 6 steps spend stops the run before exceeding it.
	o.Out, o.DPEpsilon = t.TempDir(), want*0.7
	var r2 fakeRun
	sum, _, err = r2.run(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Steps >= 6 || sum.Steps == 0 || sum.Privacy.Epsilon > o.DPEpsilon {
		t.Fatalf("budget %v: ran %d steps spending %v", o.DPEpsilon, sum.Steps, sum.Privacy.Epsilon)
	}
}

func TestDPResume(t *testing.T) {
	o := dpOptions(t)
	var full fakeRun
	_, want, err := full.run(t, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Out = t.TempDir()
	cut := fakeRun{cancelAt: 1}
	if _, _, err := cut.run(t, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	o.Resume = true
	var again fakeRun
	sum, got, err := again.run(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ResumedFrom == 0 || len(got) != len(want) {
		t.Fatalf("resumed from %d, %d lines (want %d)", sum.ResumedFrom, len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Loss != g.Loss || w.GradNorm != g.GradNorm || (w.Epsilon == nil) != (g.Epsilon == nil) ||
			(w.Epsilon != nil && *w.Epsilon != *g.Epsilon) {
			t.Fatalf("line %d: resumed %+v, uninterrupted %+v", i, got[i], want[i])
		}
	}
}

func TestDPOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{"delta at 1/N", func(o *Options) { o.DPDelta = 1.0 / 21 }},
		{"no clipping norm", func(o *Options) { o.DPMaxGradNorm = 0 }},
		{"batch over records", func(o *Options) { o.Batch = 22 }},
		{"accumulation", func(o *Options) { o.GradAccum = 2 }},
	}
	for _, tc := range tests {
		o := dpOptions(t)
		tc.edit(&o)
		err := o.resolve()
		if err == nil {
			_, _, err = newDP(o, 21)
		}
		if cli.CodeOf(err) != cli.ExitUsage {
			t.Errorf("%s: got %v, want a usage error", tc.name, err)
		}
	}
}
