package model

import (
	"context"
	"math/rand"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/llmtune/llmtune/internal/blas"
	"github.com/llmtune/llmtune/internal/nn"
)

// randomModel is a model with HF-like random weights (N(0,0.02), LayerNorm
// weights 1): enough for timing, independent of the checkpoint code.
func randomModel(tb testing.TB, preset string) *Model {
	tb.Helper()
	cfg, err := Preset(preset)
	if err != nil {
		tb.Fatal(err)
	}
	m := &Model{Config: cfg, Layout: NewLayout(cfg)}
	m.Params = make([]float32, m.Layout.Total)
	rng := rand.New(rand.NewSource(1))
	for _, t := range m.Layout.Tensors {
		s := t.Slice(m.Params)
		switch {
		case len(t.Shape) == 2:
			for i := range s {
				s[i] = float32(rng.NormFloat64() * 0.02)
			}
		case len(t.Name) > 7 && t.Name[len(t.Name)-7:] == ".weight":
			for i := range s {
				s[i] = 1
			}
		}
	}
	return m
}

func benchTrain(b *testing.B, preset string, lora *LoRAConfig) {
	b.Run("go-threads", func(b *testing.B) { benchTrainWith(b, preset, lora, 1) })
	// OpenBLAS's own threads instead (the kernels then run attention serially).
	b.Run("openblas-threads", func(b *testing.B) { benchTrainWith(b, preset, lora, runtime.GOMAXPROCS(0)) })
}

func benchTrainWith(b *testing.B, preset string, lora *LoRAConfig, blasThreads int) {
	const batch, seq = 4, 128
	m := randomModel(b, preset)
	tr, err := NewTrainer(m, TrainOptions{Batch: batch, Seq: seq, Dropout: true, LoRA: lora, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	blas.SetThreads(blasThreads)
	defer nn.UseGoThreads()
	n := batch * seq
	in, tg := make([]int32, n), make([]int32, n)
	rng := rand.New(rand.NewSource(2))
	for i := range in {
		in[i], tg[i] = int32(rng.Intn(m.Config.VocabSize)), int32(rng.Intn(m.Config.VocabSize))
	}
	if _, _, err := tr.Step(in, tg, nil, 1/float32(n), 0); err != nil { // warm-up
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := tr.Step(in, tg, nil, 1/float32(n), uint64(i+1)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tokens/s")
	// Process CPU time per step is less sensitive than wall time to the other
	// jobs on a shared machine (it still counts OpenBLAS's spin-waiting).
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/step")
}

// BenchmarkTrainStep124M is one forward+backward of GPT-2 124M at batch 4 x
// 128 tokens with dropout 0.1, as ../shared/ref/bench_train.py measures
// PyTorch (the optimizer step is internal/train's and not included).
func BenchmarkTrainStep124M(b *testing.B) { benchTrain(b, "gpt2-124m", nil) }

// BenchmarkTrainStep124MLoRA is the same with LoRA r=8 on c_attn.
func BenchmarkTrainStep124MLoRA(b *testing.B) {
	benchTrain(b, "gpt2-124m", &LoRAConfig{Rank: 8, Alpha: 16})
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkGenerate124M is batch-1 decoding with the KV cache: 128 new
// tokens after a 128-token prompt (greedy, no EOS), reported as new tokens/s.
func BenchmarkGenerate124M(b *testing.B) {
	m := randomModel(b, "gpt2-124m")
	prompt := make([]int32, 128)
	for i := range prompt {
		prompt[i] = int32(i * 389 % m.Config.VocabSize)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := Generate(context.Background(), m, prompt, GenerateOptions{MaxTokens: 128, EOS: -1}, nil)
		if err != nil || len(out) != 128 {
			b.Fatalf("generated %d tokens: %v", len(out), err)
		}
	}
	b.ReportMetric(float64(128*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
