package model

import (
	"errors"
	"fmt"

	"github.com/llmtune/llmtune/internal/nn"
)

// TrainOptions fixes the shape a Trainer is planned for.
type TrainOptions struct {
	Batch, Seq int
	Dropout    bool        // apply the config's dropouts in Step (never in Eval)
	LoRA       *LoRAConfig // nil: full fine-tuning
	Seed       int64       // dropout masks and LoRA initialisation
}

// Trainer runs forward and backward of a model for one (Batch, Seq) shape.
// Every buffer (activations, gradients) is allocated once in NewTrainer.
// With LoRA the base weights in m.Params are frozen and get no gradients.
type Trainer struct {
	m     *Model
	o     TrainOptions
	net   *network
	spine *spine
	lay   *Layout // trainable tensors
	buf   []float32
	grad  []float32
}

// NewTrainer plans the network for o.Batch x o.Seq tokens.
func NewTrainer(m *Model, o TrainOptions) (*Trainer, error) {
	if m == nil || m.Layout == nil || len(m.Params) != m.Layout.Total {
		return nil, errors.New("model: NewTrainer needs a loaded model (params do not match the layout)")
	}
	if o.Batch <= 0 || o.Seq <= 0 {
		return nil, fmt.Errorf("batch (%d) and sequence length (%d) must be positive", o.Batch, o.Seq)
	}
	if o.Seq > m.Config.NPositions {
		return nil, fmt.Errorf("sequence length %d exceeds the model's n_positions %d", o.Seq, m.Config.NPositions)
	}
	t := &Trainer{m: m, o: o}
	nn.UseGoThreads()
	if o.LoRA == nil {
		t.lay, t.buf, t.grad = m.Layout, m.Params, make([]float32, m.Layout.Total)
		t.net = newNetwork(m.Config, m.Layout, m.Params, t.grad, o.Batch, o.Seq)
	} else {
		t.net = newNetwork(m.Config, m.Layout, m.Params, nil, o.Batch, o.Seq)
		ls, err := newLoRA(m.Config, *o.LoRA, o.Batch*o.Seq, o.Seed)
		if err != nil {
			return nil, err
		}
		t.net.lora = ls
		t.lay, t.buf, t.grad = ls.lay, ls.params, ls.grads
	}
	t.net.seed = uint64(o.Seed)
	var err error
	if t.spine, err = newSpine(t.net); err != nil {
		return nil, err
	}
	return t, nil
}

// check validates one batch before it reaches the kernels.
func (t *Trainer) check(inputs, targets []int32, mask []float32) error {
	n := t.net.N
	if len(inputs) != n || len(targets) != n || (mask != nil && len(mask) != n) {
		return fmt.Errorf("batch has %d inputs, %d targets, %d mask values; the trainer is planned for %d x %d = %d",
			len(inputs), len(targets), len(mask), t.o.Batch, t.o.Seq, n)
	}
	v := int32(t.m.Config.VocabSize)
	for i := range inputs {
		if inputs[i] < 0 || inputs[i] >= v || targets[i] < 0 || targets[i] >= v {
			return fmt.Errorf("token id at position %d is outside the vocabulary [0,%d)", i, v)
		}
	}
	copy(t.net.ids, inputs)
	copy(t.net.targets, targets)
	if mask == nil {
		for i := range t.net.mask {
			t.net.mask[i] = 1
		}
	} else {
		copy(t.net.mask, mask)
	}
	return nil
}

// Step runs forward and backward on [Batch*Seq] tokens and ADDS
// scale * d(sum_i mask_i*CE_i)/dθ into Grads(). It returns the masked loss
// sum and the mask sum. Dropout masks (with o.Dropout) are a pure function of
// (Seed, dropoutKey, position).
func (t *Trainer) Step(inputs, targets []int32, mask []float32, scale float32, dropoutKey uint64) (lossSum, count float64, err error) {
	if err := t.check(inputs, targets, mask); err != nil {
		return 0, 0, err
	}
	t.net.dropOn, t.net.key = t.o.Dropout, dropoutKey
	return t.spine.run(true, scale)
}

// Eval runs the forward pass without dropout and returns the masked loss sum
// and the mask sum.
func (t *Trainer) Eval(inputs, targets []int32, mask []float32) (lossSum, count float64, err error) {
	if err := t.check(inputs, targets, mask); err != nil {
		return 0, 0, err
	}
	t.net.dropOn = false
	return t.spine.run(false, 0)
}

// Logits returns the logits [Batch*Seq, vocab] of the last Eval (views the
// trainer's buffer: overwritten by the next call; Step leaves gradients there).
func (t *Trainer) Logits() []float32 { return t.net.logits }

// Trainable is the buffer the optimizer updates: the model's parameters, or
// the LoRA adapters.
func (t *Trainer) Trainable() []float32 { return t.buf }

// Grads mirrors Trainable.
func (t *Trainer) Grads() []float32 { return t.grad }

// ZeroGrads clears Grads.
func (t *Trainer) ZeroGrads() { clear(t.grad) }

// TrainableLayout names the tensors of Trainable (HF names, or
// h.{i}.attn.c_attn.lora_{A,B}.weight for LoRA) with their Decay flags.
func (t *Trainer) TrainableLayout() *Layout { return t.lay }

// LoRA reports whether the trainer trains adapters on a frozen base.
func (t *Trainer) LoRA() bool { return t.net.lora != nil }

// MergeLoRA folds the adapters into the model's parameters (the base stays
// in place for further Steps only if the adapters are then discarded).
func (t *Trainer) MergeLoRA() {
	if t.net.lora != nil {
		t.net.lora.merge(t.m.Config, t.m.Layout, t.m.Params)
	}
}

// SaveAdapter writes the LoRA adapters in PEFT's format (adapter_config.json
// + adapter_model.safetensors, names base_model.model.transformer.h.{i}...).
func (t *Trainer) SaveAdapter(dir string) error {
	ls := t.net.lora
	if ls == nil {
		return errors.New("model: SaveAdapter on a full fine-tuning trainer (no LoRA adapters)")
	}
	tensors := make(map[string][]float32, len(ls.lay.Tensors))
	shapes := make(map[string][]int, len(ls.lay.Tensors))
	for _, tn := range ls.lay.Tensors {
		tensors[tn.Name] = tn.Slice(ls.params)
		shapes[tn.Name] = tn.Shape
	}
	return WriteAdapter(dir, ls.cfg, "", tensors, shapes)
}

// EnablePerExample makes Step also write every example's own gradient (the
// gradient of its rows' scale*sum(mask*CE)) into PerExampleGrads(), as
// DP-SGD needs for per-record clipping. Only LoRA supports it: the
// adapters' per-example gradients come from the activations and output
// gradients the batched backward already has. Step ADDS into the buffer;
// clear it between steps.
func (t *Trainer) EnablePerExample() error {
	if t.net.lora == nil {
		return errors.New("per-example gradients are available with LoRA only")
	}
	if t.net.lora.perEx == nil {
		t.net.lora.perEx = make([]float32, t.o.Batch*len(t.grad))
		t.net.lora.seq = t.o.Seq
	}
	return nil
}

// PerExampleGrads is [Batch][len(Grads())] after EnablePerExample, else nil.
func (t *Trainer) PerExampleGrads() []float32 {
	if t.net.lora == nil {
		return nil
	}
	return t.net.lora.perEx
}
