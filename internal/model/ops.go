package model

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The Gorgonia spine. The network is a graph of a few coarse custom ops —
// embedding, one op per transformer block, final LayerNorm + tied head +
// loss — whose forward and backward are the hand-written kernels of
// internal/nn. Gorgonia's own elementwise ops, SoftMax, ByIndices, Dropout
// and AdamW are not used (issue 5 lists their bugs and costs).
//
// Node values are tensor.Dense views onto the network's planned buffers and
// onto the single parameter and gradient buffers, so running the tape moves
// no data. Parameter gradients are written (accumulated) straight into the
// gradient buffer by the backward ops; the gradient nodes Gorgonia asks for
// are views of that buffer. The tied wte gets both contributions there:
// the head's backward adds its share, the embedding's backward the other,
// so Gorgonia never sums two [V,C] gradients.

var (
	f32Mat = gorgonia.TensorType{Dims: 2, Of: tensor.Float32}
	f32Vec = gorgonia.TensorType{Dims: 1, Of: tensor.Float32}
	i32Vec = gorgonia.TensorType{Dims: 1, Of: tensor.Int32}
)

// spineOp adapts one step of the network to gorgonia.Op and gorgonia.SDOp.
type spineOp struct {
	name  string
	in    []hm.Type
	out   hm.Type
	shape tensor.Shape
	diff  []bool
	run   func(in []gorgonia.Value) (gorgonia.Value, error)
	back  func(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error)
}

func (o *spineOp) Arity() int { return len(o.in) }
func (o *spineOp) Type() hm.Type {
	return hm.NewFnType(append(append([]hm.Type{}, o.in...), o.out)...)
}
func (o *spineOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return o.shape.Clone(), nil }
func (o *spineOp) Do(in ...gorgonia.Value) (gorgonia.Value, error)       { return o.run(in) }
func (o *spineOp) ReturnsPtr() bool                                      { return true }
func (o *spineOp) CallsExtern() bool                                     { return false }
func (o *spineOp) OverwritesInput() int                                  { return -1 }
func (o *spineOp) WriteHash(h hash.Hash)                                 { fmt.Fprint(h, o.name) }
func (o *spineOp) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}
func (o *spineOp) String() string { return o.name }
func (o *spineOp) DiffWRT(n int) []bool {
	if o.diff == nil {
		return make([]bool, n)
	}
	return o.diff
}
func (o *spineOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if o.back == nil {
		return nil, fmt.Errorf("%s is not differentiable", o.name)
	}
	return o.back(in, out, grad)
}

// view wraps a slice of a planned buffer as a Dense without copying.
func view(s []float32, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(s))
}

// readView is an op that returns an already computed buffer; its input only
// orders it after the op that filled the buffer.
func readView(name string, d *tensor.Dense, after *gorgonia.Node) (*gorgonia.Node, error) {
	op := &spineOp{name: name, in: []hm.Type{after.Type()}, out: gorgonia.TensorType{Dims: d.Dims(), Of: tensor.Float32},
		shape: d.Shape(), run: func([]gorgonia.Value) (gorgonia.Value, error) { return d, nil }}
	return gorgonia.ApplyOp(op, after)
}

// spine is the compiled graph for one network: a training tape (forward,
// loss, backward) and an evaluation tape (forward, loss).
type spine struct {
	net                *network
	train, eval        gorgonia.VM
	trainIn, evalIn    [3]*gorgonia.Node // ids, targets, mask
	idsV, tgtV, maskV  *tensor.Dense
	lossSum, lossCount float64
	scale              float32
	lossVal            gorgonia.F64
}

// newSpine builds both graphs once; inputs are bound with gorgonia.Let.
func newSpine(n *network) (*spine, error) {
	s := &spine{net: n,
		idsV:  tensor.New(tensor.WithShape(n.N), tensor.WithBacking(n.ids)),
		tgtV:  tensor.New(tensor.WithShape(n.N), tensor.WithBacking(n.targets)),
		maskV: view(n.mask, n.N)}
	var err error
	if s.train, s.trainIn, err = s.build(true); err != nil {
		return nil, fmt.Errorf("model: building the training graph: %w", err)
	}
	if s.eval, s.evalIn, err = s.build(false); err != nil {
		return nil, fmt.Errorf("model: building the evaluation graph: %w", err)
	}
	return s, nil
}

