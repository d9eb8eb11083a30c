package train

import (
	"github.com/llmtune/llmtune/internal/testutil"

	"fmt"
	"math/rand"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"

	"github.com/llmtune/llmtune/internal/blas"
	"github.com/llmtune/llmtune/internal/model"
)

// BenchmarkTrain times whole optimizer steps of the training loop (forward,
// backward, clipping, AdamW) on the 124M configuration with batch 4 x 128,
// the shape of ../shared/ref/bench_train.py, and reports tokens/s, the peak
// RSS of the training phase (VmHWM reset after set-up, as bench_train.py
// does) and model FLOPs per second (6·N·tokens for full fine-tuning; for
// LoRA the frozen weights' gradient GEMMs are not needed: 4·N·tokens).
func BenchmarkTrain(b *testing.B) {
	preset := os.Getenv("LLMTUNE_BENCH_PRESET")
	if preset == "" {
		preset = "gpt2-124m"
	}
	b.Run("full", func(b *testing.B) { benchLoop(b, preset, 0, false) })
	b.Run("lora_r8", func(b *testing.B) { benchLoop(b, preset, 8, false) })
	// DP-SGD: Poisson-sampled records (4 expected per step), per-record
	// clipping and noise; tokens/s counts the records actually sampled.
	b.Run("lora_r8_dp", func(b *testing.B) { benchLoop(b, preset, 8, true) })
}

// benchLoops keeps each configuration's loop across the benchmark's
// b.N=1 probe and the timed run, so the process holds one model, not two.
var benchLoops = map[string]*loop{}

func benchLoop(b *testing.B, preset string, rank int, dp bool) {
	const batch, seq = 4, 128
	key := fmt.Sprint(preset, rank, dp)
	l := benchLoops[key]
	if l == nil {
		clear(benchLoops) // free the other configuration's buffers first
		runtime.GC()
		debug.FreeOSMemory()
		l = newBenchLoop(b, preset, rank, batch, seq, dp)
		benchLoops[key] = l
	}
	cfg, _ := model.Preset(preset)
	resetPeakRSS()
	cpu0 := cpuSeconds()
	tok0 := l.st.Tokens
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.benchStep(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := cpuSeconds() - cpu0
	secs := b.Elapsed().Seconds()
	tokens := float64(l.st.Tokens - tok0)
	b.ReportMetric(tokens/secs, "tokens/s")
	// CPU time is less disturbed than wall time by other jobs on a shared
	// machine (bench_train.py reports the same figure).
	b.ReportMetric(tokens/cpu, "tokens/cpu_s")
	b.ReportMetric(float64(testutil.ProcStatusBytes("VmHWM"))/(1<<20), "peak_rss_MiB")
	// Model FLOPs: 2·N per token forward for the non-embedding weights plus the
	// tied LM head, twice that backward (full) or once (LoRA: activations only).
	n := float64(12*cfg.NLayer*cfg.NEmbd*cfg.NEmbd + cfg.VocabSize*cfg.NEmbd)
	attn := float64(2 * 2 * cfg.NLayer * seq * cfg.NEmbd) // QKᵀ and AV per token
	mult := 6.0
	if rank > 0 {
		mult = 4.0
	}
	b.ReportMetric(tokens*(mult/2)*(2*n+attn)/secs/1e9, "model_GFLOPS")
	b.ReportMetric(float64(blas.Threads()), "blas_threads")
}

func newBenchLoop(b *testing.B, preset string, rank, batch, seq int, dp bool) *loop {
	cfg, err := model.Preset(preset)
	if err != nil {
		b.Fatal(err)
	}
	m := &model.Model{Config: cfg, Layout: model.NewLayout(cfg)}
	m.Params = make([]float32, m.Layout.Total)
	rng := rand.New(rand.NewSource(1))
	for i := range m.Params {
		m.Params[i] = float32(rng.NormFloat64() * 0.02)
	}
	o := Defaults()
	o.Init, o.Data, o.Out = preset, "-", b.TempDir()
	o.Batch, o.Seq, o.Steps, o.WeightDecay, o.LR = batch, seq, 1<<30, 0, 1e-4
	to := model.TrainOptions{Batch: batch, Seq: seq, Dropout: true, Seed: 1}
	if rank > 0 {
		o.LoRARank = rank
		to.LoRA = &model.LoRAConfig{Rank: rank, Alpha: 16, Targets: []string{"c_attn"}}
	}
	if dp {
		o.DPNoise, o.DPMaxGradNorm, to.Batch = 1, 1, 1
	}
	if err := o.resolve(); err != nil {
		b.Fatal(err)
	}
	tr, err := model.NewTrainer(m, to)
	if err != nil {
		b.Fatal(err)
	}
	blocks := make([]Block, 64)
	for i := range blocks {
		ids := make([]int32, seq+1)
		for j := range ids {
			ids[j] = int32(rng.Intn(cfg.VocabSize))
		}
		mask := make([]float32, seq)
		for j := range mask {
			mask[j] = 1
		}
		blocks[i] = Block{Inputs: ids[:seq], Targets: ids[1:], Mask: mask}
	}
	l, err := newLoop(o, tr, nil, blocks, nil, quiet(), runDir(o.Out))
	if err != nil {
		b.Fatal(err)
	}
	l.data = newStream(len(blocks), o.Seed, cursor{})
	for i := 0; i < 2; i++ { // warm-up, as bench_train.py leaves out two steps
		if _, err := l.benchStep(); err != nil {
			b.Fatal(err)
		}
	}
	return l
}

func (l *loop) benchStep() (record, error) {
	if l.dp != nil {
		return l.dpStep()
	}
	return l.step()
}

// cpuSeconds is the process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux
// clear_refs 5), so the peak is that of what follows.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }
