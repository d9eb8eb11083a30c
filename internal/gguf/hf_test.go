package gguf

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmtune/llmtune/internal/model"
)

// loadHF reads an F32 Hugging Face GPT-2 directory (config.json and one
// model.safetensors) into a model.Model, skipping the attn.bias buffers. It
// is the test's own minimal reader, independent of the product's loader.
func loadHF(t testing.TB, dir string) *model.Model {
	t.Helper()
	cfg, err := model.ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	data := b[8+n:]
	lay := model.NewLayout(cfg)
	params := make([]float32, lay.Total)
	seen := 0
	for name, raw := range hdr {
		if name == "__metadata__" {
			continue
		}
		var ti struct {
			Dtype   string `json:"dtype"`
			Shape   []int  `json:"shape"`
			Offsets [2]int `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &ti); err != nil {
			t.Fatal(err)
		}
		name = strings.TrimPrefix(name, "transformer.")
		if strings.HasSuffix(name, ".attn.bias") || strings.HasSuffix(name, ".attn.masked_bias") {
			continue
		}
		lt, ok := lay.Lookup(name)
		if !ok || ti.Dtype != "F32" || ti.Offsets[1]-ti.Offsets[0] != 4*lt.Size {
			t.Fatalf("%s: tensor %s %s %v does not fit the layout", dir, name, ti.Dtype, ti.Shape)
		}
		dst := lt.Slice(params)
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[ti.Offsets[0]+4*i:]))
		}
		seen++
	}
	if seen != len(lay.Tensors) {
		t.Fatalf("%s: %d of %d tensors", dir, seen, len(lay.Tensors))
	}
	return &model.Model{Config: cfg, Layout: lay, Params: params}
}
