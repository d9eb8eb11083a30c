package model

import (
	"fmt"
	"math"
	"math/rand"
	"strings"

	"github.com/llmtune/llmtune/internal/nn"
)

// LoRA adapters (PEFT layout, fan_in_fan_out Conv1D): for a frozen linear
// y = x·W + b with W [in,out], A [r,in] and B [out,r] add
// y += (drop(x)·Aᵀ·Bᵀ)·alpha/r. Only A and B are trained; the frozen base
// weights get no gradient at all (their weight GEMMs are skipped).

// Module indices of the four linears in a block, in forward order.
const (
	modAttn = iota // attn.c_attn
	modProj        // attn.c_proj
	modFC          // mlp.c_fc
	modMLP         // mlp.c_proj
	nMods
)

var modNames = [nMods]string{"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"}

// adapter is one LoRA pair on one linear.
type adapter struct {
	in, out  int
	a, b     []float32 // views of the trainable buffer: [r,in], [out,r]
	ga, gb   []float32 // views of the gradient buffer
	aOff     int       // offsets of A and B in the trainable layout
	bOff     int
	u        []float32 // [N,r] x·Aᵀ saved for backward
	xd       []float32 // [N,in] dropped x (only with LoRA dropout)
	du       []float32 // [N,r] scratch
	dropSite uint64
}

type loraState struct {
	cfg           LoRAConfig
	r             int
	scaling       float32
	ad            [][nMods]*adapter // per layer
	lowest, first int               // layer and module of the adapter backward reaches last
	lay           *Layout
	params, grads []float32
	ranges        [][2]int  // per layer: its adapters' span of params
	dxd           []float32 // [N,max in] scratch for dropout's backward
	// perEx, when set, also receives each example's own gradient:
	// [N/seq][lay.Total], example b being rows [b*seq, (b+1)*seq).
	perEx []float32
	seq   int
}

// loraModules resolves PEFT target names ("c_attn", "c_proj", "mlp.c_fc",
// "attn.c_proj", ...) by suffix as PEFT does.
func loraModules(targets []string) ([nMods]bool, error) {
	var on [nMods]bool
	if len(targets) == 0 {
		targets = []string{"c_attn"}
	}
	for _, t := range targets {
		hit := false
		for m, name := range modNames {
			if name == t || strings.HasSuffix(name, "."+t) {
				on[m], hit = true, true
			}
		}
		if !hit {
			return on, fmt.Errorf("LoRA target %q matches no GPT-2 module (c_attn, c_proj, c_fc, attn.c_proj, mlp.c_proj)", t)
		}
	}
	return on, nil
}

