package model

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"slices"

	"github.com/llmtune/llmtune/internal/nn"
)

// GenerateOptions control decoding. Temperature 0 is greedy; TopK 0 and
// TopP 0 (or 1) disable those filters; RepetitionPenalty 0 or 1 disables it
// (HF's rule: a seen token's positive logit is divided by it, a negative one
// multiplied). EOS ends generation (it is neither emitted nor returned); use
// a negative EOS for none.
type GenerateOptions struct {
	MaxTokens         int
	Temperature       float64
	TopP              float64
	RepetitionPenalty float64
	TopK              int
	Seed              int64
	EOS               int32
}

// Generate continues prompt with up to o.MaxTokens tokens, calling emit with
// each as soon as it is chosen, and returns the new tokens. It keeps a
// key/value cache, so each new token costs one position's forward pass.
func Generate(ctx context.Context, m *Model, prompt []int32, o GenerateOptions, emit func(tok int32) error) ([]int32, error) {
	if len(prompt) == 0 {
		return nil, errors.New("generate: empty prompt (at least one token is needed)")
	}
	P := m.Config.NPositions
	if len(prompt) >= P {
		return nil, fmt.Errorf("generate: prompt of %d tokens leaves no room in the model's %d positions", len(prompt), P)
	}
	for i, id := range prompt {
		if id < 0 || int(id) >= m.Config.VocabSize {
			return nil, fmt.Errorf("generate: prompt token %d at position %d is outside the vocabulary", id, i)
		}
	}
	if o.MaxTokens <= 0 {
		return nil, nil
	}
	maxLen := min(P, len(prompt)+o.MaxTokens)
	nn.UseGoThreads()
	d := newDecoder(m, maxLen, len(prompt))
	s := newSampler(o, m.Config.VocabSize)
	for _, id := range prompt {
		s.seen(id)
	}
	logits := d.step(prompt)
	var out []int32
	for len(out) < o.MaxTokens {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		tok := s.pick(logits)
		if tok == o.EOS {
			break
		}
		out = append(out, tok)
		s.seen(tok)
		if emit != nil {
			if err := emit(tok); err != nil {
				return out, err
			}
		}
		if d.pos >= maxLen || len(out) == o.MaxTokens {
			break
		}
		logits = d.step([]int32{tok})
	}
	return out, nil
}

// decoder runs the network position by position with a key/value cache.
type decoder struct {
	m                                  *Model
	cfg                                Config
	p                                  []layerParams
	wte, wpe, lnfW, lnfB               []float32
	kc, vc                             [][]float32 // per layer [maxLen, C]
	x, mid, ln, qkv, atty, branch      []float32   // [rows, C] (qkv 3C)
	fc, gelu                           []float32   // [rows, I]
	mean, rstd, scores, logits, lnLast []float32
	pos                                int
}

func newDecoder(m *Model, maxLen, rows int) *decoder {
	c := m.Config
	C, I, L := c.NEmbd, c.Inner(), c.NLayer
	f := func(k int) []float32 { return make([]float32, k) }
	get := func(n string) []float32 { t, _ := m.Layout.Lookup(n); return t.Slice(m.Params) }
	d := &decoder{m: m, cfg: c, wte: get("wte.weight"), wpe: get("wpe.weight"), lnfW: get("ln_f.weight"), lnfB: get("ln_f.bias"),
		x: f(rows * C), mid: f(rows * C), ln: f(rows * C), qkv: f(rows * 3 * C), atty: f(rows * C), branch: f(rows * C),
		fc: f(rows * I), gelu: f(rows * I), mean: f(rows), rstd: f(rows), scores: f(rows * maxLen),
		logits: f(c.VocabSize), lnLast: f(C)}
	for l := 0; l < L; l++ {
		d.p = append(d.p, viewLayer(m.Layout, m.Params, l))
		d.kc = append(d.kc, f(maxLen*C))
		d.vc = append(d.vc, f(maxLen*C))
	}
	return d
}

