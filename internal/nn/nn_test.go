package nn

import (
	"math"
	"math/rand"
	"testing"
)

// The gradient checks compare each kernel's backward with float64 central
// differences of a scalar objective L = Σ w·y (w random) computed from the
// kernel's own forward, on shapes small enough to perturb every input.

func randn(rng *rand.Rand, n int, s float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * s)
	}
	return v
}

func dot(w, y []float32) float64 {
	var s float64
	for i := range w {
		s += float64(w[i]) * float64(y[i])
	}
	return s
}

// fdCheck perturbs every element of x and compares (L(x+h)-L(x-h))/2h with
// the analytic gradient, as a relative L2 error over the whole tensor.
func fdCheck(t *testing.T, name string, x []float32, loss func() float64, analytic []float32, tol float64) {
	t.Helper()
	const h = 1e-2
	var num, den float64
	for i := range x {
		old := x[i]
		x[i] = old + h
		lp := loss()
		x[i] = old - h
		lm := loss()
		x[i] = old
		g := (lp - lm) / (2 * h)
		d := g - float64(analytic[i])
		num += d * d
		den += g * g
	}
	if den == 0 {
		t.Fatalf("%s: numerical gradient is zero: the check cannot fail", name)
	}
	if rel := math.Sqrt(num / den); rel > tol {
		t.Errorf("%s: analytic vs numerical gradient rel L2 error %.3g > %g", name, rel, tol)
	}
}

func TestLayerNormGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	n, c := 3, 8
	x, w, b := randn(rng, n*c, 1), randn(rng, c, 1), randn(rng, c, 1)
	wy := randn(rng, n*c, 1)
	y, mean, rstd := make([]float32, n*c), make([]float32, n), make([]float32, n)
	loss := func() float64 { LayerNormForward(y, mean, rstd, x, w, b, n, c, 1e-5); return dot(wy, y) }
	loss()
	dx, dw, db := make([]float32, n*c), make([]float32, c), make([]float32, c)
	LayerNormBackward(dx, dw, db, wy, x, w, mean, rstd, n, c)
	fdCheck(t, "dx", x, loss, dx, 1e-3)
	fdCheck(t, "dw", w, loss, dw, 1e-3)
	fdCheck(t, "db", b, loss, db, 1e-3)
	// Known values: a row of [1,2,3] with unit affine normalises to ±1.2247.
	y3, m3, r3 := make([]float32, 3), make([]float32, 1), make([]float32, 1)
	LayerNormForward(y3, m3, r3, []float32{1, 2, 3}, []float32{1, 1, 1}, []float32{0, 0, 0}, 1, 3, 0)
	if math.Abs(float64(y3[0])+math.Sqrt(1.5)) > 1e-6 || y3[1] != 0 {
		t.Errorf("layernorm([1,2,3]) = %v", y3)
	}
}

func TestLinearGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	n, in, out := 4, 5, 3
	x, w, b := randn(rng, n*in, 1), randn(rng, in*out, 1), randn(rng, out, 1)
	wy := randn(rng, n*out, 1)
	y := make([]float32, n*out)
	loss := func() float64 { LinearForward(y, x, w, b, n, in, out); return dot(wy, y) }
	loss()
	dx, dw, db := make([]float32, n*in), make([]float32, in*out), make([]float32, out)
	LinearBackward(dx, dw, db, wy, x, w, n, in, out)
	fdCheck(t, "dx", x, loss, dx, 1e-3)
	fdCheck(t, "dw", w, loss, dw, 1e-3)
	fdCheck(t, "db", b, loss, db, 1e-3)
}

func TestGELUGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	x := randn(rng, 50, 2)
	wy := randn(rng, 50, 1)
	y := make([]float32, 50)
	loss := func() float64 { GELUForward(y, x); return dot(wy, y) }
	loss()
	dx := make([]float32, 50)
	GELUBackward(dx, wy, x)
	fdCheck(t, "dx", x, loss, dx, 1e-3)
	y2, d, dx2 := make([]float32, 50), make([]float32, 50), make([]float32, 50)
	loss() // fdCheck leaves y at a perturbed x
	GELUForwardSave(y2, d, x)
	GELUBackwardSaved(dx2, wy, d)
	for i := range y {
		if math.Abs(float64(y2[i]-y[i])) > 1e-6 || math.Abs(float64(dx2[i]-dx[i])) > 1e-6 {
			t.Fatalf("saved-derivative GELU differs at %d: %v/%v %v/%v", i, y2[i], y[i], dx2[i], dx[i])
		}
	}
	// gelu_new reference values (transformers NewGELUActivation, float64).
	for _, c := range []struct{ x, y float64 }{{1, 0.8411919906082768}, {-1, -0.15880800939172324}, {3, 2.996362607918227}, {0, 0}} {
		GELUForward(y[:1], []float32{float32(c.x)})
		if math.Abs(float64(y[0])-c.y) > 1e-6 {
			t.Errorf("gelu_new(%v) = %v, want %v", c.x, y[0], c.y)
		}
	}
}

