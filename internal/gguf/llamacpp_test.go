package gguf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/llmtune/llmtune/internal/testutil"
)

// installHint says how to get llama.cpp for these tests (no network is
// needed once installed; .ci/run does this).
const installHint = `npm install --prefix DIR --no-audit --no-fund --omit=optional --ignore-scripts ` +
	`node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1 @huggingface/gguf@0.4.6 ` +
	`and set LLMTUNE_NODE_MODULES=DIR/node_modules`

// nodeModules returns the node_modules directory that holds node-llama-cpp,
// or skips the test saying how to install it.
func nodeModules(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: cannot check the GGUF file with llama.cpp; " + installHint)
	}
	dir := os.Getenv("LLMTUNE_NODE_MODULES")
	if dir == "" {
		t.Skip("LLMTUNE_NODE_MODULES is not set: cannot check the GGUF file with llama.cpp; " + installHint)
	}
	for _, p := range []string{"node-llama-cpp/package.json", "@node-llama-cpp/linux-x64/package.json"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Skipf("%s is missing (%v); %s", p, err, installHint)
		}
	}
	return dir
}

type llamaRequest struct {
	NodeModules string   `json:"node_modules"`
	Model       string   `json:"model"`
	Context     int      `json:"context"`
	Vocab       int      `json:"vocab"`
	Prompt      []int32  `json:"prompt"`
	Greedy      int      `json:"greedy"`
	GreedyFrom  []int32  `json:"greedy_prompt,omitempty"`
	LogitsOut   string   `json:"logits_out,omitempty"`
	Tokenize    []string `json:"tokenize,omitempty"`
	Bench       int      `json:"bench,omitempty"`
	Threads     int      `json:"threads,omitempty"`
}

type llamaResult struct {
	LoadMS          float64   `json:"load_ms"`
	Tokenized       [][]int32 `json:"tokenized"`
	SpecialEOT      []int32   `json:"special_eot"`
	EOSPiece        *string   `json:"eos_piece"`
	BOS             int32     `json:"bos"`
	EOS             int32     `json:"eos"`
	Greedy          []int32   `json:"greedy"`
	PromptMS        float64   `json:"prompt_ms"`
	BenchTokens     int       `json:"bench_tokens"`
	BenchTokensPerS float64   `json:"bench_tokens_per_s"` // from the median time
	BenchMedianMS   float64   `json:"bench_median_ms"`
	BenchBestMS     float64   `json:"bench_best_ms"`
	Logits          []float32 `json:"-"` // [len(Prompt), Vocab]
}

