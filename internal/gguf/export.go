package gguf

import (
	"fmt"
	"io"
	"regexp"

	"github.com/llmtune/llmtune/internal/atomicfile"
	"github.com/llmtune/llmtune/internal/model"
)

// ExportOptions choose what Export writes.
type ExportOptions struct {
	Type TensorType // of the large matrices; vectors and position_embd stay f32
	Name string     // general.name
}

// ChatTemplate is the Jinja chat template (tokenizer.chat_template) of the
// plain format dataset.Record.Segments trains on: "<role>: <content>\n" per
// turn, the model continuing after "assistant: ".
const ChatTemplate = "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}" +
	"{% if add_generation_prompt %}assistant: {% endif %}"

// Conv1D weights are stored [in, out] by Hugging Face; llama.cpp wants
// [out, in] (ne = {in, out}) for these.
var conv1D = map[string]bool{"attn.c_attn": true, "attn.c_proj": true, "mlp.c_fc": true, "mlp.c_proj": true}

// blockNames maps a GPT-2 block module to llama.cpp's tensor name.
var blockNames = map[string]string{
	"ln_1":        "attn_norm",
	"attn.c_attn": "attn_qkv",
	"attn.c_proj": "attn_output",
	"ln_2":        "ffn_norm",
	"mlp.c_fc":    "ffn_up",
	"mlp.c_proj":  "ffn_down",
}

var blockParam = regexp.MustCompile(`^h\.(\d+)\.(.+)\.(weight|bias)$`)

// TensorName maps a Hugging Face GPT-2 parameter name (without
// "transformer.") to llama.cpp's, and says whether it is a Conv1D weight to
// transpose. ok is false for names that are not GPT-2 weights (such as the
// h.N.attn.bias causal-mask buffers).
func TensorName(hf string) (name string, transpose, ok bool) {
	switch hf {
	case "wte.weight":
		return "token_embd.weight", false, true
	case "wpe.weight":
		return "position_embd.weight", false, true
	case "ln_f.weight":
		return "output_norm.weight", false, true
	case "ln_f.bias":
		return "output_norm.bias", false, true
	}
	m := blockParam.FindStringSubmatch(hf)
	if m == nil {
		return "", false, false
	}
	g, found := blockNames[m[2]]
	if !found {
		return "", false, false
	}
	return "blk." + m[1] + "." + g + "." + m[3], conv1D[m[2]] && m[3] == "weight", true
}

// tensorType is the type a tensor is stored as, following llama.cpp's
// converter: vectors, norms and position_embd in f32; other matrices in the
// chosen type, q8_0 falling back to f16 when a row is not a whole number of
// 32-value blocks.
func tensorType(name string, shape []int, want TensorType) TensorType {
	if len(shape) < 2 || name == "position_embd.weight" {
		return F32
	}
	if want == Q8_0 && shape[len(shape)-1]%q8BlockValues != 0 {
		return F16
	}
	return want
}

// transpose returns the [cols, rows] transpose of a row-major [rows, cols].
func transpose(x []float32, rows, cols int) []float32 {
	out := make([]float32, len(x))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			out[c*rows+r] = x[r*cols+c]
		}
	}
	return out
}

