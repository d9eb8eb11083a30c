package train

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/model"
)

func quiet() *cli.Output { return &cli.Output{Stdout: io.Discard, Stderr: io.Discard} }

// TestAdamWMatchesTorch compares three AdamW steps with decay on one tensor
// and not on the other against torch.optim.AdamW (torch 1.13, two param
// groups, lr changing per step, betas (0.9, 0.95), eps 1e-6, wd 0.1).
func TestAdamWMatchesTorch(t *testing.T) {
	lay := &model.Layout{Total: 6, Tensors: []model.Tensor{
		{Name: "w", Offset: 0, Size: 4, Decay: true}, {Name: "b", Offset: 4, Size: 2}}}
	p := []float32{0.5, -1.0, 2.0, 0.25, 0.1, -0.3}
	a := newAdamW(lay, 0.9, 0.95, 1e-6, 0.1)
	steps := []struct {
		grad []float32
		lr   float64
		want []float32
	}{
		{[]float32{0.3, -0.2, 0.0, 1.5, 0.05, -2.0}, 0.01,
			[]float32{0.489500046, -0.989000082, 1.99800003, 0.239750013, 0.0900001973, -0.290000021}},
		{[]float32{-0.1, 0.4, 0.2, 1.0, 0.5, 0.5}, 0.005,
			[]float32{0.487233758, -0.990322411, 1.99332619, 0.234754741, 0.0860135704, -0.287626207}},
		{[]float32{0.0, 0.0, -3.0, 0.2, -0.1, 1.0}, 0.02,
			[]float32{0.479927927, -0.994032204, 2.00103164, 0.217682645, 0.0762741119, -0.2866638}},
	}
	for i, s := range steps {
		a.update(p, s.grad, s.lr, 1)
		for j := range p {
			if d := math.Abs(float64(p[j] - s.want[j])); d > 2e-7 {
				t.Fatalf("step %d param %d: got %.9g, torch %.9g", i+1, j, p[j], s.want[j])
			}
		}
	}
}

// TestClipMatchesTorch: clip_grad_norm_([3,4,0,12], 1.0) returns 13 and
// scales by 1/(13+1e-6); a norm under the limit is left alone.
func TestClipMatchesTorch(t *testing.T) {
	g := []float32{3, 4, 0, 12}
	work := []span{{0, 2, true}, {2, 4, false}}
	n := globalNorm(work, g)
	if n != 13 {
		t.Fatalf("norm %v, want 13", n)
	}
	c := clipScale(n, 1)
	want := []float32{0.230769217, 0.307692289, 0, 0.923076868}
	for i := range g {
		if math.Abs(float64(g[i]*c-want[i])) > 1e-7 {
			t.Fatalf("clipped %v, torch %v", g[i]*c, want[i])
		}
	}
	if clipScale(0.5, 1) != 1 || clipScale(5, 0) != 1 {
		t.Fatal("scaled a norm under the limit, or with clipping off")
	}
}

// TestSchedule checks the rates against the formulas written out by hand
// for peak 1, floor 0.1, 2 warm-up steps and 7 steps (decay over steps 2..6,
// progress (step-2)/5, the floor reached at step 7).
func TestSchedule(t *testing.T) {
	cos := func(p float64) float64 { return 0.1 + 0.9*0.5*(1+math.Cos(math.Pi*p)) }
	tests := []struct {
		kind string
		want []float64
	}{
		{"constant", []float64{0.5, 1, 1, 1, 1, 1, 1, 1}},
		{"linear", []float64{0.5, 1, 1, 0.82, 0.64, 0.46, 0.28, 0.1, 0.1}},
		{"cosine", []float64{0.5, 1, 1, cos(0.2), cos(0.4), cos(0.6), cos(0.8), 0.1, 0.1}},
	}
	for _, tc := range tests {
		s, err := newSchedule(tc.kind, 1, 0.1, 2, 7)
		if err != nil {
			t.Fatal(err)
		}
		for step, w := range tc.want {
			if got := s.at(step); math.Abs(got-w) > 1e-12 {
				t.Errorf("%s step %d: %v, want %v", tc.kind, step, got, w)
			}
		}
	}
	if _, err := newSchedule("exponential", 1, 0, 0, 1); err == nil {
		t.Error("unknown schedule accepted")
	}
}

func TestPermutation(t *testing.T) {
	a, b, c := make([]int, 50), make([]int, 50), make([]int, 50)
	permutation(a, 7, 0)
	permutation(b, 7, 0)
	permutation(c, 7, 1)
	if !slices.Equal(a, b) {
		t.Fatal("same seed and epoch gave different orders")
	}
	if slices.Equal(a, c) {
		t.Fatal("epochs 0 and 1 have the same order")
	}
	s := slices.Clone(a)
	slices.Sort(s)
	for i, v := range s {
		if v != i {
			t.Fatalf("not a permutation: %v", a)
		}
	}
	// The stream crosses epochs inside one batch and resumes from a cursor.
	st := newStream(3, 7, cursor{})
	idx := make([]int, 5)
	st.next(idx)
	if st.at != (cursor{Epoch: 1, Index: 2}) {
		t.Fatalf("cursor after 5 of 3: %+v", st.at)
	}
	rest := make([]int, 4)
	st.next(rest)
	again := newStream(3, 7, cursor{Epoch: 1, Index: 2})
	rest2 := make([]int, 4)
	again.next(rest2)
	if !slices.Equal(rest, rest2) {
		t.Fatalf("resumed stream %v, uninterrupted %v", rest2, rest)
	}
}