// newLoRA plans the adapters' buffers; A is kaiming-uniform from seed and B
// zero, as PEFT initialises them.
func newLoRA(cfg Config, lc LoRAConfig, N int, seed int64) (*loraState, error) {
	if lc.Rank <= 0 {
		return nil, fmt.Errorf("LoRA rank must be positive (got %d)", lc.Rank)
	}
	if lc.Dropout < 0 || lc.Dropout >= 1 {
		return nil, fmt.Errorf("LoRA dropout must be in [0,1) (got %v)", lc.Dropout)
	}
	on, err := loraModules(lc.Targets)
	if err != nil {
		return nil, err
	}
	alpha := lc.Alpha
	if alpha == 0 {
		alpha = float64(lc.Rank)
	}
	C, I, r := cfg.NEmbd, cfg.Inner(), lc.Rank
	dims := [nMods][2]int{{C, 3 * C}, {C, C}, {C, I}, {I, C}}
	s := &loraState{cfg: lc, r: r, scaling: float32(alpha / float64(r)), ad: make([][nMods]*adapter, cfg.NLayer),
		lay: &Layout{index: map[string]int{}}, lowest: -1}
	add := func(name string, shape ...int) {
		s.lay.index[name] = len(s.lay.Tensors)
		s.lay.Tensors = append(s.lay.Tensors, Tensor{Name: name, Shape: shape, Offset: s.lay.Total, Size: shape[0] * shape[1], Decay: true})
		s.lay.Total += shape[0] * shape[1]
	}
	for l := 0; l < cfg.NLayer; l++ {
		s.ranges = append(s.ranges, [2]int{s.lay.Total, 0})
		for m := 0; m < nMods; m++ {
			if on[m] {
				add(fmt.Sprintf("h.%d.%s.lora_A.weight", l, modNames[m]), r, dims[m][0])
				add(fmt.Sprintf("h.%d.%s.lora_B.weight", l, modNames[m]), dims[m][1], r)
			}
		}
		s.ranges[l][1] = s.lay.Total
	}
	s.params = make([]float32, s.lay.Total)
	s.grads = make([]float32, s.lay.Total)
	rng := rand.New(rand.NewSource(seed))
	maxIn := 0
	for l := 0; l < cfg.NLayer; l++ {
		for m := 0; m < nMods; m++ {
			if !on[m] {
				continue
			}
			in, out := dims[m][0], dims[m][1]
			ta, _ := s.lay.Lookup(fmt.Sprintf("h.%d.%s.lora_A.weight", l, modNames[m]))
			tb, _ := s.lay.Lookup(fmt.Sprintf("h.%d.%s.lora_B.weight", l, modNames[m]))
			ad := &adapter{in: in, out: out, a: ta.Slice(s.params), b: tb.Slice(s.params),
				ga: ta.Slice(s.grads), gb: tb.Slice(s.grads), aOff: ta.Offset, bOff: tb.Offset,
				u: make([]float32, N*r), du: make([]float32, N*r),
				dropSite: uint64(l*nMods+m+1)*nSites + siteLoRA}
			bound := 1 / math.Sqrt(float64(in))
			for i := range ad.a {
				ad.a[i] = float32((2*rng.Float64() - 1) * bound)
			}
			if lc.Dropout > 0 {
				ad.xd = make([]float32, N*in)
			}
			maxIn = max(maxIn, in)
			s.ad[l][m] = ad
			if s.lowest < 0 {
				s.lowest, s.first = l, m
			}
		}
	}
	if lc.Dropout > 0 {
		s.dxd = make([]float32, N*maxIn)
	}
	return s, nil
}

func (s *loraState) dropout(n *network, ad *adapter) nn.Dropout {
	if !n.dropOn || s.cfg.Dropout <= 0 {
		return nn.Dropout{}
	}
	return nn.Dropout{P: float32(s.cfg.Dropout), Seed: n.seed, Key: n.key, Stream: ad.dropSite}
}

// forward adds the adapter's term to y = base(x).
//
//	x: [N,in] → y: [N,out] (+=); u: [N,r] saved
func (s *loraState) forward(n *network, ad *adapter, y, x []float32) {
	N, r := n.N, s.r
	d := s.dropout(n, ad)
	if d.Active() {
		copy(ad.xd, x)
		d.Apply(ad.xd, 0)
		x = ad.xd
	}
	nn.Gemm(false, true, N, r, ad.in, 1, x, ad.in, ad.a, ad.in, 0, ad.u, r)
	nn.Gemm(false, true, N, ad.out, r, s.scaling, ad.u, r, ad.b, r, 1, y, ad.out)
}

