package model

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmtune/llmtune/internal/testutil"
)

// reference is the part of ../shared/ref/results/reference_*.json the
// network tests compare against (PyTorch 1.13, float32, eval mode).
type reference struct {
	Tokens     []int32 `json:"tokens"`
	LogitsLast struct {
		First16 []float64 `json:"first16"`
		Sum     float64   `json:"sum"`
		L2      float64   `json:"l2"`
		Argmax  int       `json:"argmax"`
	} `json:"logits_last"`
	LogitsPos0 []float64 `json:"logits_pos0_first16"`
	Loss       float64   `json:"loss"`
	Hidden     map[string]struct {
		L2   float64   `json:"l2"`
		Last []float64 `json:"last_pos_first8"`
	} `json:"hidden"`
	Grads map[string]struct {
		L2     float64   `json:"l2"`
		First8 []float64 `json:"first8"`
	} `json:"grads"`
	GradL2All map[string]float64 `json:"grad_l2_all"`
	LoRA      struct {
		R     int     `json:"r"`
		Alpha float64 `json:"alpha"`
		Loss  float64 `json:"loss"`
		Grads map[string]struct {
			L2     float64   `json:"l2"`
			First8 []float64 `json:"first8"`
		} `json:"grads"`
	} `json:"lora"`
}

// refPaths finds a reference model directory, its JSON and its LoRA adapter:
// testdata/models (the copy that ships with the repository) first, else
// ../shared/ref.
func refPaths(t *testing.T, name string) (modelDir, jsonPath, adapterDir string) {
	t.Helper()
	td := testutil.Testdata(t, "models")
	if _, err := os.Stat(filepath.Join(td, name, "model.safetensors")); err == nil {
		if _, err := os.Stat(filepath.Join(td, "reference_"+name+".json")); err == nil {
			return filepath.Join(td, name), filepath.Join(td, "reference_"+name+".json"), filepath.Join(td, name+"_lora4_adapter")
		}
	}
	ref := testutil.Shared(t, "ref")
	return filepath.Join(ref, "models", name), filepath.Join(ref, "results", "reference_"+name+".json"),
		filepath.Join(ref, "results", name+"_lora4_adapter")
}

