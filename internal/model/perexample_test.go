package model

import (
	"math"
	"testing"
)

// Each example's LoRA gradient from one batched backward equals the
// gradient of a batch-1 run on that example alone, and they sum to the
// batched gradient.
func TestPerExampleLoRAGradients(t *testing.T) {
	cfg, _ := Preset("gpt2-tiny")
	cfg.VocabSize, cfg.NPositions, cfg.NCtx = 300, 32, 32
	m := Init(cfg, 5)
	const B, T = 3, 16
	lc := &LoRAConfig{Rank: 4, Alpha: 8, Targets: []string{"c_attn", "mlp.c_fc"}}
	batched, err := NewTrainer(m, TrainOptions{Batch: B, Seq: T, LoRA: lc, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	if err := batched.EnablePerExample(); err != nil {
		t.Fatal(err)
	}
	// Give B a nonzero value so that A's gradient is not trivially zero.
	for i := range batched.Trainable() {
		batched.Trainable()[i] += float32(math.Sin(float64(i))) * 0.05
	}
	in := make([]int32, B*T)
	tg := make([]int32, B*T)
	mask := make([]float32, B*T)
	for i := range in {
		in[i], tg[i] = int32((i*37+11)%300), int32((i*53+7)%300)
		mask[i] = float32((i % 5) % 2) // some positions untrained
	}
	if _, _, err := batched.Step(in, tg, mask, 0.5, 0); err != nil {
		t.Fatal(err)
	}
	G := len(batched.Grads())
	per := batched.PerExampleGrads()
	sum := make([]float64, G)
	for b := 0; b < B; b++ {
		single, err := NewTrainer(m, TrainOptions{Batch: 1, Seq: T, LoRA: lc, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		copy(single.Trainable(), batched.Trainable())
		if _, _, err := single.Step(in[b*T:(b+1)*T], tg[b*T:(b+1)*T], mask[b*T:(b+1)*T], 0.5, 0); err != nil {
			t.Fatal(err)
		}
		want, got := single.Grads(), per[b*G:(b+1)*G]
		var d, n float64
		for i := range want {
			d += float64(got[i]-want[i]) * float64(got[i]-want[i])
			n += float64(want[i]) * float64(want[i])
			sum[i] += float64(got[i])
		}
		if n == 0 || math.Sqrt(d/n) > 1e-4 {
			t.Fatalf("example %d: relative L2 error %.2e (norm %.3g)", b, math.Sqrt(d/n), math.Sqrt(n))
		}
	}
	for i, g := range batched.Grads() {
		if math.Abs(float64(g)-sum[i]) > 1e-5+1e-4*math.Abs(float64(g)) {
			t.Fatalf("per-example gradients do not sum to the batched one at %d: %v vs %v", i, sum[i], g)
		}
	}
	full, _ := NewTrainer(m, TrainOptions{Batch: 1, Seq: T})
	if full.EnablePerExample() == nil {
		t.Fatal("full fine-tuning must refuse per-example mode")
	}
}
