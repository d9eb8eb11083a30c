package model

import (
	"math/rand/v2"
	"strings"
)

// Init returns a freshly initialised model as Hugging Face's
// GPT2PreTrainedModel._init_weights does: embeddings and Conv1D weights
// N(0, initializer_range), biases 0, LayerNorm weight 1 and bias 0, then
// every c_proj weight (attention and MLP) N(0, initializer_range/sqrt(2*n_layer)).
// The same seed gives the same weights.
func Init(cfg Config, seed int64) *Model {
	m := &Model{Config: cfg, Layout: NewLayout(cfg)}
	m.Params = make([]float32, m.Layout.Total)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	for _, t := range m.Layout.Tensors {
		x := t.Slice(m.Params)
		switch {
		case strings.HasSuffix(t.Name, "c_proj.weight"):
			normal(rng, x, cfg.ResidualInitStd())
		case strings.Contains(t.Name, "ln_") && strings.HasSuffix(t.Name, ".weight"):
			for i := range x {
				x[i] = 1
			}
		case strings.HasSuffix(t.Name, ".weight"):
			normal(rng, x, cfg.InitializerRange)
		}
	}
	return m
}

func normal(rng *rand.Rand, x []float32, std float64) {
	for i := range x {
		x[i] = float32(rng.NormFloat64() * std)
	}
}