// backward adds the adapter's gradients and its share of dx.
//
//	dy: [N,out], x: [N,in] → dx: [N,in] (+=); gA: [r,in] (+=); gB: [out,r] (+=)
func (s *loraState) backward(n *network, ad *adapter, dx, dy, x []float32) {
	N, r := n.N, s.r
	d := s.dropout(n, ad)
	if d.Active() {
		x = ad.xd
	}
	nn.Gemm(true, false, ad.out, r, N, s.scaling, dy, ad.out, ad.u, r, 1, ad.gb, r)
	nn.Gemm(false, false, N, r, ad.out, s.scaling, dy, ad.out, ad.b, r, 0, ad.du, r)
	nn.Gemm(true, false, r, ad.in, N, 1, ad.du, r, x, ad.in, 1, ad.ga, ad.in)
	if s.perEx != nil {
		// Per-example weight gradients come from the same activations (u, x)
		// and output gradients (dy, du), split by example: no extra backward.
		T, G := s.seq, s.lay.Total
		for b := 0; b < N/T; b++ {
			ex := s.perEx[b*G : (b+1)*G]
			nn.Gemm(true, false, ad.out, r, T, s.scaling, dy[b*T*ad.out:], ad.out, ad.u[b*T*r:], r, 1, ex[ad.bOff:ad.bOff+ad.out*r], r)
			nn.Gemm(true, false, r, ad.in, T, 1, ad.du[b*T*r:], r, x[b*T*ad.in:], ad.in, 1, ex[ad.aOff:ad.aOff+r*ad.in], ad.in)
		}
	}
	if !d.Active() {
		nn.Gemm(false, false, N, ad.in, r, 1, ad.du, r, ad.a, ad.in, 1, dx, ad.in)
		return
	}
	tmp := s.dxd[:N*ad.in]
	nn.Gemm(false, false, N, ad.in, r, 1, ad.du, r, ad.a, ad.in, 0, tmp, ad.in)
	d.Apply(tmp, 0)
	for i, v := range tmp {
		dx[i] += v
	}
}

// merge folds every adapter into the base weights: W[in,out] += scaling·Aᵀ·Bᵀ.
func (s *loraState) merge(cfg Config, lay *Layout, params []float32) {
	for l := range s.ad {
		for m, ad := range s.ad[l] {
			if ad == nil {
				continue
			}
			t, _ := lay.Lookup(fmt.Sprintf("h.%d.%s.weight", l, modNames[m]))
			nn.Gemm(true, true, ad.in, ad.out, s.r, s.scaling, ad.a, ad.in, ad.b, s.r, 1, t.Slice(params), ad.out)
		}
	}
}

// layerRange is the span of layer l's adapters in the LoRA buffers.
func (s *loraState) layerRange(l int) (lo, hi int) { return s.ranges[l][0], s.ranges[l][1] }

// ApplyAdapter merges PEFT LoRA tensors (names with or without the
// "base_model.model." and "transformer." prefixes) into m.Params:
// W[in,out] += (alpha/r)·Aᵀ·Bᵀ for every adapted module.
func ApplyAdapter(m *Model, cfg LoRAConfig, tensors map[string][]float32) error {
	if cfg.Rank <= 0 {
		return fmt.Errorf("adapter rank %d is not positive", cfg.Rank)
	}
	alpha := cfg.Alpha
	if alpha == 0 {
		alpha = float64(cfg.Rank)
	}
	scaling := float32(alpha / float64(cfg.Rank))
	short := map[string][]float32{}
	for k, v := range tensors {
		k = strings.TrimPrefix(strings.TrimPrefix(k, "base_model.model."), "transformer.")
		short[k] = v
	}
	n := 0
	r := cfg.Rank
	for l := 0; l < m.Config.NLayer; l++ {
		for _, mod := range modNames {
			a, okA := short[fmt.Sprintf("h.%d.%s.lora_A.weight", l, mod)]
			b, okB := short[fmt.Sprintf("h.%d.%s.lora_B.weight", l, mod)]
			if !okA && !okB {
				continue
			}
			w, _ := m.Layout.Lookup(fmt.Sprintf("h.%d.%s.weight", l, mod))
			in, out := w.Shape[0], w.Shape[1]
			if !okA || !okB || len(a) != r*in || len(b) != out*r {
				return fmt.Errorf("adapter tensors for h.%d.%s: want lora_A [%d,%d] and lora_B [%d,%d]", l, mod, r, in, out, r)
			}
			nn.Gemm(true, true, in, out, r, scaling, a, in, b, r, 1, w.Slice(m.Params), out)
			n += 2
		}
	}
	if n != len(short) {
		return fmt.Errorf("adapter has %d tensors, %d of them match this model's layers (r=%d)", len(short), n, r)
	}
	return nil
}
