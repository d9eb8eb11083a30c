package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/llmtune/llmtune/internal/safetensors"
)

// Load reads a Hugging Face GPT-2 model directory: config.json and
// model.safetensors (or the shards listed in model.safetensors.index.json),
// F32, F16 or BF16, names with or without "transformer.", an lm_head.weight
// that must equal wte (the head is tied), and the h.N.attn.bias mask buffers
// of hub checkpoints ignored. Each tensor is read once, straight into the
// model's single parameter buffer.
func Load(dir string) (*Model, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	files, err := weightFiles(dir)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, Layout: NewLayout(cfg)}
	m.Params = make([]float32, m.Layout.Total)
	seen := make(map[string]string, len(m.Layout.Tensors))
	// lm_head.weight is compared with wte after every file is read (wte may
	// come later, from another shard), in pieces, so a tied head never costs
	// a second copy of the embedding in memory.
	var lmHeadFile, lmHeadName string
	for _, path := range files {
		f, err := safetensors.Open(path)
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(f.Tensors))
		for n := range f.Tensors {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, raw := range names {
			info := f.Tensors[raw]
			name := strings.TrimPrefix(raw, "transformer.")
			if maskBuffer.MatchString(name) {
				continue
			}
			if name == "lm_head.weight" {
				lmHeadFile, lmHeadName = path, raw
				continue
			}
			t, ok := m.Layout.Lookup(name)
			if !ok {
				f.Close()
				return nil, fmt.Errorf("%s: tensor %q is not part of a GPT-2 model with n_layer %d (is config.json from the same model?)", path, raw, cfg.NLayer)
			}
			if prev, dup := seen[name]; dup {
				f.Close()
				return nil, fmt.Errorf("%s: tensor %q appears again (first in %s)", path, raw, prev)
			}
			if !sameShape(info.Shape, t.Shape) {
				f.Close()
				return nil, fmt.Errorf("%s: tensor %q has shape %v but config.json implies %v", path, raw, info.Shape, t.Shape)
			}
			if err := f.ReadFloat32(raw, t.Slice(m.Params)); err != nil {
				f.Close()
				return nil, err
			}
			seen[name] = path
		}
		f.Close()
	}
	for _, t := range m.Layout.Tensors {
		if _, ok := seen[t.Name]; !ok {
			return nil, fmt.Errorf("%s: tensor %q is missing (looked in %s)", dir, t.Name, strings.Join(rel(dir, files), ", "))
		}
	}
	if lmHeadFile != "" {
		if err := checkTied(m, lmHeadFile, lmHeadName); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// checkTied verifies that the file's lm_head.weight equals the loaded wte:
// the network always ties the head, so a different head would be silently
// replaced.
func checkTied(m *Model, path, name string) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	wte, _ := m.Layout.Lookup("wte.weight")
	if info := f.Tensors[name]; !sameShape(info.Shape, wte.Shape) {
		return fmt.Errorf("%s: %s has shape %v, wte.weight %v; untied heads are not supported", path, name, info.Shape, wte.Shape)
	}
	w := wte.Slice(m.Params)
	buf := make([]float32, min(1<<16, len(w)))
	for lo := 0; lo < len(w); lo += len(buf) {
		part := buf[:min(len(buf), len(w)-lo)]
		if err := f.ReadFloat32At(name, part, int64(lo)); err != nil {
			return err
		}
		for i, v := range part {
			if v != w[lo+i] {
				return fmt.Errorf("%s: %s differs from wte.weight at element %d; untied heads are not supported", path, name, lo+i)
			}
		}
	}
	return nil
}

var maskBuffer = regexp.MustCompile(`^h\.\d+\.attn\.(bias|masked_bias)$`)

// weightFiles lists the safetensors files of a model directory.
func weightFiles(dir string) ([]string, error) {
	single := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(single); err == nil {
		return []string{single}, nil
	}
	index := filepath.Join(dir, "model.safetensors.index.json")
	b, err := os.ReadFile(index)
	if errors.Is(err, os.ErrNotExist) {
		hint := ""
		if _, err := os.Stat(filepath.Join(dir, "pytorch_model.bin")); err == nil {
			hint = "; pytorch_model.bin (pickle) is not read: save the model with safe_serialization=True"
		}
		return nil, fmt.Errorf("%s: no model.safetensors or model.safetensors.index.json%s", dir, hint)
	}
	if err != nil {
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", index, err)
	}
	set := map[string]bool{}
	for name, file := range idx.WeightMap {
		if file == "" || strings.Contains(file, "/") || strings.Contains(file, `\`) || file == ".." {
			return nil, fmt.Errorf("%s: tensor %q maps to %q, which is not a file in the model directory", index, name, file)
		}
		set[file] = true
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("%s: weight_map is empty", index)
	}
	var files []string
	for f := range set {
		files = append(files, filepath.Join(dir, f))
	}
	sort.Strings(files)
	return files, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func rel(dir string, files []string) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = filepath.Base(f)
	}
	_ = dir
	return out
}
