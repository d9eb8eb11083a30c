// Package train fine-tunes a GPT-2 model on prepared data: batches of packed
// token blocks go through the network's forward and backward pass, gradients
// are clipped by their global norm and AdamW updates one flat parameter
// buffer on a learning-rate schedule. Validation, early stopping, atomic
// checkpoints and an exact resume after any interruption are part of the
// loop, so a run killed with -9 continues with the same losses it would have
// produced uninterrupted.
package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/llmtune/llmtune/internal/cli"
)

// Options are a run's settings. They are written to RUN/config.json once
// resolved, and --config FILE reads the same keys, so a run can be repeated.
type Options struct {
	Model string `json:"model,omitempty"` // Hugging Face model directory to start from
	Init  string `json:"init,omitempty"`  // or a fresh model from a preset (gpt2-tiny, ...)
	Data  string `json:"data"`            // prepared directory holding train.parquet (and val.parquet)
	Out   string `json:"out"`             // run directory

	Steps     int     `json:"steps"`      // optimizer steps; 0 = from epochs
	Epochs    float64 `json:"epochs"`     // passes over the training blocks when steps is 0
	Batch     int     `json:"batch"`      // sequences per micro-batch
	GradAccum int     `json:"grad_accum"` // micro-batches per optimizer step
	Seq       int     `json:"seq"`        // tokens per sequence (<= n_positions)

	LR          float64 `json:"lr"`       // peak learning rate; 0 = 5e-5 full, 2e-4 LoRA
	MinLR       float64 `json:"min_lr"`   // floor the schedule decays to
	Schedule    string  `json:"schedule"` // constant, linear, cosine
	Warmup      int     `json:"warmup"`   // steps of linear warm-up
	WeightDecay float64 `json:"weight_decay"`
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Eps         float64 `json:"eps"`
	ClipNorm    float64 `json:"clip_norm"` // global gradient norm limit; 0 = off
	Seed        int64   `json:"seed"`
	NoDropout   bool    `json:"no_dropout"` // train without the config's dropout

	TrainOnPrompt bool `json:"train_on_prompt"` // also train on prompt and user tokens

	LoRARank    int      `json:"lora_rank"` // 0 = full fine-tuning
	LoRAAlpha   float64  `json:"lora_alpha"`
	LoRADropout float64  `json:"lora_dropout"`
	LoRATargets []string `json:"lora_targets"`
	Merge       bool     `json:"merge"` // also write the merged model to final/

	CheckpointEvery int `json:"checkpoint_every"` // 0 = only on interrupt and at the end
	KeepCheckpoints int `json:"keep_checkpoints"` // newest K kept (the best one is kept too)
	ValEvery        int `json:"val_every"`        // 0 = only at the end
	ValBatches      int `json:"val_batches"`      // 0 = the whole validation split
	Patience        int `json:"patience"`         // evaluations without improvement before stopping; 0 = never
	LogEvery        int `json:"log_every"`        // metrics.jsonl line every N steps

	// Differential privacy (DP-SGD, as Opacus): on when DPEpsilon or DPNoise
	// is set. Batch is then the expected number of records per step.
	DPEpsilon     float64 `json:"dp_epsilon,omitempty"`       // target ε; the noise is chosen to reach it
	DPDelta       float64 `json:"dp_delta,omitempty"`         // 0 = 1/(10·records)
	DPNoise       float64 `json:"dp_noise,omitempty"`         // noise multiplier σ set directly
	DPMaxGradNorm float64 `json:"dp_max_grad_norm,omitempty"` // per-record clipping norm C

	// Resume continues from the newest whole checkpoint in Out. It is not
	// part of the saved settings.
	Resume bool `json:"-"`
}

// Defaults are the settings of a run that sets nothing.
func Defaults() Options {
	return Options{
		Epochs: 1, Batch: 4, GradAccum: 1, Seq: 128,
		Schedule: "cosine", WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ClipNorm: 1.0, Seed: 1,
		LoRAAlpha: 16, LoRATargets: []string{"c_attn"},
		KeepCheckpoints: 3, LogEvery: 1,
	}
}

