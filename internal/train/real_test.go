package train

import (
	"context"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/llmtune/llmtune/internal/model"
)

// bufferWeights checkpoints a trainable buffer as one tensor, so the loop
// can be tested with the real network before model files are involved.
type bufferWeights struct{ buf []float32 }

func (w bufferWeights) save(dir string) error {
	return writeTensors(filepath.Join(dir, "weights.safetensors"), map[string][]float32{"w": w.buf})
}

func (w bufferWeights) restore(dir string) error {
	ts, err := readTensors(filepath.Join(dir, "weights.safetensors"))
	if err != nil {
		return err
	}
	if len(ts["w"]) != len(w.buf) {
		return errors.New("weights of another size")
	}
	copy(w.buf, ts["w"])
	return nil
}

// tinyModel is gpt2-tiny with N(0, 0.02) weights and unit LayerNorm gains.
func tinyModel(t *testing.T) *model.Model {
	cfg, err := model.Preset("gpt2-tiny")
	if err != nil {
		t.Fatal(err)
	}
	m := &model.Model{Config: cfg, Layout: model.NewLayout(cfg)}
	m.Params = make([]float32, m.Layout.Total)
	rng := rand.New(rand.NewSource(5))
	for _, te := range m.Layout.Tensors {
		s := te.Slice(m.Params)
		for i := range s {
			if len(te.Shape) == 2 {
				s[i] = float32(rng.NormFloat64() * 0.02)
			} else if filepath.Ext(te.Name) == ".weight" {
				s[i] = 1
			}
		}
	}
	return m
}

// runReal trains gpt2-tiny (dropout on) with o; cancelAt > 0 interrupts it
// during the micro-batch with that dropout key.
func runReal(t *testing.T, o Options, cancelAt uint64) ([]record, []float32, error) {
	t.Helper()
	if err := o.resolve(); err != nil {
		t.Fatal(err)
	}
	m := tinyModel(t)
	to := model.TrainOptions{Batch: o.Batch, Seq: o.Seq, Dropout: true, Seed: o.Seed}
	if o.LoRARank > 0 {
		to.LoRA = &model.LoRAConfig{Rank: o.LoRARank, Alpha: o.LoRAAlpha, Targets: o.LoRATargets}
	}
	tr, err := model.NewTrainer(m, to)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &fakeRun{cancelAt: cancelAt, cancel: cancel}
	var net Network = tr
	if cancelAt > 0 {
		net = cancelling{tr, r}
	}
	blocks := fakeBlocks(13, o.Seq, 300)
	s := session{net: net, w: bufferWeights{tr.Trainable()}, train: blocks[:10], val: blocks[10:],
		final: func(runDir) (string, string, error) { return "", "", nil }}
	_, err = trainSession(ctx, o, s, quiet())
	recs, _ := readMetrics(filepath.Join(o.Out, "metrics.jsonl"))
	return recs, slices.Clone(tr.Trainable()), err
}

type cancelling struct {
	*model.Trainer
	r *fakeRun
}

func (c cancelling) Step(in, tg []int32, m []float32, s float32, key uint64) (float64, float64, error) {
	if key == c.r.cancelAt {
		c.r.cancel()
	}
	return c.Trainer.Step(in, tg, m, s, key)
}

// TestRealNetworkResume: with the real GPT-2 network and dropout, the same
// seed gives identical losses twice, and a run interrupted after step 3 and
// resumed from its checkpoint logs exactly the uninterrupted losses.
func TestRealNetworkResume(t *testing.T) {
	for _, rank := range []int{0, 4} {
		o := Defaults()
		o.Init, o.Data, o.Out = "gpt2-tiny", "-", t.TempDir()
		o.Steps, o.Batch, o.Seq, o.LR, o.Warmup, o.Seed, o.GradAccum = 6, 2, 32, 3e-3, 1, 9, 2
		o.ValEvery, o.LoRARank = 2, rank
		want, wantW, err := runReal(t, o, 0)
		if err != nil {
			t.Fatal(err)
		}
		o.Out = t.TempDir()
		again, _, err := runReal(t, o, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(losses(want), losses(again)) {
			t.Fatalf("rank %d: same seed, different losses:\n%v\n%v", rank, losses(want), losses(again))
		}
		o.Out = t.TempDir()
		if _, _, err := runReal(t, o, 2*2+1); !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted run: %v", err)
		}
		if _, err := os.Stat(runDir(o.Out).step(3)); err != nil {
			t.Fatal(err)
		}
		o.Resume = true
		got, gotW, err := runReal(t, o, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(losses(want), losses(got)) || !slices.Equal(wantW, gotW) {
			t.Fatalf("rank %d: resumed losses differ:\n%v\n%v", rank, losses(want), losses(got))
		}
		if want[0].Loss == want[len(want)-2].Loss {
			t.Fatal("the loss did not change")
		}
	}
}

// TestRealGradAccumulation: without dropout, two accumulated micro-batches
// of 2 give the weights one batch of 4 gives (the network must add into its
// gradients, as the contract says, not overwrite them).
func TestRealGradAccumulation(t *testing.T) {
	var w [2][]float32
	for i, shape := range [][2]int{{4, 1}, {2, 2}} {
		o := Defaults()
		o.Init, o.Data, o.Out = "gpt2-tiny", "-", t.TempDir()
		o.Steps, o.Seq, o.LR, o.Seed, o.NoDropout, o.ValEvery = 2, 16, 1e-3, 9, true, 0
		o.Batch, o.GradAccum = shape[0], shape[1]
		if err := o.resolve(); err != nil {
			t.Fatal(err)
		}
		tr, err := model.NewTrainer(tinyModel(t), model.TrainOptions{Batch: o.Batch, Seq: o.Seq, Seed: o.Seed})
		if err != nil {
			t.Fatal(err)
		}
		s := session{net: tr, w: bufferWeights{tr.Trainable()}, train: fakeBlocks(8, o.Seq, 300),
			final: func(runDir) (string, string, error) { return "", "", nil }}
		if _, err := trainSession(context.Background(), o, s, quiet()); err != nil {
			t.Fatal(err)
		}
		w[i] = slices.Clone(tr.Trainable())
	}
	// AdamW's first steps move each weight by about ±lr whatever the
	// gradient's size, so a weight whose gradient is rounding noise may
	// differ by ~lr between summation orders; a network that overwrote
	// instead of adding would differ on a large share of the weights.
	moved, differ, start := 0, 0, tinyModel(t).Params
	for i := range w[0] {
		if d := math.Abs(float64(w[0][i] - w[1][i])); d > 1e-5 {
			differ++
		}
		if w[0][i] != start[i] {
			moved++
		}
	}
	if differ > len(start)/1000 {
		t.Fatalf("%d of %d weights differ by more than 1e-5 between batch 4 and 2 x 2", differ, len(start))
	}
	if moved == 0 {
		t.Fatal("training did not move the weights")
	}
}
