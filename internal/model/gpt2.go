package model

import (
	"fmt"

	"github.com/llmtune/llmtune/internal/nn"
)

// Dropout sites; each (layer, site) is its own stream of the counter RNG.
const (
	siteEmbd = iota
	siteAttn
	siteResidAttn
	siteResidMLP
	siteLoRA
	nSites
)

// layerParams are views of one block's tensors in a params (or grads) buffer.
type layerParams struct {
	ln1w, ln1b, attnW, attnB, projW, projB, ln2w, ln2b, fcW, fcB, mlpW, mlpB []float32
}

func viewLayer(lay *Layout, buf []float32, i int) layerParams {
	if buf == nil {
		return layerParams{}
	}
	v := func(name string) []float32 {
		t, ok := lay.Lookup(fmt.Sprintf("h.%d.%s", i, name))
		if !ok {
			panic("model: layout lacks h." + fmt.Sprint(i) + "." + name)
		}
		return t.Slice(buf)
	}
	return layerParams{v("ln_1.weight"), v("ln_1.bias"), v("attn.c_attn.weight"), v("attn.c_attn.bias"),
		v("attn.c_proj.weight"), v("attn.c_proj.bias"), v("ln_2.weight"), v("ln_2.bias"),
		v("mlp.c_fc.weight"), v("mlp.c_fc.bias"), v("mlp.c_proj.weight"), v("mlp.c_proj.bias")}
}

// layerActs are the activations one block saves for backward: x_l is the
// residual stream entering the block, mid the stream after attention.
type layerActs struct {
	ln1, ln1Mean, ln1Rstd []float32 // [N,C], [N], [N]
	qkv                   []float32 // [N,3C]
	probs                 []float32 // [B,H,T,T]
	atty                  []float32 // [N,C] attention output, heads merged
	mid                   []float32 // [N,C]
	ln2, ln2Mean, ln2Rstd []float32
	fc, gelu              []float32 // [N,I] gelu_new'(c_fc output) (overwritten in forward) and gelu_new output
	loraU, loraX          []float32 // [N,r] x·Aᵀ and, with LoRA dropout, the dropped x [N,C]
}

// network is GPT-2's forward and backward for one (batch, seq) shape, with
// every buffer it needs allocated once in newNetwork and reused every step.
type network struct {
	cfg     Config
	lay     *Layout
	B, T, N int
	C, H, I int
	V       int
	eps     float32

	params []float32
	grads  []float32 // full-model gradients; nil when the base is frozen (LoRA)
	lora   *loraState

	p                        []layerParams
	g                        []layerParams
	wte, wpe, lnfW, lnfB     []float32
	gwte, gwpe, glnfW, glnfB []float32

	ids, targets          []int32
	mask                  []float32
	res                   [][]float32 // L+1 residual streams [N,C]
	acts                  []layerActs
	lnf, lnfMean, lnfRstd []float32
	logits                []float32 // [N,V]; holds dlogits after the loss

	// scratch shared by all layers, not kept across the step
	branch, dres, dln, datty []float32 // [N,C]
	dqkv                     []float32 // [N,3C]
	dfc                      []float32 // [N,I]
	s1, s2                   []float32 // [B,H,T,T]
	attn                     nn.Attention

	// dropout of this step
	dropP     [nSites]float32
	dropOn    bool
	seed, key uint64
}