// Build returns the metadata and tensors of the GGUF file for a GPT-2 model
// (its config, parameter layout and parameters, as model.Load returns them)
// and its tokenizer.
func Build(cfg model.Config, layout *model.Layout, params []float32, v Vocab, o ExportOptions) ([]KV, []Tensor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if len(params) != layout.Total {
		return nil, nil, fmt.Errorf("model has %d parameters, its layout %d", len(params), layout.Total)
	}
	if o.Type != F32 && o.Type != F16 && o.Type != Q8_0 {
		return nil, nil, fmt.Errorf("export type %v is not supported (f32, f16, q8_0)", o.Type)
	}
	if len(v.Tokens) != cfg.VocabSize || len(v.Types) != cfg.VocabSize {
		return nil, nil, fmt.Errorf("tokenizer has %d tokens, the model's vocab_size is %d", len(v.Tokens), cfg.VocabSize)
	}
	var tensors []Tensor
	var wte Tensor
	for _, t := range layout.Tensors {
		name, tr, ok := TensorName(t.Name)
		if !ok {
			return nil, nil, fmt.Errorf("parameter %s is not a GPT-2 weight llama.cpp knows", t.Name)
		}
		data, shape := t.Slice(params), t.Shape
		if tr {
			if len(shape) != 2 {
				return nil, nil, fmt.Errorf("parameter %s: Conv1D weight of shape %v is not 2-D", t.Name, shape)
			}
			data, shape = transpose(data, shape[0], shape[1]), []int{shape[1], shape[0]}
		}
		gt := Tensor{Name: name, Shape: shape, Type: tensorType(name, shape, o.Type), Data: data}
		tensors = append(tensors, gt)
		if name == "token_embd.weight" {
			wte = gt
		}
	}
	if wte.Name == "" {
		return nil, nil, fmt.Errorf("the model has no wte.weight")
	}
	// GPT-2 ties the output projection to wte; older llama.cpp loaders
	// need output.weight present, so it is written explicitly.
	out := wte
	out.Name = "output.weight"
	tensors = append(tensors, out)

	name := o.Name
	if name == "" {
		name = "gpt2"
	}
	u32 := func(n int) uint32 { return uint32(n) }
	kvs := []KV{
		{"general.architecture", "gpt2"},
		{"general.type", "model"},
		{"general.name", name},
		{"general.file_type", o.Type.FileType()},
		{"general.quantization_version", uint32(2)},
		// llama.cpp sizes position_embd from context_length and does not
		// say so when they differ: it must be the wpe row count.
		{"gpt2.context_length", u32(cfg.NPositions)},
		{"gpt2.embedding_length", u32(cfg.NEmbd)},
		{"gpt2.feed_forward_length", u32(cfg.Inner())},
		{"gpt2.block_count", u32(cfg.NLayer)},
		{"gpt2.attention.head_count", u32(cfg.NHead)},
		{"gpt2.attention.layer_norm_epsilon", float32(cfg.LayerNormEpsilon)},
		{"tokenizer.ggml.model", "gpt2"},
		// Without "gpt-2" llama.cpp only warns and pre-tokenizes differently.
		{"tokenizer.ggml.pre", "gpt-2"},
		{"tokenizer.ggml.tokens", v.Tokens},
		// Without types <|endoftext|> becomes an ordinary token.
		{"tokenizer.ggml.token_type", v.Types},
		{"tokenizer.ggml.merges", v.Merges},
		// Without these llama.cpp silently uses token 11 (",").
		{"tokenizer.ggml.bos_token_id", u32(v.BOS)},
		{"tokenizer.ggml.eos_token_id", u32(v.EOS)},
		// llmtune trains every example as <|endoftext|> text <|endoftext|>
		// (tokenize.Pack), so prompts get the same <|endoftext|> prefix.
		{"tokenizer.ggml.add_bos_token", true},
		{"tokenizer.ggml.add_eos_token", false},
		{"tokenizer.chat_template", ChatTemplate},
	}
	return kvs, tensors, nil
}

// Export writes the GGUF file for a model to w.
func Export(w io.Writer, cfg model.Config, layout *model.Layout, params []float32, v Vocab, o ExportOptions) error {
	kvs, tensors, err := Build(cfg, layout, params, v, o)
	if err != nil {
		return err
	}
	return Write(w, kvs, tensors)
}

// ExportFile writes the GGUF file atomically at path with mode 0600 (the
// weights may have memorised private training data).
func ExportFile(path string, cfg model.Config, layout *model.Layout, params []float32, v Vocab, o ExportOptions) error {
	kvs, tensors, err := Build(cfg, layout, params, v, o)
	if err != nil {
		return err
	}
	return atomicfile.WriteWith(path, 0o600, func(w io.Writer) error { return Write(w, kvs, tensors) })
}
