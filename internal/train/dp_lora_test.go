package train

import (
	"math"
	"testing"

	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/model"
)

// With LoRA, DP-SGD takes every record's gradient from one batched backward
// (model.Trainer's per-example gradients). The clipped sum must equal the
// one from the per-record path, which runs each record on its own.
func TestDPLoRABatchedEqualsPerRecord(t *testing.T) {
	o := dpOptions(t)
	o.DPNoise, o.Steps, o.LoRARank, o.LoRAAlpha = 1e-12, 1, 4, 8
	cfg, _ := model.Preset("gpt2-tiny")
	cfg.VocabSize, cfg.NPositions, cfg.NCtx = 64, o.Seq, o.Seq
	m := model.Init(cfg, 3)
	blocks := fakeBlocks(21, o.Seq, 7)
	lc := &model.LoRAConfig{Rank: 4, Alpha: 8, Targets: []string{"c_attn"}}
	stepNorm := func(batch int, perExample bool) float64 {
		tr, err := model.NewTrainer(m, model.TrainOptions{Batch: batch, Seq: o.Seq, LoRA: lc, Seed: o.Seed})
		if err != nil {
			t.Fatal(err)
		}
		for i := range tr.Trainable() { // a nonzero B, so that A's gradients are not zero
			tr.Trainable()[i] += float32(math.Cos(float64(i))) * 0.05
		}
		if perExample {
			if err := tr.EnablePerExample(); err != nil {
				t.Fatal(err)
			}
		}
		l, err := newLoop(o, tr, nil, blocks, nil, &cli.Output{Quiet: true}, runDir(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		if perExample != (l.dp.perEx != nil) || (perExample && l.rows != o.Batch) {
			t.Fatalf("per-example path on=%v, rows %d", l.dp.perEx != nil, l.rows)
		}
		rec, err := l.dpStep()
		if err != nil {
			t.Fatal(err)
		}
		return rec.GradNorm
	}
	// A clip norm that clips every record (directions must agree) and one that
	// clips none (each record's scale must agree).
	for _, c := range []float64{0.02, 100} {
		o.DPMaxGradNorm = c
		perRecord := stepNorm(1, false)
		batched := stepNorm(o.Batch, true)
		if perRecord == 0 || math.Abs(batched-perRecord) > 1e-4*perRecord {
			t.Fatalf("clip norm %v: clipped mean gradient norm: batched %v, per record %v", c, batched, perRecord)
		}
	}
}
