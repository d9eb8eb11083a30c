package train

import (
	"testing"

	"github.com/llmtune/llmtune/internal/model"
)

// BenchmarkAdamW is the optimizer's share of a 124M full fine-tuning step:
// the gradient norm, clipping and the AdamW update over 124M parameters.
func BenchmarkAdamW(b *testing.B) {
	cfg, _ := model.Preset("gpt2-124m")
	lay := model.NewLayout(cfg)
	p, g := make([]float32, lay.Total), make([]float32, lay.Total)
	for i := range g {
		g[i] = float32(i%7) * 0.1
	}
	a := newAdamW(lay, 0.9, 0.999, 1e-8, 0.01)
	b.SetBytes(int64(lay.Total) * 4)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := globalNorm(a.work, g)
		a.update(p, g, 1e-4, clipScale(n, 1))
	}
}
