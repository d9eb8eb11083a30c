package model

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/llmtune/llmtune/internal/safetensors"
	"github.com/llmtune/llmtune/internal/testutil"
)

// The loader must put every tensor where the independent reference reader
// does, and the loaded model must reproduce PyTorch's loss.
func TestLoadMatchesReference(t *testing.T) {
	dir, _, _ := refPaths(t, "tiny-perturbed")
	ref, refJSON, _ := loadRefModel(t, "tiny-perturbed")
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Params {
		if m.Params[i] != ref.Params[i] {
			t.Fatalf("param %d differs", i)
		}
	}
	if got := evalLoss(t, m, refJSON.Tokens); math.Abs(got-refJSON.Loss)/refJSON.Loss > 1e-5 {
		t.Fatalf("loss %v, PyTorch %v", got, refJSON.Loss)
	}
}

func evalLoss(t *testing.T, m *Model, tokens []int32) float64 {
	t.Helper()
	tr, err := NewTrainer(m, TrainOptions{Batch: 1, Seq: len(tokens)})
	if err != nil {
		t.Fatal(err)
	}
	targets, mask := shifted(tokens)
	sum, n, err := tr.Eval(tokens, targets, mask)
	if err != nil {
		t.Fatal(err)
	}
	return sum / n
}

type fakeTok struct{}

func (fakeTok) WriteFiles(dir string) error {
	return os.WriteFile(filepath.Join(dir, "vocab.json"), []byte("{}"), 0o600)
}

func TestSaveLoadRoundTrip(t *testing.T) {
	cfg, _ := Preset("gpt2-tiny")
	m := Init(cfg, 7)
	out := filepath.Join(t.TempDir(), "model")
	if err := m.Save(out, fakeTok{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "model.safetensors", "vocab.json", "generation_config.json"} {
		st, err := os.Stat(filepath.Join(out, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, err, st)
		}
	}
	st, _ := os.Stat(out)
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", st.Mode().Perm())
	}
	back, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Params {
		if back.Params[i] != m.Params[i] {
			t.Fatalf("param %d: %v != %v", i, back.Params[i], m.Params[i])
		}
	}
	f, err := safetensors.Open(filepath.Join(out, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata["format"] != "pt" {
		t.Fatalf("metadata %v", f.Metadata)
	}
	if s := f.Tensors["h.0.attn.c_attn.weight"].Shape; s[0] != 64 || s[1] != 192 {
		t.Fatalf("Conv1D weight must be stored [in,out], got %v", s)
	}
	var c map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "config.json"))
	json.Unmarshal(b, &c)
	if c["model_type"] != "gpt2" || c["n_embd"].(float64) != 64 {
		t.Fatalf("config.json %v", c)
	}
}

// A file we write must be read by the independent Python reader used to make
// the references, with identical values.
func TestSavedFileReadByPythonReader(t *testing.T) {
	py := "/usr/bin/python3"
	reader := testutil.Shared(t, "ref", "safetensors_io.py")
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		t.Skip("python3 with numpy not available")
	}
	dir, _, _ := refPaths(t, "tiny-perturbed")
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "m")
	if err := m.Save(out, nil); err != nil {
		t.Fatal(err)
	}
	script := `import sys; sys.path.insert(0, sys.argv[1]); import safetensors_io as s
a, _ = s.load_file(sys.argv[2]); b, mb = s.load_file(sys.argv[3])
assert mb.get('format') == 'pt', mb
assert sorted(a) == sorted(b), (sorted(a), sorted(b))
for k in a: assert (a[k] == b[k]).all() and a[k].shape == b[k].shape, k
print(len(a))`
	cmd := exec.Command(py, "-c", script, filepath.Dir(reader), filepath.Join(dir, "model.safetensors"), filepath.Join(out, "model.safetensors"))
	o, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python reader: %v\n%s", err, o)
	}
}

