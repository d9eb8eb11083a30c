package gguf

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/llmtune/llmtune/internal/model"
	"github.com/llmtune/llmtune/internal/testutil"
)

// tinyConfig is a GPT-2 small enough to build in a test, with q8_0-able
// rows (n_embd 64) and a vocabulary that fits a hand-made tokenizer.
func tinyConfig(vocab int) model.Config {
	cfg, err := model.Preset("gpt2-tiny")
	if err != nil {
		panic(err)
	}
	cfg.VocabSize = vocab
	cfg.NPositions = 16
	cfg.BosTokenID, cfg.EosTokenID = vocab-1, vocab-1
	return cfg
}

func randomParams(l *model.Layout, seed int64) []float32 {
	r := rand.New(rand.NewSource(seed))
	p := make([]float32, l.Total)
	for i := range p {
		p[i] = float32(r.NormFloat64() * 0.05)
	}
	return p
}

// smallVocab is a byte-level vocabulary of vocab ids with <|endoftext|> last.
func smallVocab(t *testing.T, vocab int) Vocab {
	ids := map[string]int{}
	for i := 0; i < vocab-1; i++ {
		ids[fmt.Sprintf("t%d", i)] = i
	}
	ids["<|endoftext|>"] = vocab - 1
	v, err := buildVocab(ids, []string{"t 1", "t1 2"}, nil, vocab, vocab-1, vocab-1, "test")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestBuildGPT2(t *testing.T) {
	const V = 96
	cfg := tinyConfig(V)
	lay := model.NewLayout(cfg)
	params := randomParams(lay, 1)
	v := smallVocab(t, V)
	C, I := cfg.NEmbd, cfg.Inner()
	for _, typ := range []TensorType{F32, F16, Q8_0} {
		t.Run(typ.String(), func(t *testing.T) {
			var buf bytes.Buffer
			if err := Export(&buf, cfg, lay, params, v, ExportOptions{Type: typ, Name: "tiny"}); err != nil {
				t.Fatal(err)
			}
			f, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			// llama.cpp's tensor names and ggml dims (innermost first).
			want := map[string][]uint64{
				"token_embd.weight":    {uint64(C), V},
				"position_embd.weight": {uint64(C), uint64(cfg.NPositions)},
				"output_norm.weight":   {uint64(C)},
				"output_norm.bias":     {uint64(C)},
				"output.weight":        {uint64(C), V},
			}
			for i := 0; i < cfg.NLayer; i++ {
				p := fmt.Sprintf("blk.%d.", i)
				for k, d := range map[string][]uint64{
					"attn_norm.weight": {uint64(C)}, "attn_norm.bias": {uint64(C)},
					"attn_qkv.weight": {uint64(C), uint64(3 * C)}, "attn_qkv.bias": {uint64(3 * C)},
					"attn_output.weight": {uint64(C), uint64(C)}, "attn_output.bias": {uint64(C)},
					"ffn_norm.weight": {uint64(C)}, "ffn_norm.bias": {uint64(C)},
					"ffn_up.weight": {uint64(C), uint64(I)}, "ffn_up.bias": {uint64(I)},
					"ffn_down.weight": {uint64(I), uint64(C)}, "ffn_down.bias": {uint64(C)},
				} {
					want[p+k] = d
				}
			}
			if len(f.Tensors) != len(want) {
				t.Errorf("%d tensors, want %d", len(f.Tensors), len(want))
			}
			for _, ti := range f.Tensors {
				d, ok := want[ti.Name]
				if !ok {
					t.Errorf("unexpected tensor %s", ti.Name)
					continue
				}
				if !reflect.DeepEqual(ti.Dims, d) {
					t.Errorf("%s: dims %v, want %v", ti.Name, ti.Dims, d)
				}
				wantType := typ
				if len(d) == 1 || ti.Name == "position_embd.weight" {
					wantType = F32
				}
				if ti.Type != wantType {
					t.Errorf("%s: type %v, want %v", ti.Name, ti.Type, wantType)
				}
			}
			// Every value against the HF parameter it came from, with the
			// Conv1D weights transposed: GGUF [out][in] = HF [in][out].
			check := func(gname, hf string, transposed bool) {
				got, err := f.ReadTensor(gname)
				if err != nil {
					t.Fatal(err)
				}
				ht, _ := lay.Lookup(hf)
				src := ht.Slice(params)
				ti, _ := f.Tensor(gname)
				// f16 rounds to 11 significant bits; q8_0 steps are at most
				// max|x|/127 with |x| < 0.3 here.
				tol := func(w float32) float64 {
					switch ti.Type {
					case F16:
						return math.Abs(float64(w))/2048 + 6e-8
					case Q8_0:
						return 0.3 / 127 / 2 * 1.07
					}
					return 0
				}
				rows, cols := 1, len(src)
				if len(ht.Shape) == 2 {
					rows, cols = ht.Shape[0], ht.Shape[1]
				}
				for r := 0; r < rows; r++ {
					for c := 0; c < cols; c++ {
						w := src[r*cols+c]
						g := got[r*cols+c]
						if transposed {
							g = got[c*rows+r]
						}
						if d := math.Abs(float64(g - w)); d > tol(w) {
							t.Fatalf("%s[%d,%d] = %g, HF %s has %g", gname, r, c, g, hf, w)
						}
					}
				}
			}
			check("token_embd.weight", "wte.weight", false)
			check("output.weight", "wte.weight", false)
			check("position_embd.weight", "wpe.weight", false)
			check("output_norm.bias", "ln_f.bias", false)
			for i := 0; i < cfg.NLayer; i++ {
				h, b := fmt.Sprintf("h.%d.", i), fmt.Sprintf("blk.%d.", i)
				check(b+"attn_qkv.weight", h+"attn.c_attn.weight", true)
				check(b+"attn_qkv.bias", h+"attn.c_attn.bias", false)
				check(b+"attn_output.weight", h+"attn.c_proj.weight", true)
				check(b+"ffn_up.weight", h+"mlp.c_fc.weight", true)
				check(b+"ffn_down.weight", h+"mlp.c_proj.weight", true)
				check(b+"ffn_down.bias", h+"mlp.c_proj.bias", false)
				check(b+"attn_norm.weight", h+"ln_1.weight", false)
				check(b+"ffn_norm.bias", h+"ln_2.bias", false)
			}
			// The keys llama.cpp reads, with the model's values.
			for k, w := range map[string]any{
				"general.architecture":              "gpt2",
				"general.name":                      "tiny",
				"general.file_type":                 typ.FileType(),
				"gpt2.context_length":               uint32(cfg.NPositions),
				"gpt2.embedding_length":             uint32(C),
				"gpt2.feed_forward_length":          uint32(I),
				"gpt2.block_count":                  uint32(cfg.NLayer),
				"gpt2.attention.head_count":         uint32(cfg.NHead),
				"gpt2.attention.layer_norm_epsilon": float32(cfg.LayerNormEpsilon),
				"tokenizer.ggml.model":              "gpt2",
				"tokenizer.ggml.pre":                "gpt-2",
				"tokenizer.ggml.bos_token_id":       uint32(V - 1),
				"tokenizer.ggml.eos_token_id":       uint32(V - 1),
				"tokenizer.ggml.tokens":             v.Tokens,
				"tokenizer.ggml.token_type":         v.Types,
				"tokenizer.ggml.merges":             v.Merges,
				"tokenizer.ggml.add_bos_token":      true,
				"tokenizer.ggml.add_eos_token":      false,
			} {
				if got, ok := f.Get(k); !ok || !reflect.DeepEqual(got, w) {
					t.Errorf("%s = %#v, want %#v", k, got, w)
				}
			}
			types, _ := f.Get("tokenizer.ggml.token_type")
			if tt := types.([]int32); tt[V-1] != TokenControl || tt[0] != TokenNormal {
				t.Errorf("token types: <|endoftext|> %d, t0 %d", tt[V-1], tt[0])
			}
		})
	}
}

func TestTensorNames(t *testing.T) {
	for hf, want := range map[string]string{
		"h.11.mlp.c_proj.weight": "blk.11.ffn_down.weight",
		"h.0.attn.c_attn.bias":   "blk.0.attn_qkv.bias",
		"h.3.ln_2.weight":        "blk.3.ffn_norm.weight",
		"ln_f.bias":              "output_norm.bias",
		"h.0.attn.bias":          "",
		"h.0.attn.masked_bias":   "",
		"lm_head.weight":         "",
	} {
		got, _, ok := TensorName(hf)
		if got != want || ok != (want != "") {
			t.Errorf("TensorName(%q) = %q, %v; want %q", hf, got, ok, want)
		}
	}
}

func TestBuildRejects(t *testing.T) {
	cfg := tinyConfig(96)
	lay := model.NewLayout(cfg)
	params := randomParams(lay, 1)
	v := smallVocab(t, 96)
	if _, _, err := Build(cfg, lay, params[:10], v, ExportOptions{Type: F32}); err == nil {
		t.Error("short params: no error")
	}
	if _, _, err := Build(cfg, lay, params, smallVocab(t, 95), ExportOptions{Type: F32}); err == nil {
		t.Error("vocab size mismatch: no error")
	}
	if _, _, err := Build(cfg, lay, params, v, ExportOptions{Type: 2}); err == nil {
		t.Error("q4_0: no error")
	}
	bad := cfg
	bad.ModelType = "llama"
	if _, _, err := Build(bad, lay, params, v, ExportOptions{Type: F32}); err == nil {
		t.Error("llama config: no error")
	}
}

// A row of 48 values is not a whole number of q8_0 blocks: those matrices
// fall back to f16, as llama.cpp's converter does.
func TestQ8FallsBackToF16(t *testing.T) {
	cfg := tinyConfig(96)
	cfg.NEmbd, cfg.NHead = 48, 4
	lay := model.NewLayout(cfg)
	_, tensors, err := Build(cfg, lay, randomParams(lay, 2), smallVocab(t, 96), ExportOptions{Type: Q8_0})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range tensors {
		if len(tn.Shape) == 2 && tn.Name != "position_embd.weight" {
			want := Q8_0
			if tn.Shape[1]%32 != 0 {
				want = F16
			}
			if tn.Type != want {
				t.Errorf("%s %v: %v, want %v", tn.Name, tn.Shape, tn.Type, want)
			}
		}
	}
}

func TestReadVocabGPT2(t *testing.T) {
	dir := tinyDir(t)
	v, err := ReadVocab(dir, 50257, 50256, 50256)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Tokens) != 50257 || v.Tokens[50256] != "<|endoftext|>" || v.Tokens[262] != "Ġthe" ||
		len(v.Merges) != 50000 || v.Merges[0] != "Ġ t" {
		t.Errorf("tokens %d [262]=%q [50256]=%q, merges %d [0]=%q", len(v.Tokens), v.Tokens[262], v.Tokens[50256], len(v.Merges), v.Merges[0])
	}
	nControl := 0
	for _, ty := range v.Types {
		if ty == TokenControl {
			nControl++
		}
	}
	if nControl != 1 || v.Types[50256] != TokenControl {
		t.Errorf("%d control tokens", nControl)
	}
	// A larger model vocabulary is padded with unused tokens.
	v, err = ReadVocab(dir, 50260, 50256, 50256)
	if err != nil || v.Tokens[50259] != "[PAD50259]" || v.Types[50259] != TokenUnused {
		t.Errorf("padded: %v %q", err, v.Tokens[len(v.Tokens)-1])
	}
	if _, err := ReadVocab(dir, 50000, 50256, 50256); err == nil {
		t.Error("vocab larger than the model: no error")
	}
}

