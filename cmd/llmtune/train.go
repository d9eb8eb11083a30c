package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/train"
)

// trainFlags binds every training flag to o (targets is --lora-targets,
// comma-separated). The same binding applied to another Options lets flags
// given on the command line override a --config file or a resumed run.
func trainFlags(f *pflag.FlagSet, o *train.Options, targets *string) {
	f.StringVar(&o.Model, "model", o.Model, "Hugging Face GPT-2 model directory to fine-tune")
	f.StringVar(&o.Init, "init", o.Init, "start from a freshly initialised preset instead: gpt2-tiny, gpt2-small, gpt2-124m")
	f.StringVar(&o.Data, "data", o.Data, "directory written by 'llmtune prepare' (train.parquet, val.parquet)")
	f.StringVar(&o.Out, "out", o.Out, "run directory to write (config.json, metrics.jsonl, checkpoints/, final/)")
	f.IntVar(&o.Steps, "steps", o.Steps, "optimizer steps (0: from --epochs)")
	f.Float64Var(&o.Epochs, "epochs", o.Epochs, "passes over the training data when --steps is 0")
	f.IntVar(&o.Batch, "batch", o.Batch, "sequences per micro-batch")
	f.IntVar(&o.GradAccum, "grad-accum", o.GradAccum, "micro-batches accumulated per optimizer step")
	f.IntVar(&o.Seq, "seq", o.Seq, "tokens per sequence (at most the model's n_positions)")
	f.Float64Var(&o.LR, "lr", o.LR, "peak learning rate (0: 5e-5 for full fine-tuning, 2e-4 for LoRA)")
	f.Float64Var(&o.MinLR, "min-lr", o.MinLR, "learning rate floor the schedule decays to")
	f.StringVar(&o.Schedule, "schedule", o.Schedule, "learning rate schedule after warm-up: constant, linear, cosine")
	f.IntVar(&o.Warmup, "warmup", o.Warmup, "steps of linear warm-up")
	f.Float64Var(&o.WeightDecay, "weight-decay", o.WeightDecay, "AdamW weight decay (not applied to biases and LayerNorm)")
	f.Float64Var(&o.Beta1, "beta1", o.Beta1, "AdamW beta1")
	f.Float64Var(&o.Beta2, "beta2", o.Beta2, "AdamW beta2")
	f.Float64Var(&o.Eps, "eps", o.Eps, "AdamW epsilon")
	f.Float64Var(&o.ClipNorm, "clip-norm", o.ClipNorm, "clip the global gradient norm to this (0: off)")
	f.Int64Var(&o.Seed, "seed", o.Seed, "seed of data order, dropout and initialisation")
	f.BoolVar(&o.NoDropout, "no-dropout", o.NoDropout, "train without the model config's dropout")
	f.BoolVar(&o.TrainOnPrompt, "train-on-prompt", o.TrainOnPrompt, "also train on prompts and user turns, not only completions")
	f.IntVar(&o.LoRARank, "lora-rank", o.LoRARank, "train LoRA adapters of this rank on a frozen model (0: full fine-tuning)")
	f.Float64Var(&o.LoRAAlpha, "lora-alpha", o.LoRAAlpha, "LoRA alpha (scaling alpha/rank)")
	f.Float64Var(&o.LoRADropout, "lora-dropout", o.LoRADropout, "dropout on the LoRA adapters' input")
	f.StringVar(targets, "lora-targets", *targets, "comma-separated modules to adapt: c_attn, c_proj, c_fc, attn.c_proj, mlp.c_proj")
	f.BoolVar(&o.Merge, "merge", o.Merge, "LoRA: also write the model with the adapters merged in to final/")
	f.IntVar(&o.CheckpointEvery, "checkpoint-every", o.CheckpointEvery, "write a checkpoint every N steps (0: only at the end and on interrupt)")
	f.IntVar(&o.KeepCheckpoints, "keep-checkpoints", o.KeepCheckpoints, "keep the newest N checkpoints (and the best)")
	f.IntVar(&o.ValEvery, "val-every", o.ValEvery, "validate every N steps (0: only at the end)")
	f.IntVar(&o.ValBatches, "val-batches", o.ValBatches, "validate on the first N batches only (0: the whole split)")
	f.IntVar(&o.Patience, "patience", o.Patience, "stop after N validations without improvement (0: never)")
	f.IntVar(&o.LogEvery, "log-every", o.LogEvery, "write a metrics.jsonl line every N steps")
	f.Float64Var(&o.DPEpsilon, "dp-epsilon", o.DPEpsilon, "train with differential privacy (DP-SGD) to this ε per record; the noise is chosen to reach it")
	f.Float64Var(&o.DPDelta, "dp-delta", o.DPDelta, "δ of the DP guarantee (0: 1/(10·records); must be below 1/records)")
	f.Float64Var(&o.DPNoise, "dp-noise", o.DPNoise, "DP-SGD noise multiplier σ, instead of --dp-epsilon")
	f.Float64Var(&o.DPMaxGradNorm, "dp-max-grad-norm", o.DPMaxGradNorm, "DP-SGD: clip each record's gradient to this norm")
}