// Hub checkpoints: "transformer." prefix, lm_head.weight, attn.bias buffers,
// F16 weights, and shards.
func TestLoadHubVariants(t *testing.T) {
	cfg, _ := Preset("gpt2-tiny")
	cfg.NPositions, cfg.NCtx, cfg.VocabSize = 16, 16, 50
	m := Init(cfg, 1)
	cfgJSON, _ := json.Marshal(cfg)

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), cfgJSON, 0o600)
	var a, b []safetensors.Tensor
	for i, tn := range m.Layout.Tensors {
		x := safetensors.Tensor{Name: "transformer." + tn.Name, Shape: tn.Shape, Data: tn.Slice(m.Params)}
		if i%2 == 0 {
			a = append(a, x)
		} else {
			b = append(b, x)
		}
	}
	wte, _ := m.Layout.Lookup("wte.weight")
	a = append(a, safetensors.Tensor{Name: "lm_head.weight", Shape: wte.Shape, Data: wte.Slice(m.Params)})
	mask := make([]float32, 16*16)
	b = append(b, safetensors.Tensor{Name: "transformer.h.0.attn.bias", Shape: []int{1, 1, 16, 16}, Data: mask})
	safetensors.Write(filepath.Join(dir, "model-00001-of-00002.safetensors"), 0o600, a, nil)
	safetensors.Write(filepath.Join(dir, "model-00002-of-00002.safetensors"), 0o600, b, nil)
	wm := map[string]string{}
	for _, x := range a {
		wm[x.Name] = "model-00001-of-00002.safetensors"
	}
	for _, x := range b {
		wm[x.Name] = "model-00002-of-00002.safetensors"
	}
	idx, _ := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": wm})
	os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), idx, 0o600)
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Params {
		if got.Params[i] != m.Params[i] {
			t.Fatalf("sharded load differs at %d", i)
		}
	}

	// An untied head is refused by name.
	a[len(a)-1].Data = append([]float32(nil), a[len(a)-1].Data...)
	a[len(a)-1].Data[3] += 1
	safetensors.Write(filepath.Join(dir, "model-00001-of-00002.safetensors"), 0o600, a, nil)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "lm_head.weight") {
		t.Fatalf("untied head: %v", err)
	}
}

func TestLoadF16(t *testing.T) {
	cfg, _ := Preset("gpt2-tiny")
	cfg.VocabSize, cfg.NPositions, cfg.NCtx = 40, 8, 8
	m := Init(cfg, 3)
	dir := t.TempDir()
	cfgJSON, _ := json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, "config.json"), cfgJSON, 0o600)
	// Hand-encode every tensor as F16 (values rounded to multiples of 2^-10 that F16 holds exactly).
	hdr := map[string]any{}
	var data []byte
	want := make([]float32, len(m.Params))
	for _, tn := range m.Layout.Tensors {
		start := len(data)
		for i, v := range tn.Slice(m.Params) {
			q := float32(math.Round(float64(v)*1024) / 1024)
			want[tn.Offset+i] = q
			data = binary.LittleEndian.AppendUint16(data, f32ToF16(q))
		}
		hdr[tn.Name] = map[string]any{"dtype": "F16", "shape": tn.Shape, "data_offsets": []int{start, len(data)}}
	}
	h, _ := json.Marshal(hdr)
	file := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	file = append(append(file, h...), data...)
	os.WriteFile(filepath.Join(dir, "model.safetensors"), file, 0o600)
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got.Params[i] != want[i] {
			t.Fatalf("param %d = %v want %v", i, got.Params[i], want[i])
		}
	}
}

// f32ToF16 encodes values that are exactly representable (test helper).
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	if f == 0 {
		return sign
	}
	exp := int((b>>23)&0xff) - 127 + 15
	mant := (b >> 13) & 0x3ff
	if exp <= 0 { // subnormal
		m := (b&0x7fffff | 0x800000) >> uint(14-exp)
		return sign | uint16(m>>0)&0x3ff
	}
	return sign | uint16(exp)<<10 | uint16(mant)
}