func TestReadVocabTokenizerJSON(t *testing.T) {
	dir := t.TempDir()
	tj := `{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]},
	        "added_tokens":[{"id":3,"content":"<|endoftext|>","special":true}]}`
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(tj), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := ReadVocab(dir, 4, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v.Tokens, []string{"a", "b", "ab", "<|endoftext|>"}) || !reflect.DeepEqual(v.Merges, []string{"a b"}) ||
		!reflect.DeepEqual(v.Types, []int32{1, 1, 1, 3}) {
		t.Errorf("%+v", v)
	}
}

// tinyDir is the reference tiny GPT-2 with perturbed biases and LayerNorm
// weights (real GPT-2 tokenizer files), kept in the repository's testdata.
func tinyDir(t testing.TB) string {
	t.Helper()
	return testutil.Testdata(t, "models", "tiny-perturbed")
}

// FuzzParseTokenizer: tokenizer files from a model directory are outside
// input; any bytes give a vocabulary or an error, never a panic.
func FuzzParseTokenizer(f *testing.F) {
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]},"added_tokens":[{"id":3,"content":"<|endoftext|>","special":true}]}`), []byte("#version: 0.2\na b\n"))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":-1},"merges":["a b", 3]}}`), []byte("a b c\n"))
	f.Fuzz(func(t *testing.T, tj, merges []byte) {
		if ids, m, special, err := parseTokenizerJSON("tokenizer.json", tj); err == nil {
			buildVocab(ids, m, special, 8, 3, 3, "fuzz")
		}
		parseMergesTxt("merges.txt", merges)
	})
}

// BenchmarkExportTiny measures writing the reference tiny model (3.3M
// parameters) as each type, to memory.
func BenchmarkExportTiny(b *testing.B) {
	m := loadHF(b, tinyDir(b))
	v, err := ReadVocab(tinyDir(b), m.Config.VocabSize, 50256, 50256)
	if err != nil {
		b.Fatal(err)
	}
	for _, typ := range []TensorType{F32, F16, Q8_0} {
		b.Run(typ.String(), func(b *testing.B) {
			b.SetBytes(int64(4 * len(m.Params)))
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := Export(&buf, m.Config, m.Layout, m.Params, v, ExportOptions{Type: typ}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