// fakeOptions is a small run of the bigram network.
func fakeOptions(t *testing.T) Options {
	o := Defaults()
	o.Init, o.Data, o.Out = "fake", "fake", t.TempDir()
	o.Steps, o.Batch, o.Seq, o.LR, o.Warmup, o.Seed = 12, 2, 8, 0.05, 2, 3
	o.CheckpointEvery, o.ValEvery, o.KeepCheckpoints = 4, 3, 2
	return o
}

type fakeRun struct {
	net      *bigram
	w        *bigramWeights
	cancelAt uint64 // cancel the context when this dropout key is reached (0: never)
	cancel   context.CancelFunc
}

type hooked struct {
	*bigram
	r *fakeRun
}

func (h hooked) Step(in, tg []int32, m []float32, s float32, key uint64) (float64, float64, error) {
	if h.r.cancelAt != 0 && key == h.r.cancelAt {
		h.r.cancel()
	}
	return h.bigram.Step(in, tg, m, s, key)
}

func (r *fakeRun) run(t *testing.T, o Options) (Summary, []record, error) {
	t.Helper()
	if err := o.resolve(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.cancel = cancel
	r.net = newBigram(7, o.Seed, !o.NoDropout)
	r.w = &bigramWeights{n: r.net}
	s := session{net: hooked{r.net, r}, w: r.w, train: fakeBlocks(21, o.Seq, 7), val: fakeBlocks(5, o.Seq, 7)[1:],
		final: func(run runDir) (string, string, error) {
			return run.path("final"), "", r.w.save(os.ExpandEnv(mkdir(t, run.path("final"))))
		}}
	sum, err := trainSession(ctx, o, s, quiet())
	recs, _ := readMetrics(filepath.Join(o.Out, "metrics.jsonl"))
	return sum, recs, err
}

func mkdir(t *testing.T, p string) string {
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func losses(recs []record) []float64 {
	var out []float64
	for _, r := range recs {
		out = append(out, r.Loss)
		if r.ValLoss != nil {
			out = append(out, *r.ValLoss)
		}
	}
	return out
}

func TestSameSeedSameLosses(t *testing.T) {
	o := fakeOptions(t)
	var r1, r2, r3 fakeRun
	s1, m1, err := r1.run(t, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Out = t.TempDir()
	_, m2, err := r2.run(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(m1) != 13 || !slices.Equal(losses(m1), losses(m2)) {
		t.Fatalf("two runs with one seed differ:\n%v\n%v", losses(m1), losses(m2))
	}
	if s1.Steps != 12 || s1.FinalLoss != m1[11].Loss || s1.ValLoss == nil || !m1[12].Final {
		t.Fatalf("summary %+v does not match the log", s1)
	}
	// The loss must actually fall on this learnable data.
	if !(m1[11].Loss < m1[0].Loss-0.1) {
		t.Fatalf("loss did not fall: %v", losses(m1))
	}
	o.Out, o.Seed = t.TempDir(), 4
	_, m3, err := r3.run(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(losses(m1), losses(m3)) {
		t.Fatal("another seed gave the same losses")
	}
}

// TestResumeEqualsUninterrupted interrupts a run (as SIGINT does) in the
// middle of a step, resumes it and compares every logged figure.
func TestResumeEqualsUninterrupted(t *testing.T) {
	for _, accum := range []int{1, 2} {
		o := fakeOptions(t)
		o.GradAccum = accum
		var full fakeRun
		_, want, err := full.run(t, o)
		if err != nil {
			t.Fatal(err)
		}
		o.Out = t.TempDir()
		cut := fakeRun{cancelAt: uint64(6 * accum)} // during step 7: it finishes, then the checkpoint
		_, _, err = cut.run(t, o)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted run: %v", err)
		}
		if _, err := os.Stat(runDir(o.Out).step(7)); err != nil {
			t.Fatalf("no checkpoint on interrupt: %v", err)
		}
		o.Resume = true
		var again fakeRun
		sum, got, err := again.run(t, o)
		if err != nil {
			t.Fatal(err)
		}
		if sum.ResumedFrom != 7 || len(got) != len(want) {
			t.Fatalf("resumed from %d with %d lines, want 7 and %d", sum.ResumedFrom, len(got), len(want))
		}
		for i := range want {
			w, g := want[i], got[i]
			w.TokensPerS, g.TokensPerS = 0, 0
			if w.Step != g.Step || w.Loss != g.Loss || w.LR != g.LR || w.GradNorm != g.GradNorm || w.Epoch != g.Epoch ||
				(w.ValLoss == nil) != (g.ValLoss == nil) || (w.ValLoss != nil && *w.ValLoss != *g.ValLoss) {
				t.Fatalf("accum %d line %d: resumed %+v, uninterrupted %+v", accum, i, g, w)
			}
		}
		if !slices.Equal(full.net.params, again.net.params) {
			t.Fatal("final parameters differ")
		}
	}
}

// TestGradAccumulation: two micro-batches of 2 make the same step as one
// batch of 4 (no dropout, so the two differ only in summation order).
func TestGradAccumulation(t *testing.T) {
	o := fakeOptions(t)
	o.NoDropout, o.Steps, o.ValEvery = true, 3, 0
	o.Batch, o.GradAccum = 4, 1
	var a, b fakeRun
	_, ma, err := a.run(t, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Out, o.Batch, o.GradAccum = t.TempDir(), 2, 2
	_, mb, err := b.run(t, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ma {
		if math.Abs(ma[i].Loss-mb[i].Loss) > 1e-6 {
			t.Fatalf("step %d: batch 4 loss %v, 2x2 %v", i+1, ma[i].Loss, mb[i].Loss)
		}
	}
	for i := range a.net.params {
		if math.Abs(float64(a.net.params[i]-b.net.params[i])) > 1e-6 {
			t.Fatalf("param %d: %v vs %v", i, a.net.params[i], b.net.params[i])
		}
	}
}

// TestCheckpointWholeOrAbsent: a save that fails half-way leaves no
// checkpoint directory, only the older ones; pruning keeps the newest K and
// the best.
func TestCheckpointWholeOrAbsent(t *testing.T) {
	o := fakeOptions(t)
	o.Steps, o.CheckpointEvery, o.ValEvery, o.KeepCheckpoints = 12, 2, 0, 2
	var r fakeRun
	if _, _, err := r.run(t, o); err != nil {
		t.Fatal(err)
	}
	steps, _ := listCheckpoints(runDir(o.Out))
	if !slices.Equal(steps, []int{12, 10}) {
		t.Fatalf("checkpoints %v, want [12 10]", steps)
	}
	// Continue to 14 with a failing disk: step 14 must not appear.
	o.Steps, o.Resume = 14, true
	if err := o.resolve(); err != nil {
		t.Fatal(err)
	}
	net := newBigram(7, o.Seed, true)
	s := session{net: net, w: &bigramWeights{n: net, failing: true}, train: fakeBlocks(21, o.Seq, 7),
		final: func(runDir) (string, string, error) { return "", "", nil }}
	_, err := trainSession(context.Background(), o, s, quiet())
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("want the disk error, got %v", err)
	}
	entries, _ := os.ReadDir(runDir(o.Out).checkpoints())
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"step-000010", "step-000012"}) {
		t.Fatalf("after a failed write: %v", names)
	}
}

func TestBestCheckpointKeptAndEarlyStop(t *testing.T) {
	o := fakeOptions(t)
	// A learning rate this high makes validation worse after the first
	// evaluations, so patience 2 stops the run early.
	o.Steps, o.LR, o.Warmup, o.Schedule, o.ValEvery, o.CheckpointEvery, o.KeepCheckpoints, o.Patience = 60, 3, 0, "constant", 2, 2, 1, 2
	var r fakeRun
	sum, recs, err := r.run(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.StoppedEarly || sum.Steps >= 60 || sum.BestValLoss == nil {
		t.Fatalf("no early stop: %+v", sum)
	}
	best := math.Inf(1)
	for _, rec := range recs {
		if rec.ValLoss != nil && *rec.ValLoss < best {
			best = *rec.ValLoss
		}
	}
	if *sum.BestValLoss != best {
		t.Fatalf("best %v, log's best %v", *sum.BestValLoss, best)
	}
	steps, _ := listCheckpoints(runDir(o.Out))
	if !slices.Contains(steps, sum.BestStep) || steps[0] != sum.Steps || len(steps) != 2 {
		t.Fatalf("checkpoints %v: want the last (%d) and the best (%d)", steps, sum.Steps, sum.BestStep)
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{"no model", func(o *Options) { o.Init = "" }},
		{"model and init", func(o *Options) { o.Model = "x" }},
		{"no data", func(o *Options) { o.Data = "" }},
		{"zero batch", func(o *Options) { o.Batch = 0 }},
		{"bad schedule", func(o *Options) { o.Schedule = "step" }},
		{"floor above peak", func(o *Options) { o.MinLR = 1 }},
		{"merge without lora", func(o *Options) { o.Merge = true }},
		{"bad target", func(o *Options) { o.LoRARank, o.LoRATargets = 8, []string{"wte"} }},
	}
	for _, tc := range tests {
		o := fakeOptions(t)
		tc.edit(&o)
		if err := o.resolve(); cli.CodeOf(err) != cli.ExitUsage {
			t.Errorf("%s: got %v, want a usage error", tc.name, err)
		}
	}
}
