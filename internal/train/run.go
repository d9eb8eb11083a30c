package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"syscall"
	"time"

	"github.com/llmtune/llmtune/internal/atomicfile"
	"github.com/llmtune/llmtune/internal/cli"
)

// Summary is the result of a run (printed by --json).
type Summary struct {
	Run             string            `json:"run"`
	Method          string            `json:"method"`
	Steps           int               `json:"steps"`
	TotalSteps      int               `json:"total_steps"`
	Epochs          float64           `json:"epochs"`
	FinalLoss       float64           `json:"final_loss"`
	ValLoss         *float64          `json:"val_loss,omitempty"`
	ValPerplexity   *float64          `json:"val_perplexity,omitempty"`
	BestValLoss     *float64          `json:"best_val_loss,omitempty"`
	BestStep        int               `json:"best_step,omitempty"`
	BestCheckpoint  string            `json:"best_checkpoint,omitempty"`
	StoppedEarly    bool              `json:"stopped_early"`
	ResumedFrom     int               `json:"resumed_from,omitempty"`
	Tokens          int64             `json:"tokens"`
	TokensPerS      float64           `json:"tokens_per_s"` // this process, steady state (its first two steps left out)
	PeakRSSBytes    int64             `json:"peak_rss_bytes"`
	ElapsedS        float64           `json:"elapsed_s"`
	TrainableParams int               `json:"trainable_params"`
	TrainBlocks     int               `json:"train_blocks"`
	ValBlocks       int               `json:"val_blocks"`
	Privacy         *PrivacyStatement `json:"privacy,omitempty"` // DP-SGD runs
	Final           string            `json:"final,omitempty"`   // HF model directory
	Adapter         string            `json:"adapter,omitempty"` // PEFT adapter directory (LoRA)
}

// session is a network ready to train with its data and the ways to write
// its weights; Run builds one from a model directory or preset.
type session struct {
	net        Network
	w          weights
	final      func(run runDir) (final, adapter string, err error)
	train, val []Block
}

// trainSession runs the loop on s with resolved options: config.json,
// resume, metrics, checkpoints, the final model and the summary.
func trainSession(ctx context.Context, o Options, s session, out *cli.Output) (Summary, error) {
	start := time.Now()
	dir := runDir(o.Out)
	if err := os.MkdirAll(o.Out, 0o700); err != nil {
		return Summary{}, err
	}
	l, err := newLoop(o, s.net, s.w, s.train, s.val, out, dir)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Run: o.Out, Method: describeMethod(o), TrainableParams: len(s.net.Trainable()),
		TrainBlocks: len(s.train), ValBlocks: len(s.val)}
	if o.Resume {
		if sum.ResumedFrom, err = l.resumeNewest(); err != nil {
			return sum, err
		}
		if sum.ResumedFrom > 0 {
			out.Infof("resuming %s from step %d of %d", o.Out, sum.ResumedFrom, l.total)
		}
	} else if steps, _ := listCheckpoints(dir); len(steps) > 0 {
		return sum, cli.Usagef("%s already holds checkpoints; continue it with --resume or choose a new --out", o.Out)
	}
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return sum, err
	}
	if err := atomicfile.WriteFile(dir.path("config.json"), append(b, '\n'), 0o600); err != nil {
		return sum, err
	}
	if l.metrics, err = openMetrics(dir.path("metrics.jsonl"), l.st.Step, o.Resume); err != nil {
		return sum, err
	}
	defer l.metrics.close()
	if !o.Resume {
		out.Infof("training %s: %d steps of %d x %d tokens, %d blocks (%d validation), %d trainable parameters",
			sum.Method, l.total, o.Batch*o.GradAccum, o.Seq, len(s.train), len(s.val), sum.TrainableParams)
	}
	runErr := l.run(ctx)
	fill := func() {
		sum.Steps, sum.TotalSteps, sum.Epochs = l.st.Step, l.total, l.progress()
		sum.FinalLoss, sum.Tokens = l.st.LastLoss, l.st.Tokens
		sum.BestValLoss, sum.BestStep, sum.StoppedEarly = l.st.BestValLoss, l.st.BestStep, l.st.Stopped
		if l.st.BestValLoss != nil {
			sum.BestCheckpoint = dir.step(l.st.BestStep)
		}
		sum.TokensPerS = round(l.tokensPerSecond(), 2)
		sum.PeakRSSBytes = peakRSS()
		sum.ElapsedS = round(time.Since(start).Seconds(), 2)
	}
	if runErr != nil {
		fill()
		return sum, runErr
	}
	if recs, err := readMetrics(dir.path("metrics.jsonl")); err == nil && len(recs) > 0 {
		if last := recs[len(recs)-1]; last.ValLoss != nil {
			sum.ValLoss, sum.ValPerplexity = last.ValLoss, last.ValPerplexity
		}
	}
	if sum.Final, sum.Adapter, err = s.final(dir); err != nil {
		return sum, fmt.Errorf("writing the final model: %w", err)
	}
	fill()
	if l.dp != nil {
		sum.Privacy = l.dp.statement(l.st.Step)
		b, err := json.MarshalIndent(sum.Privacy, "", "  ")
		if err != nil {
			return sum, err
		}
		if err := atomicfile.WriteFile(dir.path("privacy.json"), append(b, '\n'), 0o600); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// ResumeOptions reads the settings a run was started with (RUN/config.json),
// the base that --resume applies flags over.
func ResumeOptions(run string) (Options, error) {
	p := runDir(run).path("config.json")
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return Options{}, cli.Usagef("--resume: %s has no config.json; is it a run directory?", run)
	}
	o, err := ReadOptions(p, Defaults())
	if err != nil {
		return o, err
	}
	o.Out = run
	o.Resume = true
	return o, nil
}

// peakRSS is the process's peak resident set size in bytes.
func peakRSS() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Maxrss * 1024 // Linux reports KiB
}

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}
