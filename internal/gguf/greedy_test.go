package gguf

import (
	"context"
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/llmtune/llmtune/internal/model"
	"github.com/llmtune/llmtune/internal/testutil"
	"github.com/llmtune/llmtune/internal/tokenize"
)

const trainText = "The patient was admitted with chest pain and shortness of breath. " +
	"The doctor ordered an ECG and a troponin test, which came back normal."

// trainTiny fine-tunes the reference tiny model on one sentence with Adam
// until it has memorised it, so that greedy decoding has clear margins.
func trainTiny(t testing.TB, m *model.Model, ids []int32, steps int) {
	t.Helper()
	T := len(ids) - 1
	tr, err := model.NewTrainer(m, model.TrainOptions{Batch: 1, Seq: T})
	if err != nil {
		t.Fatal(err)
	}
	mask := make([]float32, T)
	for i := range mask {
		mask[i] = 1
	}
	p, g := tr.Trainable(), tr.Grads()
	m1, m2 := make([]float32, len(p)), make([]float32, len(p))
	const lr, b1, b2 = 3e-3, 0.9, 0.999
	var loss float64
	for s := 1; s <= steps; s++ {
		tr.ZeroGrads()
		sum, n, err := tr.Step(ids[:T], ids[1:], mask, 1/float32(T), uint64(s))
		if err != nil {
			t.Fatal(err)
		}
		loss = sum / n
		c1, c2 := 1-math.Pow(b1, float64(s)), 1-math.Pow(b2, float64(s))
		for i := range p {
			m1[i] = b1*m1[i] + (1-b1)*g[i]
			m2[i] = b2*m2[i] + (1-b2)*g[i]*g[i]
			p[i] -= float32(lr * (float64(m1[i]) / c1) / (math.Sqrt(float64(m2[i])/c2) + 1e-8))
		}
	}
	t.Logf("trained %d steps on %d tokens: loss %.4f", steps, T, loss)
}

// A small trained model exported to GGUF continues a prompt exactly as
// llmtune's own generator (model.Generate and the llmtune generate command)
// does, greedily; llama.cpp tokenizes text as llmtune's tokenizer does, and
// its logits agree with llmtune's forward pass.
func TestLlamaCppGreedyMatchesGenerate(t *testing.T) {
	nm := nodeModules(t)
	dir := tinyDir(t)
	m := loadHF(t, dir)
	tok, err := tokenize.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	eos := tok.EOS()
	// Training examples start and end with EOS (tokenize.Pack).
	ids := append(append([]int32{eos}, tok.Encode(trainText)...), eos)
	trainTiny(t, m, ids, 40)

	v, err := ReadVocab(dir, m.Config.VocabSize, m.Config.BosTokenID, m.Config.EosTokenID)
	if err != nil {
		t.Fatal(err)
	}
	const promptText = "The patient was"
	prompt := append([]int32{eos}, tok.Encode(promptText)...) // as llmtune generate encodes it: EOS first, as in training
	const n = 24
	want, err := model.Generate(context.Background(), m, prompt, model.GenerateOptions{MaxTokens: n, EOS: -1}, func(int32) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	// The llmtune binary, from the saved model, continues the same way.
	saved := filepath.Join(t.TempDir(), "model")
	if err := m.Save(saved, tok); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testutil.Binary(t), "generate", "--json", "--model", saved, "--prompt", promptText, "--max-tokens", strconv.Itoa(n))
	gout, err := cmd.Output()
	if err != nil {
		t.Fatalf("llmtune generate: %v", err)
	}
	var gen struct {
		Completion string `json:"completion"`
	}
	if err := json.Unmarshal(gout, &gen); err != nil {
		t.Fatalf("llmtune generate printed %q: %v", gout, err)
	}
	if gen.Completion != tok.Decode(want) {
		t.Fatalf("llmtune generate: %q, model.Generate: %q", gen.Completion, tok.Decode(want))
	}
	// Our logits for the prompt followed by the generated text.
	seq := append(slices.Clone(prompt), want...)
	T := len(seq)
	tr, err := model.NewTrainer(m, model.TrainOptions{Batch: 1, Seq: T})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tr.Eval(seq, seq, make([]float32, T)); err != nil {
		t.Fatal(err)
	}
	ours := slices.Clone(tr.Logits())

	texts := []string{trainText, " Dr. Rao's patient (age 54) paid ₹1,200 — 3x!", "  spaces\tand\nnewlines<|endoftext|>", "हिन्दी और தமிழ் 😀"}
	for _, typ := range []TensorType{F32, Q8_0} {
		t.Run(typ.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.gguf")
			if err := ExportFile(path, m.Config, m.Layout, m.Params, v, ExportOptions{Type: typ}); err != nil {
				t.Fatal(err)
			}
			V := m.Config.VocabSize
			res := runLlama(t, llamaRequest{NodeModules: nm, Model: path, Context: m.Config.NPositions, Vocab: V,
				Prompt: seq, Greedy: n, GreedyFrom: prompt, Tokenize: texts})
			t.Logf("greedy: %q", tok.Decode(res.Greedy))
			if !slices.Equal(res.Greedy, want) {
				t.Errorf("greedy continuation of %v:\nllama.cpp %v %q\nllmtune   %v %q", prompt, res.Greedy, tok.Decode(res.Greedy), want, tok.Decode(want))
			}
			if res.BOS != eos || res.EOS != eos || !slices.Equal(res.SpecialEOT, []int32{eos}) {
				t.Errorf("llama.cpp: bos %d, eos %d, <|endoftext|> with special tokens %v; want %d", res.BOS, res.EOS, res.SpecialEOT, eos)
			}
			if res.EOSPiece == nil || *res.EOSPiece != "" {
				piece := "(none)"
				if res.EOSPiece != nil {
					piece = *res.EOSPiece
				}
				t.Errorf("llama.cpp renders the end-of-text token as text %q: it is not a control token", piece)
			}
			for i, s := range texts {
				if w := tok.Encode(s); !slices.Equal(res.Tokenized[i], w) {
					t.Errorf("llama.cpp tokenizes %q as %v, llmtune as %v", s, res.Tokenized[i], w)
				}
			}
			// Logits at every position, relative to the row's spread.
			var worst float64
			for i := 0; i < T; i++ {
				var scale, d float64
				for j := 0; j < V; j++ {
					a, b := float64(res.Logits[i*V+j]), float64(ours[i*V+j])
					scale = math.Max(scale, math.Abs(b))
					d = math.Max(d, math.Abs(a-b))
				}
				worst = math.Max(worst, d/scale)
			}
			lossOurs, lossLlama := meanLoss(ours, seq, V), meanLoss(res.Logits, seq, V)
			t.Logf("%s: worst logit diff %.3g of the row's max |logit|; mean loss llama.cpp %.6f, llmtune %.6f", typ, worst, lossLlama, lossOurs)
			relTol, lossTol := 1e-3, 1e-4
			if typ == Q8_0 {
				relTol, lossTol = 2e-2, 5e-3
			}
			if worst > relTol || math.Abs(lossOurs-lossLlama) > lossTol {
				t.Errorf("logits differ by %.3g relative (tolerance %g), loss by %.3g (tolerance %g)", worst, relTol, lossOurs-lossLlama, lossTol)
			}
		})
	}
}
