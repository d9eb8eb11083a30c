package pipeline

import (
	"context"
	"fmt"

	"github.com/llmtune/llmtune/internal/anonymize"
	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/dataset"
	"github.com/llmtune/llmtune/internal/eval"
	"github.com/llmtune/llmtune/internal/train"
)

// Real runs the stages with the same code as `llmtune prepare`, `train` and
// `eval`.
type Real struct {
	Out *cli.Output
}

// Prepare runs dataset.Prepare with the configured policy.
func (s Real) Prepare(ctx context.Context, c PrepareConfig, out string) (Figures, error) {
	o := dataset.PrepareOptions{Inputs: c.Inputs, Out: out, Val: c.Val, Test: c.Test, Seed: c.Seed,
		Anonymize: c.Anonymize, Policy: c.Policy,
		Read: dataset.ReadOptions{TextField: c.TextField, PromptField: c.PromptField,
			CompletionField: c.CompletionField, MessagesField: c.MessagesField, GroupBy: c.GroupBy}}
	var eng *anonymize.Engine
	if c.Anonymize {
		var err error
		if eng, err = anonymize.ForPolicyFile(c.Policy); err != nil {
			return nil, err
		}
	}
	if err := dataset.AddCanaries(&o, c.Canaries); err != nil {
		return nil, err
	}
	m, err := dataset.Prepare(ctx, o, eng, nil)
	if err != nil {
		return nil, err
	}
	var entities int64
	for _, v := range m.Entities {
		entities += v
	}
	return Figures{"records": m.Records, "train": m.Counts["train"], "val": m.Counts["val"], "test": m.Counts["test"],
		"duplicates": m.Duplicates, "bad_records": m.BadRecords, "entities_replaced": entities}, nil
}

// Train runs train.Run in runDir, resuming from its newest checkpoint.
func (s Real) Train(ctx context.Context, c TrainConfig, startModel, data, runDir string) (string, Figures, error) {
	o := train.Defaults()
	if startModel != "" {
		o.Model = startModel
	} else {
		o.Init = c.Init
	}
	o.Data, o.Out, o.Resume = data, runDir, true
	o.Steps, o.Epochs, o.Batch, o.Seq = c.Steps, float64(c.Epochs), c.Batch, c.Seq
	o.LR, o.Schedule, o.Warmup, o.Seed = c.LR, c.Schedule, c.Warmup, c.Seed
	o.CheckpointEvery, o.ValEvery = c.CheckpointEvery, c.ValEvery
	if c.LoRARank > 0 {
		o.LoRARank, o.LoRAAlpha, o.Merge = c.LoRARank, c.LoRAAlpha, true
	}
	out := s.Out
	if out == nil {
		out = &cli.Output{Quiet: true}
	}
	sum, err := train.Run(ctx, o, out)
	if err != nil {
		return "", nil, err
	}
	if sum.Final == "" {
		return "", nil, fmt.Errorf("training finished without a final model directory")
	}
	f := Figures{"steps": sum.Steps, "final_loss": sum.FinalLoss, "tokens_per_s": sum.TokensPerS,
		"peak_rss_bytes": sum.PeakRSSBytes, "method": sum.Method}
	if sum.ValLoss != nil {
		f["val_loss"] = *sum.ValLoss
	}
	if sum.ResumedFrom > 0 {
		f["resumed_from"] = sum.ResumedFrom
	}
	return sum.Final, f, nil
}

// Eval scores the trained model beside the promoted one on the configured
// split and audits it.
func (s Real) Eval(ctx context.Context, c EvalConfig, model, current, data, out string) (EvalFigures, error) {
	o := eval.Defaults()
	o.Model, o.Base, o.Data, o.Out = model, current, data, out
	o.Split, o.Samples, o.Audit = c.Split, c.Samples, c.Audit
	if c.Candidates > 0 {
		o.Candidates = c.Candidates
	}
	res, err := eval.Run(ctx, o, s.Out)
	if err != nil {
		return EvalFigures{}, err
	}
	f := EvalFigures{Perplexity: res.Perplexity, Report: res.Report}
	if res.BaseScore != nil {
		f.CurrentPerplexity = res.BaseScore.Perplexity
	}
	if res.Audit != nil {
		f.VerbatimShare = res.Audit.VerbatimShare
		f.PIIRegurgitated = res.Audit.PIIFromTraining
	}
	if res.Exposure != nil {
		f.MaxExposure = res.Exposure.Max
	}
	return f, nil
}