func newNetwork(cfg Config, lay *Layout, params, grads []float32, B, T int) *network {
	C, H, I, V, L := cfg.NEmbd, cfg.NHead, cfg.Inner(), cfg.VocabSize, cfg.NLayer
	N := B * T
	n := &network{cfg: cfg, lay: lay, B: B, T: T, N: N, C: C, H: H, I: I, V: V,
		eps: float32(cfg.LayerNormEpsilon), params: params, grads: grads}
	f := func(k int) []float32 { return make([]float32, k) }
	get := func(buf []float32, name string) []float32 {
		if buf == nil {
			return nil
		}
		t, _ := lay.Lookup(name)
		return t.Slice(buf)
	}
	n.wte, n.wpe, n.lnfW, n.lnfB = get(params, "wte.weight"), get(params, "wpe.weight"), get(params, "ln_f.weight"), get(params, "ln_f.bias")
	n.gwte, n.gwpe, n.glnfW, n.glnfB = get(grads, "wte.weight"), get(grads, "wpe.weight"), get(grads, "ln_f.weight"), get(grads, "ln_f.bias")
	n.p = make([]layerParams, L)
	n.g = make([]layerParams, L)
	n.acts = make([]layerActs, L)
	n.res = make([][]float32, L+1)
	n.res[0] = f(N * C)
	for l := 0; l < L; l++ {
		n.p[l] = viewLayer(lay, params, l)
		n.g[l] = viewLayer(lay, grads, l)
		n.acts[l] = layerActs{ln1: f(N * C), ln1Mean: f(N), ln1Rstd: f(N), qkv: f(N * 3 * C),
			probs: f(B * H * T * T), atty: f(N * C), mid: f(N * C), ln2: f(N * C), ln2Mean: f(N), ln2Rstd: f(N),
			fc: f(N * I), gelu: f(N * I)}
		n.res[l+1] = f(N * C)
	}
	n.ids, n.targets, n.mask = make([]int32, N), make([]int32, N), f(N)
	n.lnf, n.lnfMean, n.lnfRstd = f(N*C), f(N), f(N)
	n.logits = f(N * V)
	n.branch, n.dres, n.dln, n.datty = f(N*C), f(N*C), f(N*C), f(N*C)
	n.dqkv, n.dfc = f(N*3*C), f(N*I)
	n.s1, n.s2 = f(B*H*T*T), f(B*H*T*T)
	n.attn = nn.Attention{B: B, T: T, H: H, D: C / H}
	n.dropP[siteEmbd] = float32(cfg.EmbdPdrop)
	n.dropP[siteAttn] = float32(cfg.AttnPdrop)
	n.dropP[siteResidAttn] = float32(cfg.ResidPdrop)
	n.dropP[siteResidMLP] = float32(cfg.ResidPdrop)
	return n
}

// drop is the dropout of one site in one layer for this step (inactive in eval).
func (n *network) drop(layer, site int) nn.Dropout {
	if !n.dropOn || n.dropP[site] <= 0 {
		return nn.Dropout{}
	}
	return nn.Dropout{P: n.dropP[site], Seed: n.seed, Key: n.key, Stream: uint64((layer+1)*nSites + site)}
}

// forward runs the network on n.ids and leaves the logits in n.logits.
func (n *network) forward() {
	n.embedForward()
	for l := 0; l < n.cfg.NLayer; l++ {
		n.layerForward(l)
	}
	n.headForward()
}

// backward propagates the gradient left in n.logits by loss(true, ...),
// adding into n.grads (unless frozen) and the LoRA gradients.
func (n *network) backward() {
	n.headBackward()
	for l := n.cfg.NLayer - 1; l >= 0; l-- {
		if n.layerBackward(l) {
			return
		}
	}
	n.embedBackward()
}

func (n *network) embedForward() {
	nn.EmbeddingForward(n.res[0], n.ids, n.wte, n.wpe, n.N, n.T, n.C)
	n.drop(-1, siteEmbd).Apply(n.res[0], 0)
}

// layerForward runs block l: res[l] → res[l+1].
func (n *network) layerForward(l int) {
	N, C, I := n.N, n.C, n.I
	p, a, x := &n.p[l], &n.acts[l], n.res[l]
	nn.LayerNormForward(a.ln1, a.ln1Mean, a.ln1Rstd, x, p.ln1w, p.ln1b, N, C, n.eps)
	nn.LinearForward(a.qkv, a.ln1, p.attnW, p.attnB, N, C, 3*C)
	n.loraForward(l, modAttn, a.qkv, a.ln1)
	n.attn.Drop = n.drop(l, siteAttn)
	n.attn.Forward(a.atty, a.probs, a.qkv, n.s1)
	nn.LinearForward(n.branch, a.atty, p.projW, p.projB, N, C, C)
	n.loraForward(l, modProj, n.branch, a.atty)
	nn.ResidualForward(a.mid, x, n.branch, n.drop(l, siteResidAttn))
	nn.LayerNormForward(a.ln2, a.ln2Mean, a.ln2Rstd, a.mid, p.ln2w, p.ln2b, N, C, n.eps)
	nn.LinearForward(a.fc, a.ln2, p.fcW, p.fcB, N, C, I)
	n.loraForward(l, modFC, a.fc, a.ln2)
	nn.GELUForwardSave(a.gelu, a.fc, a.fc)
	nn.LinearForward(n.branch, a.gelu, p.mlpW, p.mlpB, N, I, C)
	n.loraForward(l, modMLP, n.branch, a.gelu)
	nn.ResidualForward(n.res[l+1], a.mid, n.branch, n.drop(l, siteResidMLP))
}

// headForward is the final LayerNorm and the tied head: logits = ln_f(x)·wteᵀ.
func (n *network) headForward() {
	N, C, L := n.N, n.C, n.cfg.NLayer
	nn.LayerNormForward(n.lnf, n.lnfMean, n.lnfRstd, n.res[L], n.lnfW, n.lnfB, N, C, n.eps)
	nn.Gemm(false, true, N, n.V, C, 1, n.lnf, C, n.wte, C, 0, n.logits, n.V)
}