// runLlama has llama.cpp (node-llama-cpp) load a GGUF file and evaluate req.
// The run gets no network when the machine allows unshare -n.
func runLlama(t testing.TB, req llamaRequest) llamaResult {
	t.Helper()
	dir := t.TempDir()
	if req.Vocab > 0 && len(req.Prompt) > 0 {
		req.LogitsOut = filepath.Join(dir, "logits.f32")
	}
	rb, _ := json.Marshal(req)
	reqPath := filepath.Join(dir, "req.json")
	if err := os.WriteFile(reqPath, rb, 0o600); err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs(filepath.Join("testdata", "llamacpp.mjs"))
	args := []string{"node", script, reqPath}
	if out, err := exec.Command("unshare", "-n", "true").CombinedOutput(); err == nil && len(out) == 0 {
		args = append([]string{"unshare", "-n"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("llama.cpp (node-llama-cpp) failed on %s: %v\n%s", req.Model, err, stderr.String())
	}
	var res llamaResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("llama.cpp output %q: %v\n%s", stdout.String(), err, stderr.String())
	}
	if req.LogitsOut != "" {
		b, err := os.ReadFile(req.LogitsOut)
		if err != nil {
			t.Fatal(err)
		}
		res.Logits = make([]float32, len(b)/4)
		for i := range res.Logits {
			res.Logits[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
	return res
}

// meanLoss is the mean cross-entropy of predicting tokens[i+1] from the
// logits at position i.
func meanLoss(logits []float32, tokens []int32, V int) float64 {
	var sum float64
	for i := 0; i+1 < len(tokens); i++ {
		row := logits[i*V : (i+1)*V]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v) - mx)
		}
		sum += mx + math.Log(z) - float64(row[tokens[i+1]])
	}
	return sum / float64(len(tokens)-1)
}

type reference struct {
	Tokens     []int32 `json:"tokens"`
	Loss       float64 `json:"loss"`
	LogitsLast struct {
		First16 []float64 `json:"first16"`
		Sum     float64   `json:"sum"`
		L2      float64   `json:"l2"`
		Argmax  int       `json:"argmax"`
	} `json:"logits_last"`
}

func exportTo(t testing.TB, dir string, typ TensorType) string {
	t.Helper()
	m := loadHF(t, dir)
	v, err := ReadVocab(dir, m.Config.VocabSize, m.Config.BosTokenID, m.Config.EosTokenID)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model-"+typ.String()+".gguf")
	if err := ExportFile(path, m.Config, m.Layout, m.Params, v, ExportOptions{Type: typ, Name: filepath.Base(dir)}); err != nil {
		t.Fatal(err)
	}
	return path
}

// llama.cpp loads the exported reference model and computes, on the
// reference tokens, the mean loss and logits PyTorch computed
// (testdata/models/reference_tiny-perturbed.json: the perturbed model
// has non-trivial biases and LayerNorm weights, so a dropped or transposed
// one shows).
func TestLlamaCppMatchesPyTorch(t *testing.T) {
	nm := nodeModules(t)
	dir := tinyDir(t)
	var ref reference
	rb, err := os.ReadFile(testutil.Testdata(t, "models", "reference_tiny-perturbed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rb, &ref); err != nil {
		t.Fatal(err)
	}
	const V = 50257
	// Tolerances: f32 differs from PyTorch only by llama.cpp's fp16 GELU
	// table; f16 and q8_0 add their weight rounding. A Conv1D weight left
	// untransposed moves the loss by about 5e-3.
	for _, tc := range []struct {
		typ           TensorType
		lossTol, lRel float64
	}{
		{F32, 1e-4, 1e-3},  // measured: loss 3e-6, logits 1.3e-4
		{F16, 1e-4, 2e-3},  // measured: loss 7e-6, logits 3e-4
		{Q8_0, 2e-3, 2e-2}, // measured: loss 4.4e-4, logits 6e-3
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			path := exportTo(t, dir, tc.typ)
			st, _ := os.Stat(path)
			start := time.Now()
			res := runLlama(t, llamaRequest{NodeModules: nm, Model: path, Context: 128, Vocab: V, Prompt: ref.Tokens})
			loss := meanLoss(res.Logits, ref.Tokens, V)
			t.Logf("%s: %d bytes, llama.cpp loss %.6f vs PyTorch %.6f (diff %.2g), run %v",
				tc.typ, st.Size(), loss, ref.Loss, loss-ref.Loss, time.Since(start).Round(time.Millisecond))
			if math.Abs(loss-ref.Loss) > tc.lossTol {
				t.Errorf("mean loss %.6f, PyTorch %.6f: off by more than %g", loss, ref.Loss, tc.lossTol)
			}
			last := res.Logits[(len(ref.Tokens)-1)*V:]
			var maxDiff, scale float64
			for i, w := range ref.LogitsLast.First16 {
				maxDiff = math.Max(maxDiff, math.Abs(float64(last[i])-w))
				scale = math.Max(scale, math.Abs(w))
			}
			var sum, l2 float64
			arg := 0
			for i, v := range last {
				sum += float64(v)
				l2 += float64(v) * float64(v)
				if v > last[arg] {
					arg = i
				}
			}
			l2 = math.Sqrt(l2)
			t.Logf("last logits: max |diff| %.3g of max |logit| %.3g; l2 %.6f vs %.6f; argmax %d vs %d",
				maxDiff, scale, l2, ref.LogitsLast.L2, arg, ref.LogitsLast.Argmax)
			if maxDiff > tc.lRel*scale || math.Abs(l2-ref.LogitsLast.L2) > tc.lRel*ref.LogitsLast.L2 {
				t.Errorf("last-position logits differ from PyTorch beyond %g relative", tc.lRel)
			}
			if tc.typ == F32 && arg != ref.LogitsLast.Argmax {
				t.Errorf("argmax %d, PyTorch %d", arg, ref.LogitsLast.Argmax)
			}
		})
	}
}