// readF32Safetensors is a minimal reader for the F32 reference files, kept
// independent of the package's own loader so the numerics tests do not
// depend on it.
func readF32Safetensors(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	data := b[8+n:]
	out := map[string][]float32{}
	for k, raw := range hdr {
		if k == "__metadata__" {
			continue
		}
		var e struct {
			Dtype   string `json:"dtype"`
			Offsets [2]int `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || e.Dtype != "F32" {
			t.Fatalf("%s: %s: unexpected entry %s", path, k, raw)
		}
		v := make([]float32, (e.Offsets[1]-e.Offsets[0])/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[e.Offsets[0]+4*i:]))
		}
		out[k] = v
	}
	return out
}

func loadRefModel(t *testing.T, name string) (*Model, *reference, string) {
	t.Helper()
	dir, js, adapter := refPaths(t, name)
	cfg, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := &Model{Config: cfg, Layout: NewLayout(cfg)}
	m.Params = make([]float32, m.Layout.Total)
	for k, v := range readF32Safetensors(t, filepath.Join(dir, "model.safetensors")) {
		tn, ok := m.Layout.Lookup(k)
		if !ok || tn.Size != len(v) {
			t.Fatalf("tensor %s does not fit the layout", k)
		}
		copy(tn.Slice(m.Params), v)
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	return m, &ref, adapter
}

// shifted builds HF's labels=input_ids loss: position i predicts token i+1,
// the last position is masked out.
func shifted(tokens []int32) (targets []int32, mask []float32) {
	targets = make([]int32, len(tokens))
	mask = make([]float32, len(tokens))
	for i := 0; i+1 < len(tokens); i++ {
		targets[i], mask[i] = tokens[i+1], 1
	}
	return targets, mask
}

func l2(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// relL2 is ||got-want|| / ||want||.
func relL2(got []float32, want []float64) float64 {
	var d, w float64
	for i := range want {
		e := float64(got[i]) - want[i]
		d += e * e
		w += want[i] * want[i]
	}
	return math.Sqrt(d / w)
}

func TestForwardBackwardMatchesPyTorch(t *testing.T) {
	for _, name := range []string{"tiny-perturbed", "tiny"} {
		t.Run(name, func(t *testing.T) {
			m, ref, _ := loadRefModel(t, name)
			T, V := len(ref.Tokens), m.Config.VocabSize
			tr, err := NewTrainer(m, TrainOptions{Batch: 1, Seq: T})
			if err != nil {
				t.Fatal(err)
			}
			targets, mask := shifted(ref.Tokens)
			sum, cnt, err := tr.Eval(ref.Tokens, targets, mask)
			if err != nil {
				t.Fatal(err)
			}
			if rel := math.Abs(sum/cnt-ref.Loss) / ref.Loss; rel > 1e-5 {
				t.Errorf("loss %.8f, PyTorch %.8f (rel %.2g > 1e-5)", sum/cnt, ref.Loss, rel)
			}
			last := tr.Logits()[(T-1)*V : T*V]
			checkAbs(t, "logits[last][:16]", last, ref.LogitsLast.First16, 1e-4)
			checkAbs(t, "logits[0][:16]", tr.Logits()[:16], ref.LogitsPos0, 1e-4)
			var s float64
			am := 0
			for i, x := range last {
				s += float64(x)
				if x > last[am] {
					am = i
				}
			}
			if math.Abs(s-ref.LogitsLast.Sum) > 1e-4*float64(V) || math.Abs(l2(last)-ref.LogitsLast.L2) > 1e-4*ref.LogitsLast.L2 || am != ref.LogitsLast.Argmax {
				t.Errorf("last logits sum %.6f l2 %.6f argmax %d; PyTorch %.6f %.6f %d", s, l2(last), am,
					ref.LogitsLast.Sum, ref.LogitsLast.L2, ref.LogitsLast.Argmax)
			}
			if h, ok := ref.Hidden["ln_f"]; ok {
				if rel := math.Abs(l2(tr.net.lnf)-h.L2) / h.L2; rel > 1e-5 {
					t.Errorf("ln_f output l2 %.7f, PyTorch %.7f", l2(tr.net.lnf), h.L2)
				}
			}

			sum2, cnt2, err := tr.Step(ref.Tokens, targets, mask, float32(1/cnt), 0)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(sum2-sum) > 1e-9*sum || cnt2 != cnt {
				t.Errorf("Step loss %v/%v differs from Eval %v/%v without dropout", sum2, cnt2, sum, cnt)
			}
			for name, want := range ref.GradL2All {
				tn, ok := tr.TrainableLayout().Lookup(name)
				if !ok {
					t.Fatalf("no tensor %s", name)
				}
				got := l2(tn.Slice(tr.Grads()))
				if rel := math.Abs(got-want) / want; rel > 1e-3 {
					t.Errorf("grad %s: l2 %.6g, PyTorch %.6g (rel %.2g)", name, got, want, rel)
				}
			}
			for name, g := range ref.Grads {
				tn, _ := tr.TrainableLayout().Lookup(name)
				if rel := relL2(tn.Slice(tr.Grads()), g.First8); rel > 1e-3 {
					t.Errorf("grad %s first8: rel L2 error %.2g > 1e-3", name, rel)
				}
			}
		})
	}
}

func checkAbs(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol {
			t.Errorf("%s[%d] = %.7f, PyTorch %.7f (|diff| %.2g > %g)", what, i, got[i], want[i], d, tol)
			return
		}
	}
}

func TestLoRAMatchesPyTorch(t *testing.T) {
	m, ref, adapterDir := loadRefModel(t, "tiny-perturbed")
	T := len(ref.Tokens)
	lc := LoRAConfig{Rank: ref.LoRA.R, Alpha: ref.LoRA.Alpha}
	tr, err := NewTrainer(m, TrainOptions{Batch: 1, Seq: T, LoRA: &lc})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range readF32Safetensors(t, filepath.Join(adapterDir, "adapter_model.safetensors")) {
		name := strings.TrimPrefix(k, "base_model.model.transformer.")
		tn, ok := tr.TrainableLayout().Lookup(name)
		if !ok || tn.Size != len(v) {
			t.Fatalf("adapter tensor %s does not fit the LoRA layout", k)
		}
		copy(tn.Slice(tr.Trainable()), v)
	}
	targets, mask := shifted(ref.Tokens)
	sum, cnt, err := tr.Step(ref.Tokens, targets, mask, 1/float32(T-1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if rel := math.Abs(sum/cnt-ref.LoRA.Loss) / ref.LoRA.Loss; rel > 1e-5 {
		t.Errorf("LoRA loss %.8f, PyTorch %.8f", sum/cnt, ref.LoRA.Loss)
	}
	if len(ref.LoRA.Grads) == 0 {
		t.Fatal("reference has no LoRA gradients")
	}
	for k, g := range ref.LoRA.Grads {
		tn, _ := tr.TrainableLayout().Lookup(strings.TrimPrefix(k, "base_model.model.transformer."))
		got := tn.Slice(tr.Grads())
		if rel := math.Abs(l2(got)-g.L2) / g.L2; rel > 1e-3 {
			t.Errorf("%s: grad l2 %.6g, PyTorch %.6g", k, l2(got), g.L2)
		}
		if rel := relL2(got, g.First8); rel > 1e-3 {
			t.Errorf("%s: first8 rel L2 error %.2g", k, rel)
		}
	}
	tr.MergeLoRA()
	plain, err := NewTrainer(m, TrainOptions{Batch: 1, Seq: T})
	if err != nil {
		t.Fatal(err)
	}
	if sum, cnt, _ := plain.Eval(ref.Tokens, targets, mask); math.Abs(sum/cnt-ref.LoRA.Loss)/ref.LoRA.Loss > 1e-5 {
		t.Errorf("loss after MergeLoRA %.8f, PyTorch LoRA loss %.8f", sum/cnt, ref.LoRA.Loss)
	}
}

func TestApplyAdapterMatchesPyTorchLoRALoss(t *testing.T) {
	m, ref, adapterDir := loadRefModel(t, "tiny-perturbed")
	tensors := readF32Safetensors(t, filepath.Join(adapterDir, "adapter_model.safetensors"))
	if err := ApplyAdapter(m, LoRAConfig{Rank: ref.LoRA.R, Alpha: ref.LoRA.Alpha}, tensors); err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, TrainOptions{Batch: 1, Seq: len(ref.Tokens)})
	if err != nil {
		t.Fatal(err)
	}
	targets, mask := shifted(ref.Tokens)
	sum, cnt, _ := tr.Eval(ref.Tokens, targets, mask)
	if rel := math.Abs(sum/cnt-ref.LoRA.Loss) / ref.LoRA.Loss; rel > 1e-5 {
		t.Errorf("merged-adapter loss %.8f, PyTorch LoRA loss %.8f", sum/cnt, ref.LoRA.Loss)
	}
	if err := ApplyAdapter(m, LoRAConfig{Rank: 3, Alpha: 16}, tensors); err == nil {
		t.Error("an adapter of the wrong rank was accepted")
	}
}

func TestSaveAdapterRoundTrip(t *testing.T) {
	m, ref, _ := loadRefModel(t, "tiny-perturbed")
	lc := LoRAConfig{Rank: 2, Alpha: 8}
	tr, err := NewTrainer(m, TrainOptions{Batch: 1, Seq: 4, LoRA: &lc, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range tr.Trainable() {
		tr.Trainable()[i] += 0.01 * float32(i%7) // B nonzero, so the merge matters
	}
	dir := filepath.Join(t.TempDir(), "adapter")
	if err := tr.SaveAdapter(dir); err != nil {
		t.Fatal(err)
	}
	cfg, tensors, _, err := ReadAdapter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tensors["base_model.model.transformer.h.1.attn.c_attn.lora_B.weight"]; !ok || cfg.Rank != 2 {
		t.Fatalf("adapter names/config not PEFT's: %v %v", cfg, len(tensors))
	}
	m2, _, _ := loadRefModel(t, "tiny-perturbed")
	if err := ApplyAdapter(m2, cfg, tensors); err != nil {
		t.Fatal(err)
	}
	tr.MergeLoRA()
	for i := range m.Params {
		if d := math.Abs(float64(m.Params[i] - m2.Params[i])); d > 1e-6 {
			t.Fatalf("param %d: MergeLoRA %v, saved+applied adapter %v", i, m.Params[i], m2.Params[i])
		}
	}
	_ = ref
}

func TestTrainerRejectsBadInput(t *testing.T) {
	m, _, _ := loadRefModel(t, "tiny-perturbed")
	if _, err := NewTrainer(m, TrainOptions{Batch: 1, Seq: m.Config.NPositions + 1}); err == nil {
		t.Error("a sequence longer than n_positions was accepted")
	}
	if _, err := NewTrainer(m, TrainOptions{Batch: 1, Seq: 4, LoRA: &LoRAConfig{Rank: 2, Targets: []string{"q_proj"}}}); err == nil {
		t.Error("an unknown LoRA target was accepted")
	}
	tr, err := NewTrainer(m, TrainOptions{Batch: 2, Seq: 3})
	if err != nil {
		t.Fatal(err)
	}
	ok := []int32{1, 2, 3, 4, 5, 6}
	for name, c := range map[string]struct {
		in, tg []int32
		mask   []float32
	}{
		"short inputs":     {ok[:5], ok, nil},
		"short mask":       {ok, ok, []float32{1}},
		"negative token":   {[]int32{1, 2, -3, 4, 5, 6}, ok, nil},
		"token past vocab": {ok, []int32{1, 2, 3, 4, 5, 50257}, nil},
	} {
		if _, _, err := tr.Step(c.in, c.tg, c.mask, 1, 0); err == nil {
			t.Errorf("%s: Step accepted it", name)
		}
	}
}

func TestDropoutStepIsReproducible(t *testing.T) {
	m, ref, _ := loadRefModel(t, "tiny-perturbed")
	T := len(ref.Tokens)
	targets, mask := shifted(ref.Tokens)
	loss := func(seed int64, key uint64) (float64, float64) {
		tr, err := NewTrainer(m, TrainOptions{Batch: 1, Seq: T, Dropout: true, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		s, _, _ := tr.Step(ref.Tokens, targets, mask, 1, key)
		return s, l2(tr.Grads())
	}
	a, ga := loss(1, 5)
	b, gb := loss(1, 5)
	c, _ := loss(1, 6)
	d, _ := loss(2, 5)
	if a != b || ga != gb {
		t.Errorf("same seed and key: loss %v vs %v, grad norm %v vs %v", a, b, ga, gb)
	}
	if a == c || a == d {
		t.Errorf("dropout ignored the key or seed: %v %v %v", a, c, d)
	}
	if eval := ref.Loss * float64(T-1); math.Abs(a-eval) < 1e-9 {
		t.Error("dropout changed nothing")
	}
}
