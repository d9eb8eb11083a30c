package gguf

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/llmtune/llmtune/internal/model"
)

// BenchmarkLlamaCpp124M exports a GPT-2 124M-shaped model (random weights:
// speed does not depend on them) as f32, f16 and q8_0, and has llama.cpp
// generate 128 tokens greedily from a 16-token prompt on
// $LLMTUNE_LLAMA_THREADS threads (default 1). Metrics: file MB, llama.cpp
// tokens/s (from the median and the fastest token time), and the export's
// own MB/s (fsync included).
func BenchmarkLlamaCpp124M(b *testing.B) {
	nm := nodeModules(b)
	cfg, err := model.Preset("gpt2-124m")
	if err != nil {
		b.Fatal(err)
	}
	lay := model.NewLayout(cfg)
	params := make([]float32, lay.Total)
	r := rand.New(rand.NewSource(1))
	for i := range params {
		params[i] = float32(r.NormFloat64() * 0.02)
	}
	ids := map[string]int{}
	for i := 0; i < cfg.VocabSize-1; i++ {
		ids[fmt.Sprintf("tok%d", i)] = i
	}
	ids["<|endoftext|>"] = cfg.VocabSize - 1
	v, err := buildVocab(ids, nil, nil, cfg.VocabSize, cfg.VocabSize-1, cfg.VocabSize-1, "bench")
	if err != nil {
		b.Fatal(err)
	}
	prompt := make([]int32, 16)
	for i := range prompt {
		prompt[i] = int32(100 + 37*i)
	}
	threads, _ := strconv.Atoi(os.Getenv("LLMTUNE_LLAMA_THREADS"))
	for _, typ := range []TensorType{F32, F16, Q8_0} {
		b.Run(typ.String(), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "124m.gguf")
			for b.Loop() {
				start := time.Now()
				if err := ExportFile(path, cfg, lay, params, v, ExportOptions{Type: typ}); err != nil {
					b.Fatal(err)
				}
				st, _ := os.Stat(path)
				b.ReportMetric(float64(st.Size())/1e6, "file_MB")
				b.ReportMetric(float64(st.Size())/1e6/time.Since(start).Seconds(), "export_MB/s")
				res := runLlama(b, llamaRequest{NodeModules: nm, Model: path, Context: 256, Prompt: prompt, Bench: 128, Threads: threads})
				b.ReportMetric(res.BenchTokensPerS, "llama_median_tok/s")
				b.ReportMetric(1000/res.BenchBestMS, "llama_best_tok/s")
				b.ReportMetric(res.PromptMS, "llama_prompt_ms")
			}
		})
	}
}
