package model

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"

	"github.com/llmtune/llmtune/internal/atomicfile"
	"github.com/llmtune/llmtune/internal/safetensors"
)

// TokenizerWriter writes tokenizer files into a model directory
// (*tokenize.Tokenizer does).
type TokenizerWriter interface {
	WriteFiles(dir string) error
}

// Save writes the model as a Hugging Face directory that
// transformers.GPT2LMHeadModel.from_pretrained loads: config.json,
// model.safetensors (HF names, Conv1D weights [in, out], metadata
// format=pt) and the tokenizer files. The directory is replaced atomically
// (mode 0700, files 0600): a crash leaves the old one or the new one.
func (m *Model) Save(dir string, tok TokenizerWriter) error {
	return atomicfile.ReplaceDir(dir, 0o700, func(tmp string) error { return m.WriteFiles(tmp, tok) })
}

// WriteFiles writes the model's files into an existing directory (for
// callers that assemble a larger directory atomically, such as checkpoints).
func (m *Model) WriteFiles(dir string, tok TokenizerWriter) error {
	c := m.Config
	if c.TorchDtype != "" {
		c.TorchDtype = "float32" // what model.safetensors holds, whatever dtype was loaded
	}
	cfg, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), append(cfg, '\n'), 0o600); err != nil {
		return err
	}
	gen, _ := json.MarshalIndent(map[string]any{"bos_token_id": m.Config.BosTokenID, "eos_token_id": m.Config.EosTokenID,
		"_from_model_config": true}, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "generation_config.json"), append(gen, '\n'), 0o600); err != nil {
		return err
	}
	tensors := make([]safetensors.Tensor, len(m.Layout.Tensors))
	for i, t := range m.Layout.Tensors {
		tensors[i] = safetensors.Tensor{Name: t.Name, Shape: t.Shape, Data: t.Slice(m.Params)}
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), 0o600, tensors, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	if tok == nil || isNilPointer(tok) {
		return nil
	}
	return tok.WriteFiles(dir)
}

// isNilPointer catches a nil *tokenize.Tokenizer passed as the interface
// (a non-nil interface holding a nil pointer), which means "no tokenizer".
func isNilPointer(v any) bool {
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Pointer && r.IsNil()
}