// step feeds ids at the next positions and returns the logits after the
// last one (a view, valid until the next step).
func (d *decoder) step(ids []int32) []float32 {
	c := d.cfg
	C, I, n, eps := c.NEmbd, c.Inner(), len(ids), float32(c.LayerNormEpsilon)
	x := d.x[:n*C]
	for i, id := range ids {
		tok, pos := d.wte[int(id)*C:][:C], d.wpe[(d.pos+i)*C:][:C]
		for j := range C {
			x[i*C+j] = tok[j] + pos[j]
		}
	}
	mean, rstd := d.mean[:n], d.rstd[:n]
	ln, qkv, atty, br, mid := d.ln[:n*C], d.qkv[:n*3*C], d.atty[:n*C], d.branch[:n*C], d.mid[:n*C]
	fc, gl := d.fc[:n*I], d.gelu[:n*I]
	for l, p := range d.p {
		nn.LayerNormForward(ln, mean, rstd, x, p.ln1w, p.ln1b, n, C, eps)
		nn.LinearForward(qkv, ln, p.attnW, p.attnB, n, C, 3*C)
		for i := 0; i < n; i++ {
			copy(d.kc[l][(d.pos+i)*C:][:C], qkv[i*3*C+C:][:C])
			copy(d.vc[l][(d.pos+i)*C:][:C], qkv[i*3*C+2*C:][:C])
		}
		nn.AttendCached(atty, qkv, d.kc[l], d.vc[l], d.scores, d.pos, n, c.NHead, c.HeadDim())
		nn.LinearForward(br, atty, p.projW, p.projB, n, C, C)
		nn.ResidualForward(mid, x, br, nn.Dropout{})
		nn.LayerNormForward(ln, mean, rstd, mid, p.ln2w, p.ln2b, n, C, eps)
		nn.LinearForward(fc, ln, p.fcW, p.fcB, n, C, I)
		nn.GELUForward(gl, fc)
		nn.LinearForward(br, gl, p.mlpW, p.mlpB, n, I, C)
		nn.ResidualForward(x, mid, br, nn.Dropout{})
	}
	d.pos += n
	nn.LayerNormForward(d.lnLast, mean[:1], rstd[:1], x[(n-1)*C:], d.lnfW, d.lnfB, 1, C, eps)
	nn.Gemv(false, c.VocabSize, C, 1, d.wte, C, d.lnLast, 0, d.logits)
	return d.logits
}

// sampler turns logits into a token under GenerateOptions.
type sampler struct {
	o     GenerateOptions
	rng   *rand.Rand
	count map[int32]bool
	idx   []int32
	prob  []float64
}

func newSampler(o GenerateOptions, v int) *sampler {
	return &sampler{o: o, rng: rand.New(rand.NewSource(o.Seed)), count: map[int32]bool{},
		idx: make([]int32, v), prob: make([]float64, v)}
}

func (s *sampler) seen(tok int32) { s.count[tok] = true }

func (s *sampler) pick(logits []float32) int32 {
	if rp := s.o.RepetitionPenalty; rp > 0 && rp != 1 {
		for tok := range s.count {
			if logits[tok] > 0 {
				logits[tok] /= float32(rp)
			} else {
				logits[tok] *= float32(rp)
			}
		}
	}
	if s.o.Temperature <= 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return int32(best)
	}
	for i := range s.idx {
		s.idx[i] = int32(i)
	}
	cand := s.idx
	if k := s.o.TopK; k > 0 && k < len(cand) {
		// Sorting is simplest and costs about a millisecond at GPT-2's vocabulary.
		slices.SortFunc(cand, func(a, b int32) int { return cmpDesc(logits[a], logits[b], a, b) })
		cand = cand[:k]
	} else if s.o.TopP > 0 && s.o.TopP < 1 {
		slices.SortFunc(cand, func(a, b int32) int { return cmpDesc(logits[a], logits[b], a, b) })
	}
	mx := logits[cand[0]]
	for _, i := range cand {
		mx = max(mx, logits[i])
	}
	var sum float64
	prob := s.prob[:len(cand)]
	for j, i := range cand {
		prob[j] = math.Exp(float64(logits[i]-mx) / s.o.Temperature)
		sum += prob[j]
	}
	if p := s.o.TopP; p > 0 && p < 1 {
		// cand is sorted (top-k sorts too): keep the shortest prefix reaching p.
		var c float64
		for j := range cand {
			c += prob[j] / sum
			if c >= p {
				cand, prob = cand[:j+1], prob[:j+1]
				break
			}
		}
		sum = 0
		for _, q := range prob {
			sum += q
		}
	}
	r := s.rng.Float64() * sum
	for j, q := range prob {
		r -= q
		if r < 0 {
			return cand[j]
		}
	}
	return cand[len(cand)-1]
}

// cmpDesc orders by logit descending, then id ascending (a total order, so
// sampling is reproducible).
func cmpDesc(x, y float32, a, b int32) int {
	switch {
	case x > y:
		return -1
	case x < y:
		return 1
	}
	return int(a - b)
}
