package model

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Config is GPT2Config with Hugging Face's key names. Unknown keys in a
// config.json are kept in Extra and written back unchanged.
type Config struct {
	ModelType            string                     `json:"model_type"`
	Architectures        []string                   `json:"architectures,omitempty"`
	VocabSize            int                        `json:"vocab_size"`
	NPositions           int                        `json:"n_positions"`
	NCtx                 int                        `json:"n_ctx,omitempty"`
	NEmbd                int                        `json:"n_embd"`
	NLayer               int                        `json:"n_layer"`
	NHead                int                        `json:"n_head"`
	NInner               *int                       `json:"n_inner"`
	ActivationFunction   string                     `json:"activation_function"`
	LayerNormEpsilon     float64                    `json:"layer_norm_epsilon"`
	InitializerRange     float64                    `json:"initializer_range"`
	ResidPdrop           float64                    `json:"resid_pdrop"`
	EmbdPdrop            float64                    `json:"embd_pdrop"`
	AttnPdrop            float64                    `json:"attn_pdrop"`
	BosTokenID           int                        `json:"bos_token_id"`
	EosTokenID           int                        `json:"eos_token_id"`
	ScaleAttnWeights     *bool                      `json:"scale_attn_weights,omitempty"`
	ScaleAttnByLayerIdx  bool                       `json:"scale_attn_by_inverse_layer_idx"`
	ReorderAndUpcastAttn bool                       `json:"reorder_and_upcast_attn"`
	TorchDtype           string                     `json:"torch_dtype,omitempty"`
	UseCache             *bool                      `json:"use_cache,omitempty"`
	TieWordEmbeddings    *bool                      `json:"tie_word_embeddings,omitempty"`
	Extra                map[string]json.RawMessage `json:"-"`
}

// Inner is the MLP width (n_inner, default 4*n_embd).
func (c Config) Inner() int {
	if c.NInner != nil && *c.NInner > 0 {
		return *c.NInner
	}
	return 4 * c.NEmbd
}

// HeadDim is n_embd / n_head.
func (c Config) HeadDim() int { return c.NEmbd / c.NHead }

// Validate checks what the network relies on.
func (c Config) Validate() error {
	if c.ModelType != "gpt2" {
		return fmt.Errorf("model_type %q is not supported (only \"gpt2\")", c.ModelType)
	}
	switch {
	case c.VocabSize <= 0, c.NPositions <= 0, c.NEmbd <= 0, c.NLayer <= 0, c.NHead <= 0:
		return fmt.Errorf("vocab_size, n_positions, n_embd, n_layer and n_head must be positive (got %d, %d, %d, %d, %d)",
			c.VocabSize, c.NPositions, c.NEmbd, c.NLayer, c.NHead)
	case c.NEmbd%c.NHead != 0:
		return fmt.Errorf("n_embd %d is not divisible by n_head %d", c.NEmbd, c.NHead)
	case c.ActivationFunction != "" && c.ActivationFunction != "gelu_new" && c.ActivationFunction != "gelu_pytorch_tanh":
		return fmt.Errorf("activation_function %q is not supported (gelu_new)", c.ActivationFunction)
	case c.ScaleAttnByLayerIdx || c.ReorderAndUpcastAttn:
		return fmt.Errorf("scale_attn_by_inverse_layer_idx and reorder_and_upcast_attn are not supported")
	case c.ScaleAttnWeights != nil && !*c.ScaleAttnWeights:
		return fmt.Errorf("scale_attn_weights false is not supported (attention is scaled by 1/sqrt(head_dim))")
	case c.TieWordEmbeddings != nil && !*c.TieWordEmbeddings:
		return fmt.Errorf("untied word embeddings are not supported")
	}
	return nil
}

// ReadConfig reads dir/config.json.
func ReadConfig(dir string) (Config, error) {
	p := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w (is %s a Hugging Face model directory?)", p, err, dir)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}

// ParseConfig decodes config.json bytes, fills HF defaults and validates.
func ParseConfig(b []byte) (Config, error) {
	c := Config{LayerNormEpsilon: 1e-5, InitializerRange: 0.02, ActivationFunction: "gelu_new",
		BosTokenID: 50256, EosTokenID: 50256}
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("invalid JSON: %w", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return Config{}, fmt.Errorf("invalid JSON: %w", err)
	}
	for _, k := range knownKeys {
		delete(all, k)
	}
	if len(all) > 0 {
		c.Extra = all
	}
	if c.NCtx == 0 {
		c.NCtx = c.NPositions
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

var knownKeys = []string{"model_type", "architectures", "vocab_size", "n_positions", "n_ctx", "n_embd",
	"n_layer", "n_head", "n_inner", "activation_function", "layer_norm_epsilon", "initializer_range",
	"resid_pdrop", "embd_pdrop", "attn_pdrop", "bos_token_id", "eos_token_id", "scale_attn_weights",
	"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "torch_dtype", "use_cache", "tie_word_embeddings"}

// MarshalJSON writes the known keys and any unknown ones read from disk.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	b, err := json.Marshal(plain(c))
	if err != nil {
		return nil, err
	}
	if len(c.Extra) == 0 {
		return b, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range c.Extra {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// Preset returns a named configuration for --init.
func Preset(name string) (Config, error) {
	base := func(pos, embd, layer, head int) Config {
		t := true
		return Config{ModelType: "gpt2", Architectures: []string{"GPT2LMHeadModel"}, VocabSize: 50257,
			NPositions: pos, NCtx: pos, NEmbd: embd, NLayer: layer, NHead: head,
			ActivationFunction: "gelu_new", LayerNormEpsilon: 1e-5, InitializerRange: 0.02,
			ResidPdrop: 0.1, EmbdPdrop: 0.1, AttnPdrop: 0.1, BosTokenID: 50256, EosTokenID: 50256,
			ScaleAttnWeights: &t, TorchDtype: "float32", UseCache: &t}
	}
	switch name {
	case "gpt2-tiny":
		return base(128, 64, 2, 4), nil
	case "gpt2-small":
		return base(256, 256, 4, 4), nil
	case "gpt2-124m", "gpt2":
		return base(1024, 768, 12, 12), nil
	}
	return Config{}, fmt.Errorf("unknown preset %q (gpt2-tiny, gpt2-small, gpt2-124m)", name)
}

// ResidualInitStd is HF's std for c_proj weights: initializer_range/sqrt(2*n_layer).
func (c Config) ResidualInitStd() float64 {
	return c.InitializerRange / math.Sqrt(2*float64(c.NLayer))
}
