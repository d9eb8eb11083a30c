package eval

import (
	"sort"
	"strings"

	"github.com/llmtune/llmtune/internal/anonymize"
	"github.com/llmtune/llmtune/internal/dataset"
	"github.com/llmtune/llmtune/internal/tokenize"
)

// Audit is what the samples reveal about memorisation. It holds counts and
// shares only, never the regurgitated values.
type Audit struct {
	PIIByType         map[string]int `json:"pii_by_type"`
	PIIEmitted        int            `json:"pii_emitted"`
	PIIFromTraining   int            `json:"pii_from_training"` // emitted entities found verbatim in the training split
	PIITrainingByType map[string]int `json:"pii_from_training_by_type"`
	Ngram             int            `json:"ngram"`
	VerbatimSamples   int            `json:"verbatim_samples"`
	VerbatimShare     float64        `json:"verbatim_share"`
	Samples           int            `json:"samples"`
}

// audit runs the anonymizer's detector over the samples and looks for
// n-token runs of each sample in an index of the training split's n-grams,
// built once.
func audit(tok *tokenize.Tokenizer, samples []Sample, train []dataset.Record, n int) *Audit {
	a := &Audit{PIIByType: map[string]int{}, PIITrainingByType: map[string]int{}, Ngram: n, Samples: len(samples)}
	var text strings.Builder
	index := map[uint64]struct{}{}
	for _, r := range train {
		for _, s := range r.Segments() {
			text.WriteString(s.Text)
			text.WriteByte('\n')
			addNgrams(index, tok.Encode(s.Text), n)
		}
	}
	trainText := text.String()
	det := anonymize.Default()
	for _, s := range samples {
		for _, sp := range det.Detect(s.Output) {
			a.PIIByType[sp.Type]++
			a.PIIEmitted++
			if v := s.Output[sp.Start:sp.End]; len(v) >= 4 && strings.Contains(trainText, v) {
				a.PIIFromTraining++
				a.PIITrainingByType[sp.Type]++
			}
		}
		if hasNgram(index, s.Tokens, n) {
			a.VerbatimSamples++
		}
	}
	if len(samples) > 0 {
		a.VerbatimShare = float64(a.VerbatimSamples) / float64(len(samples))
	}
	return a
}

// ngramHash is a polynomial hash of n token ids; collisions only ever
// overstate memorisation, by a 2^-64 chance per pair.
func ngramHashes(ids []int32, n int, fn func(h uint64)) {
	if len(ids) < n {
		return
	}
	const base = 1000003
	var pow uint64 = 1
	for i := 0; i < n-1; i++ {
		pow *= base
	}
	var h uint64
	for i, t := range ids {
		if i >= n {
			h -= uint64(ids[i-n]+1) * pow
		}
		h = h*base + uint64(t+1)
		if i >= n-1 {
			fn(h)
		}
	}
}

func addNgrams(index map[uint64]struct{}, ids []int32, n int) {
	ngramHashes(ids, n, func(h uint64) { index[h] = struct{}{} })
}

func hasNgram(index map[uint64]struct{}, ids []int32, n int) bool {
	found := false
	ngramHashes(ids, n, func(h uint64) {
		if _, ok := index[h]; ok {
			found = true
		}
	})
	return found
}

func sortedTypes(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
