package eval

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/llmtune/llmtune/internal/canary"
	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/model"
	"github.com/llmtune/llmtune/internal/nn"
	"github.com/llmtune/llmtune/internal/tokenize"
)

// CanaryExposure is one canary's result; the secret itself is not repeated.
type CanaryExposure struct {
	ID            string  `json:"id"`
	Format        string  `json:"format"`
	Repeats       int     `json:"repeats"`
	LogPerplexity float64 `json:"log_perplexity"`
	Exposure      float64 `json:"exposure"`
	Log2Space     float64 `json:"log2_space"`
	// BetterCandidates counts sampled candidates at least as likely.
	BetterCandidates int `json:"better_candidates"`
}

// RepeatSummary is mean and max exposure of the canaries inserted a given
// number of times.
type RepeatSummary struct {
	Repeats  int     `json:"repeats"`
	Canaries int     `json:"canaries"`
	Mean     float64 `json:"mean"`
	Max      float64 `json:"max"`
}

// ExposureReport is the canary part of the audit.
type ExposureReport struct {
	Method     string               `json:"method"`
	Candidates int                  `json:"candidates_per_format"`
	Canaries   []CanaryExposure     `json:"canaries"`
	ByRepeats  []RepeatSummary      `json:"by_repeats"`
	Max        float64              `json:"max"`
	Reference  map[string][]float64 `json:"-"` // candidates' log-perplexities per format, for the plot
}

// exposures scores every canary against o.Candidates random secrets of its
// format: exposure = -log2 P(candidate log-perplexity <= canary's) under a
// skew-normal fitted to the candidates (TF Privacy's extrapolation), since
// the formats' spaces (10^10 and more) are far too large to rank exactly.
func exposures(ctx context.Context, m *model.Model, tok *tokenize.Tokenizer, path string, o Options, out *cli.Output) (*ExposureReport, error) {
	cs, err := canary.Read(path)
	if err != nil {
		return nil, err
	}
	if o.Candidates < 100 {
		o.Candidates = 100
	}
	rep := &ExposureReport{Method: "skew-normal extrapolation", Candidates: o.Candidates, Reference: map[string][]float64{}}
	byFormat := map[string][]canary.Canary{}
	for _, c := range cs {
		byFormat[c.Format] = append(byFormat[c.Format], c)
	}
	formats := make([]string, 0, len(byFormat))
	for f := range byFormat {
		formats = append(formats, f)
	}
	sort.Strings(formats)
	sc := newScorer(m, tok)
	for _, name := range formats {
		f, ok := canary.FormatByName(name)
		if !ok {
			return nil, fmt.Errorf("%s: unknown canary format %q", path, name)
		}
		out.Infof("audit: scoring %d %s candidates", o.Candidates, name)
		r := rand.New(rand.NewPCG(uint64(o.Seed), 0xc4a7))
		secrets := make([]string, o.Candidates)
		for i := range secrets {
			secrets[i] = f.Random(r)
		}
		ref, err := sc.logPerplexities(ctx, f.Prefix, secrets)
		if err != nil {
			return nil, err
		}
		rep.Reference[name] = ref
		fit := FitSkewNormal(ref)
		mine := make([]string, len(byFormat[name]))
		for i, c := range byFormat[name] {
			mine[i] = c.Secret
		}
		lp, err := sc.logPerplexities(ctx, f.Prefix, mine)
		if err != nil {
			return nil, err
		}
		for i, c := range byFormat[name] {
			e := ExposureExtrapolation(lp[i], fit)
			e = math.Min(e, f.Log2Space) // no estimate can exceed the space
			better := 0
			for _, x := range ref {
				if x <= lp[i] {
					better++
				}
			}
			rep.Canaries = append(rep.Canaries, CanaryExposure{ID: c.ID, Format: name, Repeats: c.Repeats,
				LogPerplexity: lp[i], Exposure: e, Log2Space: f.Log2Space, BetterCandidates: better})
		}
	}
	groups := map[int]*RepeatSummary{}
	for _, c := range rep.Canaries {
		g := groups[c.Repeats]
		if g == nil {
			g = &RepeatSummary{Repeats: c.Repeats, Max: math.Inf(-1)}
			groups[c.Repeats] = g
		}
		g.Canaries++
		g.Mean += c.Exposure
		g.Max = math.Max(g.Max, c.Exposure)
		rep.Max = math.Max(rep.Max, c.Exposure)
	}
	for _, g := range groups {
		g.Mean /= float64(g.Canaries)
		rep.ByRepeats = append(rep.ByRepeats, *g)
	}
	sort.Slice(rep.ByRepeats, func(i, j int) bool { return rep.ByRepeats[i].Repeats < rep.ByRepeats[j].Repeats })
	return rep, nil
}

// scorer computes the log-perplexity (summed negative log-likelihood in
// nats) of a secret's tokens after a fixed prefix, many candidates per
// forward pass.
type scorer struct {
	m     *model.Model
	tok   *tokenize.Tokenizer
	batch int
	tr    *model.Trainer // planned for seq, reused while the length stays the same
	seq   int
}

func newScorer(m *model.Model, tok *tokenize.Tokenizer) *scorer {
	return &scorer{m: m, tok: tok, batch: 32}
}

func (s *scorer) logPerplexities(ctx context.Context, prefix string, secrets []string) ([]float64, error) {
	pre := len(s.tok.Encode(strings.TrimRight(prefix, " ")))
	seqs := make([][]int32, len(secrets))
	T := 0
	for i, sec := range secrets {
		seqs[i] = append([]int32{s.tok.EOS()}, s.tok.Encode(prefix+sec+".")...)
		T = max(T, len(seqs[i])-1)
	}
	if T > s.m.Config.NPositions {
		return nil, fmt.Errorf("canary sentences of %d tokens do not fit the model's %d positions", T, s.m.Config.NPositions)
	}
	if s.tr == nil || s.seq != T {
		tr, err := model.NewTrainer(s.m, model.TrainOptions{Batch: s.batch, Seq: T})
		if err != nil {
			return nil, err
		}
		s.tr, s.seq = tr, T
	}
	tr := s.tr
	V := s.m.Config.VocabSize
	in := make([]int32, s.batch*T)
	tg := make([]int32, s.batch*T)
	mask := make([]float32, s.batch*T)
	out := make([]float64, len(secrets))
	for lo := 0; lo < len(seqs); lo += s.batch {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		clear(in)
		clear(tg)
		clear(mask)
		for b := 0; b < s.batch && lo+b < len(seqs); b++ {
			seq := seqs[lo+b]
			for j := 0; j+1 < len(seq); j++ {
				in[b*T+j], tg[b*T+j] = seq[j], seq[j+1]
				if j >= pre {
					mask[b*T+j] = 1
				}
			}
		}
		if _, _, err := tr.Eval(in, tg, mask); err != nil {
			return nil, err
		}
		logits := tr.Logits()
		for b := 0; b < s.batch && lo+b < len(seqs); b++ {
			var nll float64
			for j := 0; j < T; j++ {
				if mask[b*T+j] == 0 {
					continue
				}
				i := b*T + j
				l, _ := nn.CrossEntropy(nil, logits[i*V:(i+1)*V], tg[i:i+1], mask[i:i+1], 1, V, 1)
				nll += l
			}
			out[lo+b] = nll
		}
	}
	return out, nil
}
