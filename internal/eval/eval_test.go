package eval

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmtune/llmtune/internal/anonymize"
	"github.com/llmtune/llmtune/internal/dataset"
	"github.com/llmtune/llmtune/internal/model"
	"github.com/llmtune/llmtune/internal/testutil"
	"github.com/llmtune/llmtune/internal/tokenize"
)

func gpt2(t *testing.T) *tokenize.Tokenizer {
	t.Helper()
	tok, err := tokenize.GPT2()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// The audit finds a sample that repeats 50 training tokens, and PII that
// occurs verbatim in training, and nothing in an unrelated sample.
func TestAuditFindsVerbatimRunsAndPII(t *testing.T) {
	tok := gpt2(t)
	var words []string
	for i := 0; i < 80; i++ {
		words = append(words, []string{"alpha", "beta", "gamma", "delta", "omega"}[i*7%5]+string(rune('a'+i%26)))
	}
	trainText := strings.Join(words, " ") + " Contact ravi.kumar@example.com for details."
	train := []dataset.Record{{ID: "t1", Text: trainText}}
	copied := tok.Encode(strings.Join(words[10:75], " "))
	fresh := tok.Encode("an entirely different sentence with no overlap at all, written to be new, mail someone.else@example.org")
	samples := []Sample{
		{Record: "a", Output: tok.Decode(copied), Tokens: copied},
		{Record: "b", Output: "reach ravi.kumar@example.com today", Tokens: tok.Encode("reach ravi.kumar@example.com today")},
		{Record: "c", Output: tok.Decode(fresh), Tokens: fresh},
	}
	a := audit(tok, samples, train, 50)
	if a.VerbatimSamples != 1 || math.Abs(a.VerbatimShare-1.0/3) > 1e-9 {
		t.Fatalf("verbatim %d share %v", a.VerbatimSamples, a.VerbatimShare)
	}
	if a.PIIByType["EMAIL"] != 2 || a.PIIFromTraining != 1 || a.PIITrainingByType["EMAIL"] != 1 {
		t.Fatalf("pii %+v", a)
	}
	b, _ := json.Marshal(a)
	if strings.Contains(string(b), "example.com") {
		t.Fatal("the audit result contains a regurgitated value")
	}
	_ = anonymize.Default
}

// makeModelDir writes a freshly initialised tiny model with GPT-2's tokenizer.
func makeModelDir(t *testing.T, seed int64) string {
	t.Helper()
	cfg, _ := model.Preset("gpt2-tiny")
	dir := filepath.Join(t.TempDir(), "model")
	if err := model.Init(cfg, seed).Save(dir, gpt2(t)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	prepared := filepath.Join(dir, "prepared")
	o := dataset.PrepareOptions{Inputs: []string{testutil.Testdata(t, "sample", "orders.csv")}, Out: prepared,
		Val: 0.1, Test: 0.2, Seed: 1, Anonymize: true}
	if err := dataset.AddCanaries(&o, "3,2"); err != nil {
		t.Fatal(err)
	}
	if _, err := dataset.Prepare(context.Background(), o, anonymize.Default(), nil); err != nil {
		t.Fatal(err)
	}
	m := makeModelDir(t, 1)
	out := filepath.Join(dir, "eval")
	eo := Defaults()
	eo.Model, eo.Base, eo.Data, eo.Out = m, m, prepared, out
	eo.Seq, eo.Samples, eo.MaxNew, eo.Audit, eo.Candidates = 64, 2, 8, true, 100
	res, err := Run(context.Background(), eo, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A random tiny model: loss near ln(vocab); base and tuned are the same model.
	if math.Abs(res.Loss-math.Log(50257)) > 1 || res.BaseScore == nil || math.Abs(res.BaseScore.Loss-res.Loss) > 1e-9 {
		t.Fatalf("loss %v base %+v", res.Loss, res.BaseScore)
	}
	if math.Abs(res.Perplexity-math.Exp(res.Loss)) > 1e-6*res.Perplexity || res.Tokens == 0 || res.Samples != 2 {
		t.Fatalf("%+v", res)
	}
	if res.Exposure == nil || len(res.Exposure.Canaries) != 3 || len(res.Exposure.ByRepeats) != 1 || res.Exposure.ByRepeats[0].Repeats != 2 {
		t.Fatalf("exposure %+v", res.Exposure)
	}
	for _, c := range res.Exposure.Canaries {
		// An untrained model has not memorised anything: exposure stays small.
		if c.Exposure < 0 || c.Exposure > 8 {
			t.Fatalf("canary %s exposure %v from an untrained model", c.ID, c.Exposure)
		}
	}
	for _, f := range []string{"eval.json", "samples.jsonl", "report.html"} {
		st, err := os.Stat(filepath.Join(out, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	page, _ := os.ReadFile(filepath.Join(out, "report.html"))
	for _, want := range []string{"Did the model improve?", "Does it leak?", "data:image/png;base64,", "canary-000"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://"} {
		if strings.Contains(string(page), bad) {
			t.Errorf("report contains %q: it must be self-contained", bad)
		}
	}
}
