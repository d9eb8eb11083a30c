// Package eval scores a fine-tuned model on a split (loss and perplexity,
// beside the base model on the same tokens), samples from it, and audits
// what it memorised: personal data it regurgitates, verbatim 50-token runs
// from the training split, and the exposure of planted canaries.
package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/dataset"
	"github.com/llmtune/llmtune/internal/model"
	"github.com/llmtune/llmtune/internal/tokenize"
)

// Options are the settings of `llmtune eval`.
type Options struct {
	Model        string  `json:"model"`
	Base         string  `json:"base,omitempty"`
	Data         string  `json:"data"`  // prepared directory, or a .jsonl / .txt file
	Split        string  `json:"split"` // for a prepared directory
	Seq          int     `json:"seq"`
	Batch        int     `json:"batch"`
	Out          string  `json:"out,omitempty"`
	Run          string  `json:"run,omitempty"` // training run directory (metrics.jsonl) for the report
	Samples      int     `json:"samples"`
	PromptTokens int     `json:"prompt_tokens"`
	MaxNew       int     `json:"max_new_tokens"`
	Temperature  float64 `json:"temperature"`
	Seed         int64   `json:"seed"`
	Audit        bool    `json:"audit"`
	Candidates   int     `json:"candidates"`
	Ngram        int     `json:"ngram"`
}

// Defaults for a run that sets nothing.
func Defaults() Options {
	return Options{Split: "test", Seq: 128, Batch: 8, Samples: 8, PromptTokens: 32, MaxNew: 96,
		Seed: 1, Candidates: 10000, Ngram: 50}
}

// Side is one model's score on the split.
type Side struct {
	Loss       float64 `json:"loss"`
	Perplexity float64 `json:"perplexity"`
}

// Result is eval.json and the --json output.
type Result struct {
	Model      string          `json:"model"`
	Base       string          `json:"base,omitempty"`
	Data       string          `json:"data"`
	Split      string          `json:"split"`
	Tokens     int64           `json:"tokens"`
	Records    int             `json:"records"`
	Truncated  int             `json:"truncated_records"`
	Loss       float64         `json:"loss"`
	Perplexity float64         `json:"perplexity"`
	BaseScore  *Side           `json:"base_score,omitempty"`
	Samples    int             `json:"samples"`
	Audit      *Audit          `json:"audit,omitempty"`
	Exposure   *ExposureReport `json:"exposure,omitempty"`
	Report     string          `json:"report,omitempty"`
}