func init() {
	opts := train.Defaults()
	targets := "c_attn"
	var config string
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Fine-tune a GPT-2 model (full or LoRA) on prepared data, with checkpoints and resume",
		Long: `Fine-tunes a GPT-2 family model on the splits written by 'llmtune prepare'.
Records are tokenized and packed into sequences of --seq tokens (prompt and
user tokens are masked out of the loss), shuffled per epoch with --seed, and
trained with AdamW on a warm-up + decay schedule with gradient clipping.

The run directory gets config.json (the resolved settings: repeat a run with
--config RUN/config.json), metrics.jsonl, checkpoints/step-NNNNNN/ and final/.
Ctrl-C writes a checkpoint first; --resume continues from the newest whole
checkpoint with exactly the losses an uninterrupted run would have had.`,
		Example: `  llmtune train --init gpt2-tiny --data prepared --out runs/tiny --steps 200 --seq 64
  llmtune train --model gpt2 --data prepared --out runs/lora --lora-rank 8 --epochs 2 --merge
  llmtune train --out runs/lora --resume
  llmtune train --config runs/lora/config.json --out runs/lora2 --seed 2`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := resolveTrainOptions(cmd.Flags(), opts, targets, config)
			if err != nil {
				return err
			}
			return runTrain(cmd.Context(), o, output(cmd))
		},
	}
	trainFlags(cmd.Flags(), &opts, &targets)
	cmd.Flags().StringVar(&config, "config", "", "read settings from this JSON file (the keys of a run's config.json); flags override it")
	cmd.Flags().BoolVar(&opts.Resume, "resume", false, "continue the run in --out from its newest checkpoint (its config.json; flags override)")
	rootCmd.AddCommand(cmd)
}

// resolveTrainOptions layers the settings: defaults, then the resumed run's
// config.json or --config FILE, then the flags actually given.
func resolveTrainOptions(fs *pflag.FlagSet, flags train.Options, targets, config string) (train.Options, error) {
	o := flags
	o.LoRATargets = train.SplitList(targets)
	if config == "" && !flags.Resume {
		return o, nil
	}
	base := train.Defaults()
	var err error
	if flags.Resume && config == "" {
		if flags.Out == "" {
			return o, cli.Usagef("--resume needs --out RUN_DIR")
		}
		if base, err = train.ResumeOptions(flags.Out); err != nil {
			if flags.Model == "" && flags.Init == "" {
				return o, err
			}
			// Killed before it wrote anything: the flags describe the run.
			o.Resume = true
			return o, nil
		}
	}
	if config != "" {
		if base, err = train.ReadOptions(config, base); err != nil {
			return o, err
		}
	}
	baseTargets := strings.Join(base.LoRATargets, ",")
	over := pflag.NewFlagSet("overlay", pflag.ContinueOnError)
	trainFlags(over, &base, &baseTargets)
	var setErr error
	fs.Visit(func(f *pflag.Flag) {
		if over.Lookup(f.Name) != nil && setErr == nil {
			setErr = over.Set(f.Name, f.Value.String())
		}
	})
	if setErr != nil {
		return o, cli.Usagef("%v", setErr)
	}
	if fs.Changed("lora-targets") {
		base.LoRATargets = train.SplitList(targets)
	}
	base.Resume = flags.Resume
	return base, nil
}

func runTrain(ctx context.Context, o train.Options, out *cli.Output) error {
	sum, err := train.Run(ctx, o, out)
	if err != nil {
		return err
	}
	return out.Result(sum, func(w io.Writer) {
		fmt.Fprintf(w, "%s: %d steps, final loss %.4f", sum.Method, sum.Steps, sum.FinalLoss)
		if sum.ValLoss != nil {
			fmt.Fprintf(w, ", validation loss %.4f (perplexity %.2f)", *sum.ValLoss, *sum.ValPerplexity)
		}
		fmt.Fprintf(w, "\n%.0f tokens/s, peak memory %.0f MiB, %.0f s\n", sum.TokensPerS, float64(sum.PeakRSSBytes)/(1<<20), math.Round(sum.ElapsedS))
		if sum.BestCheckpoint != "" {
			fmt.Fprintf(w, "best validation loss %.4f at step %d: %s\n", *sum.BestValLoss, sum.BestStep, sum.BestCheckpoint)
		}
		if sum.Adapter != "" {
			fmt.Fprintf(w, "LoRA adapter (PEFT format): %s\n", sum.Adapter)
		}
		if sum.Final != "" {
			fmt.Fprintf(w, "model: %s\n", sum.Final)
		}
		if sum.Privacy != nil {
			fmt.Fprintf(w, "%s\n", sum.Privacy.Statement)
		}
	})
}