func (s *spine) build(training bool) (gorgonia.VM, [3]*gorgonia.Node, error) {
	n := s.net
	N, C, V, L := n.N, n.C, n.V, n.cfg.NLayer
	g := gorgonia.NewGraph()
	full := training && n.grads != nil
	lora := training && n.lora != nil
	ids := gorgonia.NewTensor(g, tensor.Int32, 1, gorgonia.WithShape(N), gorgonia.WithName("ids"))
	tgt := gorgonia.NewTensor(g, tensor.Int32, 1, gorgonia.WithShape(N), gorgonia.WithName("targets"))
	mask := gorgonia.NewTensor(g, tensor.Float32, 1, gorgonia.WithShape(N), gorgonia.WithName("mask"))
	param := func(name string, d *tensor.Dense) *gorgonia.Node {
		return gorgonia.NewTensor(g, tensor.Float32, d.Dims(), gorgonia.WithShape(d.Shape()...), gorgonia.WithName(name), gorgonia.WithValue(d))
	}
	wte := param("wte", view(n.wte, V, C))
	wpe := param("wpe", view(n.wpe, len(n.wpe)/C, C))
	lnfT, _ := n.lay.Lookup("ln_f.weight")
	lnf := param("ln_f", view(n.params[lnfT.Offset:lnfT.Offset+2*C], 2*C))
	act := func() *tensor.Dense { return view(n.dres, N, C) }

	// Embedding: (ids, wte, wpe) → res[0].
	h0 := view(n.res[0], N, C)
	emb := &spineOp{name: "embedding", in: []hm.Type{i32Vec, f32Mat, f32Mat}, out: f32Mat, shape: tensor.Shape{N, C},
		diff: []bool{false, full, full},
		run:  func([]gorgonia.Value) (gorgonia.Value, error) { n.embedForward(); return h0, nil }}
	emb.back = func(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
		gw := view(n.gwte, V, C)
		op := &spineOp{name: "embedding_grad", in: []hm.Type{f32Mat}, out: f32Mat, shape: tensor.Shape{V, C},
			run: func([]gorgonia.Value) (gorgonia.Value, error) { n.embedBackward(); return gw, nil }}
		dwte, err := gorgonia.ApplyOp(op, grad)
		if err != nil {
			return nil, err
		}
		dwpe, err := readView("wpe_grad", view(n.gwpe, len(n.gwpe)/C, C), dwte)
		return gorgonia.Nodes{nil, dwte, dwpe}, err
	}
	x, err := gorgonia.ApplyOp(emb, ids, wte, wpe)
	if err != nil {
		return nil, [3]*gorgonia.Node{}, err
	}
	wrt := gorgonia.Nodes{}
	if full {
		wrt = append(wrt, wte, wpe)
	}

	// Blocks: (res[l], θ_l [, lora_l]) → res[l+1].
	for l := 0; l < L; l++ {
		l := l
		first, _ := n.lay.Lookup(fmt.Sprintf("h.%d.ln_1.weight", l))
		last, _ := n.lay.Lookup(fmt.Sprintf("h.%d.mlp.c_proj.bias", l))
		lo, hi := first.Offset, last.Offset+last.Size
		theta := param(fmt.Sprintf("h.%d", l), view(n.params[lo:hi], hi-lo))
		inputs := gorgonia.Nodes{x, theta}
		types := []hm.Type{f32Mat, f32Vec}
		diff := []bool{training, full}
		var loraNode *gorgonia.Node
		var loraGrad *tensor.Dense
		if lora {
			alo, ahi := n.lora.layerRange(l)
			loraNode = param(fmt.Sprintf("h.%d.lora", l), view(n.lora.params[alo:ahi], ahi-alo))
			loraGrad = view(n.lora.grads[alo:ahi], ahi-alo)
			inputs = append(inputs, loraNode)
			types = append(types, f32Vec)
			diff = append(diff, true)
			wrt = append(wrt, loraNode)
		}
		if full {
			wrt = append(wrt, theta)
		}
		out := view(n.res[l+1], N, C)
		op := &spineOp{name: fmt.Sprintf("block%d", l), in: types, out: f32Mat, shape: tensor.Shape{N, C}, diff: diff,
			run: func([]gorgonia.Value) (gorgonia.Value, error) { n.layerForward(l); return out, nil }}
		op.back = func(in gorgonia.Nodes, o, grad *gorgonia.Node) (gorgonia.Nodes, error) {
			d := act()
			bop := &spineOp{name: fmt.Sprintf("block%d_grad", l), in: []hm.Type{f32Mat, f32Mat}, out: f32Mat, shape: tensor.Shape{N, C},
				run: func([]gorgonia.Value) (gorgonia.Value, error) { n.layerBackward(l); return d, nil }}
			dx, err := gorgonia.ApplyOp(bop, o, grad)
			if err != nil {
				return nil, err
			}
			res := gorgonia.Nodes{dx, nil}
			if full {
				gt := view(n.grads[lo:hi], hi-lo)
				if res[1], err = readView(fmt.Sprintf("h.%d_grad", l), gt, dx); err != nil {
					return nil, err
				}
			}
			if lora {
				gl, err := readView(fmt.Sprintf("h.%d.lora_grad", l), loraGrad, dx)
				if err != nil {
					return nil, err
				}
				res = append(res, gl)
			}
			return res, nil
		}
		if x, err = gorgonia.ApplyOp(op, inputs...); err != nil {
			return nil, [3]*gorgonia.Node{}, err
		}
	}

	// Head: (res[L], ln_f, wte, targets, mask) → masked CE sum (scalar).
	head := &spineOp{name: "head_loss", in: []hm.Type{f32Mat, f32Vec, f32Mat, i32Vec, f32Vec}, out: tensor.Float64,
		shape: tensor.ScalarShape(), diff: []bool{training, full, false, false, false},
		run: func([]gorgonia.Value) (gorgonia.Value, error) {
			n.headForward()
			s.lossSum, s.lossCount = n.loss(training, s.scale)
			s.lossVal = gorgonia.F64(s.lossSum)
			return &s.lossVal, nil
		}}
	head.back = func(in gorgonia.Nodes, o, grad *gorgonia.Node) (gorgonia.Nodes, error) {
		d := act()
		bop := &spineOp{name: "head_grad", in: []hm.Type{tensor.Float64, tensor.Float64}, out: f32Mat, shape: tensor.Shape{N, C},
			run: func(v []gorgonia.Value) (gorgonia.Value, error) {
				if g, ok := v[1].(*gorgonia.F64); !ok || float64(*g) != 1 {
					return nil, fmt.Errorf("head_grad: the loss must be the graph's output (gradient seed %v)", v[1])
				}
				n.headBackward()
				return d, nil
			}}
		dx, err := gorgonia.ApplyOp(bop, o, grad)
		if err != nil {
			return nil, err
		}
		res := gorgonia.Nodes{dx, nil, nil, nil, nil}
		if full {
			glnf, _ := n.lay.Lookup("ln_f.weight")
			if res[1], err = readView("ln_f_grad", view(n.grads[glnf.Offset:glnf.Offset+2*C], 2*C), dx); err != nil {
				return nil, err
			}
		}
		return res, nil
	}
	loss, err := gorgonia.ApplyOp(head, x, lnf, wte, tgt, mask)
	if err != nil {
		return nil, [3]*gorgonia.Node{}, err
	}
	if full {
		wrt = append(wrt, lnf)
	}
	if training {
		if _, err := gorgonia.Grad(loss, wrt...); err != nil {
			return nil, [3]*gorgonia.Node{}, err
		}
	}
	return gorgonia.NewTapeMachine(g), [3]*gorgonia.Node{ids, tgt, mask}, nil
}

// run binds the inputs and runs one tape. Reset is required before every
// run: gorgonia's RunAll without it returns stale values.
func (s *spine) run(training bool, scale float32) (float64, float64, error) {
	vm, in := s.eval, s.evalIn
	if training {
		vm, in = s.train, s.trainIn
	}
	s.scale = scale
	for i, v := range []gorgonia.Value{s.idsV, s.tgtV, s.maskV} {
		if err := gorgonia.Let(in[i], v); err != nil {
			return 0, 0, err
		}
	}
	vm.Reset()
	if err := vm.RunAll(); err != nil {
		return 0, 0, fmt.Errorf("model: running the graph: %w", err)
	}
	return s.lossSum, s.lossCount, nil
}