// Run evaluates o.Model (and o.Base) as the options say and writes
// eval.json, samples.jsonl and report.html to o.Out when set.
func Run(ctx context.Context, o Options, out *cli.Output) (*Result, error) {
	if out == nil {
		out = &cli.Output{Quiet: true}
	}
	if o.Model == "" || o.Data == "" {
		return nil, cli.Usagef("eval needs --model and --data")
	}
	m, tok, err := loadModel(o.Model)
	if err != nil {
		return nil, err
	}
	if o.Seq <= 0 || o.Seq > m.Config.NPositions {
		o.Seq = min(128, m.Config.NPositions)
	}
	if o.Batch <= 0 {
		o.Batch = 8
	}
	recs, err := readRecords(ctx, o)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: the %s split has no records", o.Data, o.Split)
	}
	blocks, st := dataset.Pack(tok, recs, tokenize.PackOptions{Seq: o.Seq})
	res := &Result{Model: o.Model, Base: o.Base, Data: o.Data, Split: o.Split, Records: len(recs), Truncated: st.Truncated}
	out.Infof("eval: %d records, %d blocks of %d tokens", len(recs), len(blocks), o.Seq)
	sum, n, err := lossOver(ctx, m, blocks, o.Batch, o.Seq)
	if err != nil {
		return nil, err
	}
	res.Tokens = int64(n)
	res.Loss, res.Perplexity = sum/n, math.Exp(sum/n)
	if o.Base != "" {
		bm, btok, err := loadModel(o.Base)
		if err != nil {
			return nil, fmt.Errorf("--base: %w", err)
		}
		if btok.VocabSize() != tok.VocabSize() || bm.Config.VocabSize != m.Config.VocabSize {
			return nil, fmt.Errorf("--base %s has a different vocabulary (%d tokens) from --model (%d); they cannot be compared on the same tokens",
				o.Base, bm.Config.VocabSize, m.Config.VocabSize)
		}
		if bm.Config.NPositions < o.Seq {
			return nil, fmt.Errorf("--base %s has %d positions, fewer than --seq %d", o.Base, bm.Config.NPositions, o.Seq)
		}
		bsum, bn, err := lossOver(ctx, bm, blocks, o.Batch, o.Seq)
		if err != nil {
			return nil, err
		}
		res.BaseScore = &Side{Loss: bsum / bn, Perplexity: math.Exp(bsum / bn)}
	}
	samples, err := sample(ctx, m, tok, recs, o)
	if err != nil {
		return nil, err
	}
	res.Samples = len(samples)
	if o.Audit {
		trainRecs, err := trainRecords(o)
		if err != nil {
			return nil, err
		}
		res.Audit = audit(tok, samples, trainRecs, o.Ngram)
		canaryPath := filepath.Join(o.Data, "canaries.json")
		if _, err := os.Stat(canaryPath); err == nil {
			res.Exposure, err = exposures(ctx, m, tok, canaryPath, o, out)
			if err != nil {
				return nil, err
			}
		}
	}
	if o.Out != "" {
		if err := writeOutputs(o, res, samples); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// loadModel opens a model directory, or a PEFT adapter directory whose
// adapter_config.json names its base (merged in memory).
func loadModel(dir string) (*model.Model, *tokenize.Tokenizer, error) {
	if _, err := os.Stat(filepath.Join(dir, "adapter_config.json")); err == nil {
		return nil, nil, fmt.Errorf("%s is a LoRA adapter; evaluate the merged model (llmtune train --merge writes final/)", dir)
	}
	m, err := model.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	tok, err := tokenize.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	return m, tok, nil
}

// readRecords reads the split of a prepared directory, or a JSONL/text file.
func readRecords(ctx context.Context, o Options) ([]dataset.Record, error) {
	st, err := os.Stat(o.Data)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return dataset.ReadSplit(o.Data, o.Split)
	}
	var recs []dataset.Record
	var in dataset.Input
	ro := dataset.ReadOptions{Paragraphs: true}
	err = dataset.ReadFile(ctx, o.Data, ro, &in, func(r dataset.Record) error {
		recs = append(recs, r)
		return nil
	}, func(dataset.BadRecord) error { return nil })
	return recs, err
}

func trainRecords(o Options) ([]dataset.Record, error) {
	if st, err := os.Stat(o.Data); err != nil || !st.IsDir() {
		return nil, errors.New("--audit needs a prepared directory (it compares samples with the training split)")
	}
	return dataset.ReadSplit(o.Data, "train")
}

// lossOver returns the summed token loss and the number of trained tokens.
func lossOver(ctx context.Context, m *model.Model, blocks []tokenize.Block, batch, seq int) (float64, float64, error) {
	tr, err := model.NewTrainer(m, model.TrainOptions{Batch: batch, Seq: seq})
	if err != nil {
		return 0, 0, err
	}
	in := make([]int32, batch*seq)
	tg := make([]int32, batch*seq)
	mask := make([]float32, batch*seq)
	var sum, n float64
	for lo := 0; lo < len(blocks); lo += batch {
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		clear(mask)
		for b := 0; b < batch && lo+b < len(blocks); b++ {
			blk := blocks[lo+b]
			copy(in[b*seq:], blk.Inputs[:seq])
			copy(tg[b*seq:], blk.Targets[:seq])
			copy(mask[b*seq:], blk.Mask[:seq])
		}
		s, c, err := tr.Eval(in, tg, mask)
		if err != nil {
			return 0, 0, err
		}
		sum += s
		n += c
	}
	if n == 0 {
		return 0, 0, errors.New("no trained tokens in the split")
	}
	return sum, n, nil
}