// ReadOptions reads a config file (the same keys as RUN/config.json) over
// base. Unknown keys are errors, so a typo is not silently ignored.
func ReadOptions(path string, base Options) (Options, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return base, cli.Usagef("reading --config: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	o := base
	if err := dec.Decode(&o); err != nil {
		return base, cli.Usagef("%s: %v (keys are those of a run's config.json)", path, err)
	}
	return o, nil
}

// resolve fills settings that depend on others and checks what can be
// checked without the model or data. Errors are usage errors.
func (o *Options) resolve() error {
	if o.LR == 0 {
		o.LR = 5e-5
		if o.LoRARank > 0 {
			o.LR = 2e-4
		}
	}
	if o.GradAccum == 0 {
		o.GradAccum = 1
	}
	if o.LogEvery <= 0 {
		o.LogEvery = 1
	}
	if o.LoRARank > 0 && len(o.LoRATargets) == 0 {
		o.LoRATargets = []string{"c_attn"}
	}
	switch {
	case (o.Model == "") == (o.Init == ""):
		return cli.Usagef("give exactly one of --model DIR (a Hugging Face GPT-2 directory) or --init PRESET (gpt2-tiny, gpt2-small, gpt2-124m)")
	case o.Data == "":
		return cli.Usagef("--data is required: a directory written by 'llmtune prepare'")
	case o.Out == "":
		return cli.Usagef("--out is required: the run directory to write")
	case o.Batch <= 0 || o.GradAccum <= 0 || o.Seq <= 1:
		return cli.Usagef("--batch and --grad-accum must be positive and --seq at least 2 (got %d, %d, %d)", o.Batch, o.GradAccum, o.Seq)
	case o.Steps < 0 || o.Epochs < 0 || (o.Steps == 0 && o.Epochs == 0):
		return cli.Usagef("give --steps or --epochs greater than 0")
	case !(o.LR > 0) || o.MinLR < 0 || o.MinLR > o.LR:
		return cli.Usagef("--lr must be positive and --min-lr between 0 and --lr (got %g, %g)", o.LR, o.MinLR)
	case o.Warmup < 0:
		return cli.Usagef("--warmup must not be negative")
	case o.Beta1 < 0 || o.Beta1 >= 1 || o.Beta2 < 0 || o.Beta2 >= 1 || !(o.Eps > 0):
		return cli.Usagef("AdamW needs 0 <= beta1, beta2 < 1 and eps > 0 (got %g, %g, %g)", o.Beta1, o.Beta2, o.Eps)
	case o.WeightDecay < 0 || o.ClipNorm < 0 || math.IsNaN(o.ClipNorm):
		return cli.Usagef("--weight-decay and --clip-norm must not be negative")
	case o.LoRARank < 0 || (o.LoRARank > 0 && !(o.LoRAAlpha > 0)) || o.LoRADropout < 0 || o.LoRADropout >= 1:
		return cli.Usagef("--lora-rank must be >= 0, --lora-alpha > 0 and --lora-dropout in [0, 1)")
	case o.Merge && o.LoRARank == 0:
		return cli.Usagef("--merge needs a LoRA run (--lora-rank > 0)")
	case o.CheckpointEvery < 0 || o.KeepCheckpoints < 0 || o.ValEvery < 0 || o.ValBatches < 0 || o.Patience < 0:
		return cli.Usagef("--checkpoint-every, --keep-checkpoints, --val-every, --val-batches and --patience must not be negative")
	}
	if _, err := newSchedule(o.Schedule, o.LR, o.MinLR, o.Warmup, 1); err != nil {
		return cli.Usagef("%v", err)
	}
	for _, t := range o.LoRATargets {
		switch t {
		case "c_attn", "c_proj", "c_fc", "attn.c_proj", "mlp.c_proj", "mlp.c_fc", "attn.c_attn":
		default:
			return cli.Usagef("unknown LoRA target %q (c_attn, c_proj, c_fc)", t)
		}
	}
	if o.KeepCheckpoints == 0 {
		o.KeepCheckpoints = 1
	}
	if o.DP() {
		switch {
		case o.DPEpsilon < 0 || o.DPNoise < 0 || o.DPDelta < 0 || o.DPDelta >= 1:
			return cli.Usagef("--dp-epsilon and --dp-noise must be positive and --dp-delta in (0, 1)")
		case !(o.DPMaxGradNorm > 0):
			return cli.Usagef("DP-SGD needs --dp-max-grad-norm C > 0, the norm each record's gradient is clipped to")
		case o.GradAccum != 1:
			return cli.Usagef("DP-SGD draws each step's records by Poisson sampling; --grad-accum does not apply")
		}
	}
	return nil
}

// DP reports whether the run trains with differential privacy.
func (o Options) DP() bool { return o.DPEpsilon != 0 || o.DPNoise != 0 }

// SplitList splits a comma-separated flag value, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (o Options) String() string {
	b, _ := json.Marshal(o)
	return string(b)
}

func describeMethod(o Options) string {
	if o.LoRARank > 0 {
		return fmt.Sprintf("LoRA r=%d alpha=%g on %s", o.LoRARank, o.LoRAAlpha, strings.Join(o.LoRATargets, ","))
	}
	return "full fine-tuning"
}
