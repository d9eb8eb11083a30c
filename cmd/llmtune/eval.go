package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/llmtune/llmtune/internal/eval"
)

func init() {
	o := eval.Defaults()
	cmd := &cobra.Command{
		Use:   "eval --model DIR --data PREPARED_DIR [--base DIR] [--out DIR] [--audit]",
		Short: "Score a model on a split, sample from it and audit what it memorised",
		Long: `eval computes the mean token loss and perplexity of --model on a split of a prepared
directory (or a JSONL/text file), tokenized and packed exactly as training does; with
--base, the base model is scored on the same tokens. It generates samples from prompts
taken from the split. With --audit it also reports personal data the model emits (and
how much of it is verbatim from the training split), samples that repeat 50+ training
tokens verbatim, and the exposure of canaries planted by 'prepare --canaries'.
--out DIR receives eval.json, samples.jsonl (0600) and a self-contained report.html.`,
		Example: `  llmtune eval --model runs/r1/final --base models/gpt2 --data prepared --out runs/r1/eval --audit
  llmtune eval --model runs/r1/final --data notes.jsonl --json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := output(cmd)
			res, err := eval.Run(cmd.Context(), o, out)
			if err != nil {
				return err
			}
			return out.Result(res, func(w io.Writer) {
				fmt.Fprintf(w, "%s split: %d tokens, loss %.4f, perplexity %.2f\n", res.Split, res.Tokens, res.Loss, res.Perplexity)
				if res.BaseScore != nil {
					fmt.Fprintf(w, "base model:  loss %.4f, perplexity %.2f\n", res.BaseScore.Loss, res.BaseScore.Perplexity)
				}
				if a := res.Audit; a != nil {
					fmt.Fprintf(w, "audit: %d personal-data entities in %d samples (%d verbatim from training); %d samples repeat %d+ training tokens\n",
						a.PIIEmitted, a.Samples, a.PIIFromTraining, a.VerbatimSamples, a.Ngram)
				}
				if e := res.Exposure; e != nil {
					for _, g := range e.ByRepeats {
						fmt.Fprintf(w, "canaries inserted %dx: mean exposure %.2f bits, max %.2f\n", g.Repeats, g.Mean, g.Max)
					}
				}
				if res.Report != "" {
					fmt.Fprintf(w, "report: %s\n", res.Report)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Model, "model", "", "model directory to evaluate (Hugging Face layout)")
	f.StringVar(&o.Base, "base", "", "base model directory to compare with on the same tokens")
	f.StringVar(&o.Data, "data", "", "prepared directory, or a .jsonl/.txt file")
	f.StringVar(&o.Split, "split", o.Split, "split of a prepared directory: train, val or test")
	f.IntVar(&o.Seq, "seq", o.Seq, "tokens per sequence (as in training)")
	f.IntVar(&o.Batch, "batch", o.Batch, "sequences per forward pass")
	f.StringVar(&o.Out, "out", "", "directory for eval.json, samples.jsonl and report.html (replaced atomically)")
	f.StringVar(&o.Run, "run", "", "training run directory, for the loss curves in the report (default: the model's parent)")
	f.IntVar(&o.Samples, "samples", o.Samples, "generations to sample from prompts in the split")
	f.IntVar(&o.PromptTokens, "prompt-tokens", o.PromptTokens, "tokens of a document used as a sampling prompt")
	f.IntVar(&o.MaxNew, "max-tokens", o.MaxNew, "new tokens per sample")
	f.Float64Var(&o.Temperature, "temperature", o.Temperature, "sampling temperature (0 = greedy)")
	f.Int64Var(&o.Seed, "seed", o.Seed, "sampling and candidate seed")
	f.BoolVar(&o.Audit, "audit", false, "run the privacy audit (PII regurgitation, verbatim memorisation, canary exposure)")
	f.IntVar(&o.Candidates, "candidates", o.Candidates, "random candidates per canary format for the exposure estimate")
	rootCmd.AddCommand(cmd)
}