func TestAttentionGrad(t *testing.T) {
	for _, p := range []float32{0, 0.3} {
		rng := rand.New(rand.NewSource(4))
		B, T, H, D := 2, 5, 2, 3
		C := H * D
		a := &Attention{B: B, T: T, H: H, D: D, Drop: Dropout{P: p, Seed: 7, Key: 9, Stream: 3}}
		qkv := randn(rng, B*T*3*C, 1)
		wy := randn(rng, B*T*C, 1)
		out, probs := make([]float32, B*T*C), make([]float32, B*H*T*T)
		s1, s2 := make([]float32, B*H*T*T), make([]float32, B*H*T*T)
		loss := func() float64 { a.Forward(out, probs, qkv, s1); return dot(wy, out) }
		loss()
		// causality: perturbing the last position's k and v must not change earlier outputs.
		before := append([]float32(nil), out[:C]...)
		qkv[(T-1)*3*C+C] += 5
		qkv[(T-1)*3*C+2*C] += 5
		loss()
		for i := range before {
			if out[i] != before[i] {
				t.Fatalf("p=%v: position 0 saw a future key/value", p)
			}
		}
		qkv[(T-1)*3*C+C] -= 5
		qkv[(T-1)*3*C+2*C] -= 5
		loss()
		dqkv := make([]float32, len(qkv))
		a.Backward(dqkv, wy, probs, qkv, s1, s2)
		fdCheck(t, "dqkv", qkv, loss, dqkv, 2e-3)
	}
}

func TestCrossEntropyGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	n, v := 4, 7
	logits := randn(rng, n*v, 2)
	targets := []int32{1, 6, 0, 3}
	mask := []float32{1, 0, 1, 0.5}
	loss := func() float64 { l, _ := CrossEntropy(nil, logits, targets, mask, n, v, 1); return l }
	d := make([]float32, n*v)
	l, c := CrossEntropy(d, logits, targets, mask, n, v, 1)
	if c != 2.5 {
		t.Errorf("count %v, want 2.5", c)
	}
	// Independent float64 loss.
	var want float64
	for i := 0; i < n; i++ {
		var s float64
		for j := 0; j < v; j++ {
			s += math.Exp(float64(logits[i*v+j]))
		}
		want += float64(mask[i]) * (math.Log(s) - float64(logits[i*v+int(targets[i])]))
	}
	if math.Abs(l-want) > 1e-5 {
		t.Errorf("loss %v, want %v", l, want)
	}
	fdCheck(t, "dlogits", logits, loss, d, 1e-3)
}

func TestEmbeddingGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	V, P, C, B, T := 5, 4, 3, 2, 3
	wte, wpe := randn(rng, V*C, 1), randn(rng, P*C, 1)
	ids := []int32{1, 4, 1, 0, 1, 2}
	wy := randn(rng, B*T*C, 1)
	x := make([]float32, B*T*C)
	loss := func() float64 { EmbeddingForward(x, ids, wte, wpe, B*T, T, C); return dot(wy, x) }
	loss()
	dwte, dwpe := make([]float32, V*C), make([]float32, P*C)
	EmbeddingBackward(dwte, dwpe, wy, ids, B*T, T, C)
	fdCheck(t, "dwte", wte, loss, dwte, 1e-3)
	fdCheck(t, "dwpe", wpe, loss, dwpe, 1e-3)
}

func TestResidualDropoutGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	n := 200
	x, br, wy := randn(rng, n, 1), randn(rng, n, 1), randn(rng, n, 1)
	d := Dropout{P: 0.25, Seed: 1, Key: 2, Stream: 3}
	y := make([]float32, n)
	loss := func() float64 { ResidualForward(y, x, br, d); return dot(wy, y) }
	loss()
	dbr := make([]float32, n)
	ResidualBackward(dbr, wy, d)
	fdCheck(t, "dbranch", br, loss, dbr, 1e-3)
	dropped := 0
	for i := range y {
		if y[i] == x[i] {
			dropped++
		}
	}
	if dropped < 30 || dropped > 70 {
		t.Errorf("dropped %d of %d at p=0.25", dropped, n)
	}
}

func TestDropoutIsPureFunction(t *testing.T) {
	a, b := make([]float32, 1000), make([]float32, 1000)
	for i := range a {
		a[i], b[i] = 1, 1
	}
	d := Dropout{P: 0.1, Seed: 42, Key: 7, Stream: 1}
	d.Apply(a, 0)
	d.Apply(b[:500], 0)
	d.Apply(b[500:], 500)
	kept := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("element %d differs between one call and two", i)
		}
		if a[i] != 0 {
			kept++
			if math.Abs(float64(a[i])-1/0.9) > 1e-6 {
				t.Fatalf("kept element scaled by %v, want 1/0.9", a[i])
			}
		}
	}
	if kept < 870 || kept > 930 {
		t.Errorf("kept %d of 1000 at p=0.1", kept)
	}
	d.Key = 8
	d.Apply(b, 0)
	same := 0
	for i := range b {
		if (a[i] == 0) == (b[i] == 0) {
			same++
		}
	}
	if same == len(a) {
		t.Error("a different key gave the same mask")
	}
}

func TestFastMath(t *testing.T) {
	var worstExp, worstTanh float64
	for x := -87.0; x < 88; x += 0.0137 {
		got, want := float64(expf(float32(x))), math.Exp(float64(float32(x)))
		worstExp = max(worstExp, math.Abs(got-want)/want)
	}
	for x := -12.0; x < 12; x += 0.00131 {
		got, want := float64(tanhf(float32(x))), math.Tanh(float64(float32(x)))
		worstTanh = max(worstTanh, math.Abs(got-want))
	}
	if worstExp > 5e-7 || worstTanh > 3e-7 {
		t.Errorf("expf rel error %.3g (want < 5e-7), tanhf abs error %.3g (want < 3e-7)", worstExp, worstTanh)
	}
	if expf(-100) != 0 || !math.IsInf(float64(expf(100)), 1) {
		t.Error("expf range limits")
	}
}

func TestLinearOneRowAndGemv(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	in, out := 37, 300
	x, w, b := randn(rng, in, 1), randn(rng, in*out, 1), randn(rng, out, 1)
	y := make([]float32, out)
	LinearForward(y, x, w, b, 1, in, out) // the GEMV path
	for j := 0; j < out; j++ {
		s := float64(b[j])
		for i := 0; i < in; i++ {
			s += float64(x[i]) * float64(w[i*out+j])
		}
		if math.Abs(s-float64(y[j])) > 1e-4 {
			t.Fatalf("y[%d] = %v, want %v", j, y[j], s)
		}
	}
	z := make([]float32, in)
	Gemv(false, in, out, 1, w, out, y, 0, z) // z = W·y
	for i := 0; i < in; i++ {
		var s float64
		for j := 0; j < out; j++ {
			s += float64(w[i*out+j]) * float64(y[j])
		}
		if math.Abs(s-float64(z[i])) > 1e-3 {
			t.Fatalf("z[%d] = %v, want %v", i, z[i], s)
		}
	}
}

func TestExpSub(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	for _, n := range []int{0, 1, 7, 8, 9, 100, 1003} {
		src := randn(rng, n, 20)
		dst := make([]float32, n)
		expSub(dst, src, 3)
		for i := range src {
			x := float64(src[i] - 3) // the subtraction rounds in float32 too
			want := math.Exp(x)
			if x < -87 || x > 88 {
				continue // clamped: results differ only below 1e-37 or above 1e38
			}
			if math.Abs(float64(dst[i])-want) > 5e-7*want {
				t.Fatalf("n=%d: exp(%v) = %v, want %v", n, x, dst[i], want)
			}
		}
		expSub(src, src, 3) // in place
		for i := range src {
			if src[i] != dst[i] {
				t.Fatalf("n=%d: in-place result differs at %d", n, i)
			}
		}
	}
}
