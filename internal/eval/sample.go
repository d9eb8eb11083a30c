package eval

import (
	"context"

	"github.com/llmtune/llmtune/internal/dataset"
	"github.com/llmtune/llmtune/internal/model"
	"github.com/llmtune/llmtune/internal/tokenize"
)

// Sample is one generation: a prompt from the split and the model's
// continuation. It holds text from the data, so samples.jsonl is 0600.
type Sample struct {
	Record string  `json:"record"`
	Prompt string  `json:"prompt"`
	Output string  `json:"output"`
	Tokens []int32 `json:"-"`
}

// sample generates from prompts taken from the split: a prompt/completion
// record's prompt, a chat's turns before its last assistant turn, or the
// first PromptTokens tokens of a document. Prompts start with the
// end-of-text token, as every training example does.
func sample(ctx context.Context, m *model.Model, tok *tokenize.Tokenizer, recs []dataset.Record, o Options) ([]Sample, error) {
	var out []Sample
	step := max(1, len(recs)/max(1, o.Samples))
	for i := 0; i < len(recs) && len(out) < o.Samples; i += step {
		r := recs[i]
		var ids []int32
		switch r.Kind() {
		case dataset.KindText:
			ids = tok.Encode(r.Text)
			if len(ids) > o.PromptTokens {
				ids = ids[:o.PromptTokens]
			}
		default:
			segs := r.Segments()
			last := len(segs)
			for j := len(segs) - 1; j >= 0; j-- {
				if segs[j].Train {
					last = j
					break
				}
			}
			for _, s := range segs[:last] {
				ids = append(ids, tok.Encode(s.Text)...)
			}
		}
		limit := m.Config.NPositions - o.MaxNew - 1
		if limit < 1 {
			limit = 1
		}
		if len(ids) > limit {
			ids = ids[len(ids)-limit:]
		}
		prompt := append([]int32{tok.EOS()}, ids...)
		gen, err := model.Generate(ctx, m, prompt, model.GenerateOptions{MaxTokens: o.MaxNew,
			Temperature: o.Temperature, Seed: o.Seed + int64(i), EOS: tok.EOS()}, func(int32) error { return nil })
		if err != nil {
			return nil, err
		}
		out = append(out, Sample{Record: r.ID, Prompt: tok.Decode(ids), Output: tok.Decode(trimEOS(gen, tok.EOS())), Tokens: gen})
	}
	return out, nil
}

func trimEOS(ids []int32, eos int32) []int32 {
	for i, t := range ids {
		if t == eos {
			return ids[:i]
		}
	}
	return ids
}