func TestLoadErrors(t *testing.T) {
	src, _, _ := refPaths(t, "tiny-perturbed")
	cfgBytes, _ := os.ReadFile(filepath.Join(src, "config.json"))
	weights, _ := os.ReadFile(filepath.Join(src, "model.safetensors"))
	mk := func(cfg []byte, w []byte) string {
		d := t.TempDir()
		if cfg != nil {
			os.WriteFile(filepath.Join(d, "config.json"), cfg, 0o600)
		}
		if w != nil {
			os.WriteFile(filepath.Join(d, "model.safetensors"), w, 0o600)
		}
		return d
	}
	llama := strings.Replace(string(cfgBytes), `"gpt2"`, `"llama"`, 1)
	wide := strings.Replace(string(cfgBytes), `"n_embd": 64`, `"n_embd": 128`, 1)
	unscaled := strings.Replace(string(cfgBytes), `"scale_attn_weights": true`, `"scale_attn_weights": false`, 1)
	for _, c := range []struct {
		name string
		dir  string
		want string
	}{
		{"no config", mk(nil, weights), "config.json"},
		{"no weights", mk(cfgBytes, nil), "no model.safetensors"},
		{"model_type", mk([]byte(llama), weights), "llama"},
		{"shape", mk([]byte(wide), weights), "shape"},
		{"unscaled attention", mk([]byte(unscaled), weights), "scale_attn_weights"},
		{"truncated", mk(cfgBytes, weights[:len(weights)/2]), "model.safetensors"},
	} {
		_, err := Load(c.dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

// Hugging Face's initialisation: std 0.02, c_proj scaled by 1/sqrt(2*n_layer).
func TestInitStatistics(t *testing.T) {
	cfg, _ := Preset("gpt2-small")
	m := Init(cfg, 0)
	std := func(name string) float64 {
		tn, _ := m.Layout.Lookup(name)
		var s, s2 float64
		x := tn.Slice(m.Params)
		for _, v := range x {
			s += float64(v)
			s2 += float64(v) * float64(v)
		}
		n := float64(len(x))
		return math.Sqrt(s2/n - (s/n)*(s/n))
	}
	for name, want := range map[string]float64{
		"wte.weight": 0.02, "h.0.attn.c_attn.weight": 0.02, "h.1.mlp.c_fc.weight": 0.02,
		"h.0.attn.c_proj.weight": 0.02 / math.Sqrt(8), "h.3.mlp.c_proj.weight": 0.02 / math.Sqrt(8),
	} {
		if got := std(name); math.Abs(got-want)/want > 0.03 {
			t.Errorf("%s std %.5f want %.5f", name, got, want)
		}
	}
	ln, _ := m.Layout.Lookup("h.2.ln_1.weight")
	bias, _ := m.Layout.Lookup("h.2.mlp.c_fc.bias")
	if ln.Slice(m.Params)[5] != 1 || bias.Slice(m.Params)[5] != 0 {
		t.Fatal("LayerNorm weights must be 1 and biases 0")
	}
	again := Init(cfg, 0)
	if again.Params[12345] != m.Params[12345] || Init(cfg, 1).Params[12345] == m.Params[12345] {
		t.Fatal("Init must be a function of the seed")
	}
}

func TestAdapterRoundTrip(t *testing.T) {
	_, _, adapterDir := refPaths(t, "tiny-perturbed")
	cfg, tensors, shapes, err := ReadAdapter(adapterDir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Rank != 4 || cfg.Alpha != 16 || len(tensors) != 4 {
		t.Fatalf("cfg %+v, %d tensors", cfg, len(tensors))
	}
	a := shapes["base_model.model.transformer.h.1.attn.c_attn.lora_A.weight"]
	if len(a) != 2 || a[0] != 4 || a[1] != 64 {
		t.Fatalf("lora_A shape %v", a)
	}
	out := filepath.Join(t.TempDir(), "adapter")
	if err := WriteAdapter(out, cfg, "base", tensors, shapes); err != nil {
		t.Fatal(err)
	}
	cfg2, t2, _, err := ReadAdapter(out)
	if err != nil || cfg2.Rank != 4 || len(t2) != 4 {
		t.Fatalf("%+v %v", cfg2, err)
	}
	for k, v := range tensors {
		for i := range v {
			if t2[k][i] != v[i] {
				t.Fatalf("%s differs", k)
			}
		}
	}
	var ac map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "adapter_config.json"))
	json.Unmarshal(b, &ac)
	if ac["peft_type"] != "LORA" || ac["fan_in_fan_out"] != true {
		t.Fatalf("adapter_config %v", ac)
	}
}

// The independent PyTorch reference must load a directory we saved (its own
// config.json parser and safetensors reader) and compute PyTorch's reference
// loss from it.
func TestSavedModelLoadedByPyTorchReference(t *testing.T) {
	py := "/usr/bin/python3"
	refDir := filepath.Dir(testutil.Shared(t, "ref", "gpt2_ref.py"))
	if err := exec.Command(py, "-c", "import torch, numpy").Run(); err != nil {
		t.Skip("python3 with torch and numpy not available")
	}
	dir, _, _ := refPaths(t, "tiny-perturbed")
	_, refJSON, _ := loadRefModel(t, "tiny-perturbed")
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "m")
	if err := m.Save(out, nil); err != nil {
		t.Fatal(err)
	}
	ids, _ := json.Marshal(refJSON.Tokens)
	script := `import sys, json, torch; sys.path.insert(0, sys.argv[1]); import gpt2_ref
m = gpt2_ref.load_model_dir(sys.argv[2]); m.eval()
ids = torch.tensor([json.loads(sys.argv[3])], dtype=torch.long)
with torch.no_grad(): _, loss, _ = m(ids, labels=ids)
print(repr(float(loss)))`
	o, err := exec.Command(py, "-c", script, refDir, out, string(ids)).CombinedOutput()
	if err != nil {
		t.Fatalf("gpt2_ref.load_model_dir: %v\n%s", err, o)
	}
	lines := strings.Fields(strings.TrimSpace(string(o)))
	got, err := strconv.ParseFloat(lines[len(lines)-1], 64)
	if err != nil {
		t.Fatalf("python output %q", o)
	}
	if math.Abs(got-refJSON.Loss)/refJSON.Loss > 1e-6 {
		t.Fatalf("PyTorch loss on our saved model %v, reference %v", got, refJSON.Loss)
	}
}

type ptrTok struct{ dir string }

func (p *ptrTok) WriteFiles(dir string) error { p.dir = dir; return nil }

// A nil *tokenize.Tokenizer (callers with --init and no tokenizer) saves the
// model without tokenizer files instead of panicking.
func TestSaveNilTokenizerPointer(t *testing.T) {
	cfg, _ := Preset("gpt2-tiny")
	cfg.VocabSize, cfg.NPositions, cfg.NCtx = 40, 8, 8
	var tok *ptrTok
	if err := Init(cfg, 1).Save(filepath.Join(t.TempDir(), "m"), tok); err != nil {
		t.Fatal(err)
	}
}

// PEFT configs in their other spellings are read; variants whose maths
// differ from plain LoRA are refused by name.
func TestReadAdapterConfigVariants(t *testing.T) {
	_, _, src := refPaths(t, "tiny-perturbed")
	weights, err := os.ReadFile(filepath.Join(src, "adapter_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, cfg string
		targets   []string
		want      string
	}{
		{"string target", `{"peft_type":"LORA","r":4,"lora_alpha":8,"target_modules":"c_attn","init_lora_weights":"gaussian"}`, []string{"c_attn"}, ""},
		{"list", `{"peft_type":"LORA","r":4,"lora_alpha":8,"target_modules":["c_attn","c_proj"],"bias":"none"}`, []string{"c_attn", "c_proj"}, ""},
		{"rslora", `{"peft_type":"LORA","r":4,"lora_alpha":8,"use_rslora":true}`, nil, "use_rslora"},
		{"bias", `{"peft_type":"LORA","r":4,"lora_alpha":8,"bias":"all"}`, nil, "bias"},
		{"prefix tuning", `{"peft_type":"PREFIX_TUNING"}`, nil, "PREFIX_TUNING"},
	} {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, "adapter_config.json"), []byte(c.cfg), 0o600)
		os.WriteFile(filepath.Join(d, "adapter_model.safetensors"), weights, 0o600)
		cfg, _, _, err := ReadAdapter(d)
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "adapter_config.json") {
				t.Errorf("%s: err = %v, want mention of %q", c.name, err, c.want)
			}
			continue
		}
		if err != nil || strings.Join(cfg.Targets, ",") != strings.Join(c.targets, ",") || cfg.Alpha != 8 {
			t.Errorf("%s: %+v %v", c.name, cfg, err)
		}
	}
}

// Load then Save of the reference checkpoint writes every tensor with the
// original's name and bit pattern (read back by the test's own reader, not
// the package's).
func TestResaveReferenceBitIdentical(t *testing.T) {
	dir, _, _ := refPaths(t, "tiny-perturbed")
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "m")
	if err := m.Save(out, nil); err != nil {
		t.Fatal(err)
	}
	orig := readF32Safetensors(t, filepath.Join(dir, "model.safetensors"))
	saved := readF32Safetensors(t, filepath.Join(out, "model.safetensors"))
	if len(orig) != len(saved) {
		t.Fatalf("%d tensors saved, original has %d", len(saved), len(orig))
	}
	for name, want := range orig {
		got, ok := saved[name]
		if !ok || len(got) != len(want) {
			t.Fatalf("tensor %q missing or resized", name)
		}
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("tensor %q element %d: %v != %v", name, i, got[i], want[i])
			}
		}
	}
}