// loss computes the masked cross-entropy; with grad it leaves
// scale*dloss/dlogits in n.logits.
func (n *network) loss(grad bool, scale float32) (float64, float64) {
	var d []float32
	if grad {
		d = n.logits
	}
	return nn.CrossEntropy(d, n.logits, n.targets, n.mask, n.N, n.V, scale)
}

// headBackward turns dlogits into dres = d res[L]; the tied head's wte
// gradient is added here, the embedding's share in embedBackward.
func (n *network) headBackward() {
	N, C, V, L := n.N, n.C, n.V, n.cfg.NLayer
	dlogits := n.logits
	nn.Gemm(false, false, N, C, V, 1, dlogits, V, n.wte, C, 0, n.dln, C)
	if n.gwte != nil {
		nn.Gemm(true, false, V, C, N, 1, dlogits, V, n.lnf, C, 1, n.gwte, C)
	}
	clear(n.dres)
	nn.LayerNormBackward(n.dres, n.glnfW, n.glnfB, n.dln, n.res[L], n.lnfW, n.lnfMean, n.lnfRstd, N, C)
}

// layerBackward turns dres = d res[l+1] into d res[l] in place and adds
// block l's parameter gradients. It reports true when nothing below is
// trained (frozen base, lowest adapter done).
func (n *network) layerBackward(l int) bool {
	N, C, I := n.N, n.C, n.I
	p, g, a := &n.p[l], &n.g[l], &n.acts[l]
	// MLP half: res[l+1] = mid + drop(c_proj(gelu(c_fc(ln_2(mid)))))
	db := n.residualGrad(l, siteResidMLP)
	nn.LinearBackward(n.dfc, g.mlpW, g.mlpB, db, a.gelu, p.mlpW, N, I, C)
	if n.loraBackward(l, modMLP, n.dfc, db, a.gelu) {
		return true
	}
	nn.GELUBackwardSaved(n.dfc, n.dfc, a.fc)
	nn.LinearBackward(n.dln, g.fcW, g.fcB, n.dfc, a.ln2, p.fcW, N, C, I)
	if n.loraBackward(l, modFC, n.dln, n.dfc, a.ln2) {
		return true
	}
	nn.LayerNormBackward(n.dres, g.ln2w, g.ln2b, n.dln, a.mid, p.ln2w, a.ln2Mean, a.ln2Rstd, N, C)
	// Attention half: mid = x + drop(c_proj(attn(c_attn(ln_1(x)))))
	db = n.residualGrad(l, siteResidAttn)
	nn.LinearBackward(n.datty, g.projW, g.projB, db, a.atty, p.projW, N, C, C)
	if n.loraBackward(l, modProj, n.datty, db, a.atty) {
		return true
	}
	n.attn.Drop = n.drop(l, siteAttn)
	n.attn.Backward(n.dqkv, n.datty, a.probs, a.qkv, n.s1, n.s2)
	nn.LinearBackward(n.dln, g.attnW, g.attnB, n.dqkv, a.ln1, p.attnW, N, C, 3*C)
	if n.loraBackward(l, modAttn, n.dln, n.dqkv, a.ln1) {
		return true
	}
	nn.LayerNormBackward(n.dres, g.ln1w, g.ln1b, n.dln, n.res[l], p.ln1w, a.ln1Mean, a.ln1Rstd, N, C)
	return false
}

// embedBackward scatters dres into the embedding gradients.
func (n *network) embedBackward() {
	if n.grads == nil {
		return
	}
	n.drop(-1, siteEmbd).Apply(n.dres, 0)
	nn.EmbeddingBackward(n.gwte, n.gwpe, n.dres, n.ids, n.N, n.T, n.C)
}

// residualGrad returns the gradient of a residual branch: dres itself, or
// dres through the branch's dropout mask (in n.branch).
func (n *network) residualGrad(layer, site int) []float32 {
	d := n.drop(layer, site)
	if !d.Active() {
		return n.dres
	}
	nn.ResidualBackward(n.branch, n.dres, d)
	return n.branch
}

func (n *network) loraForward(l, m int, y, x []float32) {
	if n.lora == nil || n.lora.ad[l][m] == nil {
		return
	}
	n.lora.forward(n, n.lora.ad[l][m], y, x)
}

// loraBackward runs one adapter's backward and reports whether backward can
// stop: the base is frozen and nothing below this adapter is trained.
func (n *network) loraBackward(l, m int, dx, dy, x []float32) bool {
	if n.lora == nil || n.lora.ad[l][m] == nil {
		return false
	}
	n.lora.backward(n, n.lora.ad[l][m], dx, dy, x)
	return n.grads == nil && l == n.lora.lowest && m == n.lora.first
}
