package gguf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmtune/llmtune/internal/safetensors"
	"github.com/llmtune/llmtune/internal/testutil"
)

func runExportCLI(t *testing.T, args ...string) (map[string]any, int, string) {
	t.Helper()
	cmd := exec.Command(testutil.Binary(t), append([]string{"--json", "export"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil, ee.ExitCode(), stderr.String()
	} else if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		t.Fatalf("stdout %q: %v", stdout.String(), err)
	}
	return m, 0, stderr.String()
}

// `llmtune export` writes a 0600 GGUF file whose every tensor is the
// model's (read back with this package's reader against the test's own
// safetensors reader) and, with --ollama, a Modelfile beside it.
func TestExportCLI(t *testing.T) {
	dir := tinyDir(t)
	out := filepath.Join(t.TempDir(), "sub", "tiny.gguf")
	res, code, stderr := runExportCLI(t, "--model", dir, "--out", out, "--type", "q8_0", "--ollama")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || int64(res["bytes"].(float64)) != st.Size() {
		t.Errorf("mode %v, %d bytes; result %v", st.Mode().Perm(), st.Size(), res)
	}
	mf, err := os.ReadFile(filepath.Join(filepath.Dir(out), "Modelfile"))
	if err != nil || !strings.Contains(string(mf), "FROM ./tiny.gguf\n") || !strings.Contains(string(mf), "PARAMETER num_ctx 128\n") {
		t.Errorf("Modelfile: %v\n%s", err, mf)
	}
	f, closer, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	m := loadHF(t, dir)
	for _, lt := range m.Layout.Tensors {
		name, tr, _ := TensorName(lt.Name)
		got, err := f.ReadTensor(name)
		if err != nil {
			t.Fatal(err)
		}
		want := lt.Slice(m.Params)
		if tr {
			want = transpose(want, lt.Shape[0], lt.Shape[1])
		}
		var amax float64
		for _, w := range want {
			amax = math.Max(amax, math.Abs(float64(w)))
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > amax/127*0.6 {
				t.Fatalf("%s[%d] = %g, model has %g", name, i, got[i], want[i])
			}
		}
	}

	for _, bad := range [][]string{
		{"--model", dir},
		{"--model", dir, "--out", out, "--type", "q4_0"},
		{"--model", dir, "--out", out, "--ollama", "--template", "alpaca"},
	} {
		if _, code, _ := runExportCLI(t, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
	if _, code, stderr := runExportCLI(t, "--model", t.TempDir(), "--out", out); code != 1 || !strings.Contains(stderr, "config.json") {
		t.Errorf("empty model dir: exit %d, %s", code, stderr)
	}
}

// A LoRA adapter is merged into its base before export: llama.cpp's loss on
// the exported file is PyTorch's loss of the model with the adapter
// (10.889994), not the base's (10.889621).
func TestExportLoRAMergedMatchesPyTorch(t *testing.T) {
	nm := nodeModules(t)
	var ref struct {
		reference
		LoRA struct {
			Loss float64 `json:"loss"`
		} `json:"lora"`
	}
	rb, err := os.ReadFile(testutil.Testdata(t, "models", "reference_tiny-perturbed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rb, &ref); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "lora.gguf")
	res, code, stderr := runExportCLI(t, "--model", testutil.Testdata(t, "models", "tiny-perturbed_lora4_adapter"),
		"--base", tinyDir(t), "--out", out, "--type", "f32")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if res["lora_merged"] != true {
		t.Errorf("result %v", res)
	}
	const V = 50257
	lr := runLlama(t, llamaRequest{NodeModules: nm, Model: out, Context: 128, Vocab: V, Prompt: ref.Tokens})
	loss := meanLoss(lr.Logits, ref.Tokens, V)
	t.Logf("llama.cpp loss of the merged export %.6f, PyTorch with adapter %.6f, base %.6f", loss, ref.LoRA.Loss, ref.Loss)
	if math.Abs(loss-ref.LoRA.Loss) > 1e-4 {
		t.Errorf("loss %.6f, PyTorch with the adapter %.6f", loss, ref.LoRA.Loss)
	}
}

// The hub's gpt2 checkpoint also holds h.N.attn.bias causal-mask buffers
// (and names tensors "transformer.*"): they are not weights and must not
// reach the GGUF file; the weights exported are the same as without them.
func TestExportDropsAttnBias(t *testing.T) {
	src := tinyDir(t)
	dir := t.TempDir()
	for _, f := range []string{"config.json", "vocab.json", "merges.txt"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m := loadHF(t, src)
	var ts []safetensors.Tensor
	for _, lt := range m.Layout.Tensors {
		ts = append(ts, safetensors.Tensor{Name: "transformer." + lt.Name, Shape: lt.Shape, Data: lt.Slice(m.Params)})
	}
	P := m.Config.NPositions
	mask := make([]float32, P*P)
	for i := 0; i < P; i++ {
		for j := 0; j <= i; j++ {
			mask[i*P+j] = 1
		}
	}
	for i := 0; i < m.Config.NLayer; i++ {
		ts = append(ts, safetensors.Tensor{Name: fmt.Sprintf("transformer.h.%d.attn.bias", i), Shape: []int{1, 1, P, P}, Data: mask})
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), 0o600, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	withBias, plain := filepath.Join(t.TempDir(), "a.gguf"), filepath.Join(t.TempDir(), "b.gguf")
	for _, c := range [][2]string{{dir, withBias}, {src, plain}} {
		if _, code, stderr := runExportCLI(t, "--model", c[0], "--out", c[1], "--type", "f32", "--name", "x"); code != 0 {
			t.Fatalf("export %s: exit %d: %s", c[0], code, stderr)
		}
	}
	a, _ := os.ReadFile(withBias)
	b, _ := os.ReadFile(plain)
	if !bytes.Equal(a, b) {
		t.Errorf("export with attn.bias buffers differs from the export without them")
	}
	if bytes.Contains(a, []byte("attn.bias")) {
		t.Errorf("attn.bias reached the GGUF file")
	}
}
