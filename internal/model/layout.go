package model

import "fmt"

// Tensor is one parameter's place in the single parameter buffer, named as
// in Hugging Face's GPT-2 checkpoints (without the "transformer." prefix),
// with HF's storage shape: Conv1D weights are [in, out].
type Tensor struct {
	Name   string
	Shape  []int
	Offset int // in float32 elements
	Size   int
	Decay  bool // AdamW weight decay applies (matrices, not biases or LayerNorm)
}

// Layout is the table of every parameter in one contiguous buffer. Gradients
// and optimizer moments use the same layout.
type Layout struct {
	Tensors []Tensor
	Total   int
	index   map[string]int
}

// NewLayout lists GPT-2's parameters in checkpoint order.
func NewLayout(c Config) *Layout {
	l := &Layout{index: map[string]int{}}
	C, V, P, I := c.NEmbd, c.VocabSize, c.NPositions, c.Inner()
	add := func(name string, decay bool, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		l.index[name] = len(l.Tensors)
		l.Tensors = append(l.Tensors, Tensor{Name: name, Shape: shape, Offset: l.Total, Size: n, Decay: decay})
		l.Total += n
	}
	add("wte.weight", true, V, C)
	add("wpe.weight", true, P, C)
	for i := 0; i < c.NLayer; i++ {
		p := fmt.Sprintf("h.%d.", i)
		add(p+"ln_1.weight", false, C)
		add(p+"ln_1.bias", false, C)
		add(p+"attn.c_attn.weight", true, C, 3*C)
		add(p+"attn.c_attn.bias", false, 3*C)
		add(p+"attn.c_proj.weight", true, C, C)
		add(p+"attn.c_proj.bias", false, C)
		add(p+"ln_2.weight", false, C)
		add(p+"ln_2.bias", false, C)
		add(p+"mlp.c_fc.weight", true, C, I)
		add(p+"mlp.c_fc.bias", false, I)
		add(p+"mlp.c_proj.weight", true, I, C)
		add(p+"mlp.c_proj.bias", false, C)
	}
	add("ln_f.weight", false, C)
	add("ln_f.bias", false, C)
	return l
}

// Lookup finds a tensor by its HF name (without "transformer.").
func (l *Layout) Lookup(name string) (Tensor, bool) {
	i, ok := l.index[name]
	if !ok {
		return Tensor{}, false
	}
	return l.Tensors[i], true
}

// Slice returns the tensor's elements within buf (a buffer of l.Total).
func (t Tensor) Slice(buf []float32) []float32 { return buf[t.Offset : t.Offset+t.Size] }
