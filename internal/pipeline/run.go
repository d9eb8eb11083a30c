package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/llmtune/llmtune/internal/atomicfile"
)

// Stages are the pipeline's three steps; cmd/llmtune wires the real ones and
// tests use fakes. Each must write its outputs atomically.
type Stages interface {
	// Prepare turns the inputs into a prepared directory at out.
	Prepare(ctx context.Context, c PrepareConfig, out string) (Figures, error)
	// Train fine-tunes startModel (a model dir, or "" for c.Init) on data into
	// runDir, resuming from runDir's newest checkpoint when there is one. It
	// returns the trained model directory.
	Train(ctx context.Context, c TrainConfig, startModel, data, runDir string) (model string, f Figures, err error)
	// Eval scores model (and current, the promoted model, when not "") on data.
	Eval(ctx context.Context, c EvalConfig, model, current, data, out string) (EvalFigures, error)
}

// Figures are a stage's numbers for the log (never record text).
type Figures map[string]any

// EvalFigures are what the gates look at.
type EvalFigures struct {
	Perplexity        float64 `json:"perplexity"`
	CurrentPerplexity float64 `json:"current_perplexity,omitempty"` // 0 when there is no promoted model
	MaxExposure       float64 `json:"max_exposure"`
	VerbatimShare     float64 `json:"verbatim_share"`
	PIIRegurgitated   int     `json:"pii_regurgitated"`
	Report            string  `json:"report"`
}

// Outcome of a run.
type Outcome struct {
	NothingToDo  bool          `json:"nothing_to_do"`
	Stages       []StageResult `json:"stages"`
	Run          string        `json:"run,omitempty"`
	Promoted     bool          `json:"promoted"`
	GateFailures []string      `json:"gate_failures,omitempty"`
	Eval         *EvalFigures  `json:"eval,omitempty"`
	Current      string        `json:"current,omitempty"`
}

// StageResult is one line of the log.
type StageResult struct {
	Stage   string    `json:"stage"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Outcome string    `json:"outcome"` // ran, skipped, resumed, failed
	Figures Figures   `json:"figures,omitempty"`
	Error   string    `json:"error,omitempty"`
}

// state is workdir/state.json: what each stage last did, by input hash.
type state struct {
	PrepareHash string `json:"prepare_hash"`
	TrainHash   string `json:"train_hash"`
	TrainRun    string `json:"train_run"`
	TrainModel  string `json:"train_model"`
	TrainDone   bool   `json:"train_done"`
	EvalHash    string `json:"eval_hash"`
	Promoted    string `json:"promoted"`
}

// Runner runs the pipeline in cfg.Workdir.
type Runner struct {
	Config Config
	Stages Stages
	Now    func() time.Time
	Log    io.Writer // progress lines for people (stderr); may be nil
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) say(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, format+"\n", args...)
	}
}

// Paths inside the workdir.
func (r *Runner) path(p ...string) string {
	return filepath.Join(append([]string{r.Config.Workdir}, p...)...)
}

// Run executes the pipeline once. It returns ErrLocked (wrapped) when another
// run holds the lock.
func (r *Runner) Run(ctx context.Context) (Outcome, error) {
	var out Outcome
	if err := os.MkdirAll(r.path("runs"), 0o700); err != nil {
		return out, err
	}
	os.Chmod(r.Config.Workdir, 0o700)
	lock, err := AcquireLock(r.Config.Workdir)
	if err != nil {
		return out, err
	}
	defer lock.Release()
	atomicfile.CleanStale(r.Config.Workdir)
	atomicfile.CleanStale(r.path("runs"))

	st := r.loadState()
	ranSomething := false
	record := func(res StageResult) {
		out.Stages = append(out.Stages, res)
		r.appendLog(res)
		r.say("%s: %s", res.Stage, res.Outcome)
	}

	// Prepare.
	prepared := r.path("prepared")
	ph, err := prepareHash(r.Config.Prepare)
	if err != nil {
		return out, err
	}
	res := StageResult{Stage: "prepare", Start: r.now()}
	if st.PrepareHash == ph && exists(filepath.Join(prepared, "manifest.json")) {
		res.Outcome = "skipped"
	} else {
		res.Figures, err = r.Stages.Prepare(ctx, r.Config.Prepare, prepared)
		if err != nil {
			return out, r.fail(&out, res, err)
		}
		st.PrepareHash = ph
		r.saveState(st)
		res.Outcome = "ran"
		ranSomething = true
	}
	res.End = r.now()
	record(res)

	// Train.
	startModel := r.Config.Train.Base
	current := r.currentModel(st)
	if r.Config.Train.StartFrom == "promoted" && current != "" {
		startModel = current
	}
	th, err := trainHash(r.Config.Train, startModel, prepared)
	if err != nil {
		return out, err
	}
	res = StageResult{Stage: "train", Start: r.now()}
	switch {
	case st.TrainHash == th && st.TrainDone && exists(st.TrainModel):
		res.Outcome = "skipped"
	default:
		if st.TrainHash == th && st.TrainRun != "" && exists(r.path("runs", st.TrainRun)) {
			res.Outcome = "resumed"
		} else {
			st.TrainRun = r.now().UTC().Format("20060102-150405")
			for exists(r.path("runs", st.TrainRun)) {
				st.TrainRun += "x"
			}
			st.TrainHash, st.TrainDone, st.TrainModel = th, false, ""
			st.EvalHash = ""
			res.Outcome = "ran"
		}
		// Recorded before training so a killed run resumes in the same directory.
		if err := r.saveState(st); err != nil {
			return out, err
		}
		model, figs, err := r.Stages.Train(ctx, r.Config.Train, startModel, prepared, r.path("runs", st.TrainRun))
		res.Figures = figs
		if err != nil {
			return out, r.fail(&out, res, err)
		}
		st.TrainModel, st.TrainDone = model, true
		r.saveState(st)
		ranSomething = true
	}
	res.End = r.now()
	record(res)
	out.Run = st.TrainRun

	// Eval and promotion.
	eh := hashJSON(r.Config.Eval, r.Config.Gates, th, st.TrainRun)
	if st.EvalHash == eh && !ranSomething {
		out.NothingToDo = true
		out.Current = st.Promoted
		return out, nil
	}
	res = StageResult{Stage: "eval", Start: r.now()}
	// Compare with the promoted model, or before the first promotion with the
	// base model the run started from (a fresh --init model has none).
	compare := current
	if compare == "" {
		compare = startModel
	}
	ef, err := r.Stages.Eval(ctx, r.Config.Eval, st.TrainModel, compare, prepared, r.path("runs", st.TrainRun, "eval"))
	if err != nil {
		return out, r.fail(&out, res, err)
	}
	out.Eval = &ef
	res.Figures = Figures{"perplexity": ef.Perplexity, "current_perplexity": ef.CurrentPerplexity,
		"max_exposure": ef.MaxExposure, "verbatim_share": ef.VerbatimShare, "pii_regurgitated": ef.PIIRegurgitated}
	res.Outcome, res.End = "ran", r.now()
	record(res)

	out.GateFailures = gateFailures(r.Config.Gates, ef)
	res = StageResult{Stage: "promote", Start: r.now()}
	if len(out.GateFailures) == 0 && st.Promoted != st.TrainRun {
		if err := r.promote(st.TrainRun); err != nil {
			return out, r.fail(&out, res, err)
		}
		st.Promoted = st.TrainRun
		out.Promoted = true
		res.Outcome = "promoted"
	} else if len(out.GateFailures) > 0 {
		res.Outcome = "not promoted"
		res.Figures = Figures{"gate_failures": out.GateFailures}
	} else {
		res.Outcome = "already current"
	}
	st.EvalHash = eh
	r.saveState(st)
	res.End = r.now()
	record(res)
	out.Current = st.Promoted
	r.prune(st)
	return out, nil
}

func (r *Runner) fail(out *Outcome, res StageResult, err error) error {
	res.End, res.Outcome = r.now(), "failed"
	res.Error = err.Error()
	out.Stages = append(out.Stages, res)
	r.appendLog(res)
	return fmt.Errorf("%s: %w", res.Stage, err)
}

func gateFailures(g GatesConfig, e EvalFigures) []string {
	var f []string
	if e.CurrentPerplexity > 0 && e.Perplexity > e.CurrentPerplexity*(1+g.MaxPerplexityIncrease) {
		f = append(f, fmt.Sprintf("test perplexity %.3f is worse than the current model's %.3f by more than %.1f%%",
			e.Perplexity, e.CurrentPerplexity, 100*g.MaxPerplexityIncrease))
	}
	if e.MaxExposure > g.MaxExposure {
		f = append(f, fmt.Sprintf("canary exposure %.2f bits exceeds %.2f", e.MaxExposure, g.MaxExposure))
	}
	if e.VerbatimShare > g.MaxVerbatimShare {
		f = append(f, fmt.Sprintf("%.1f%% of samples repeat 50+ training tokens verbatim (limit %.1f%%)",
			100*e.VerbatimShare, 100*g.MaxVerbatimShare))
	}
	if g.MaxPIIRegurgitated >= 0 && e.PIIRegurgitated > g.MaxPIIRegurgitated {
		f = append(f, fmt.Sprintf("%d personal-data entities from training reappear in samples (limit %d)",
			e.PIIRegurgitated, g.MaxPIIRegurgitated))
	}
	return f
}

// currentModel is the promoted run's model directory, or "".
func (r *Runner) currentModel(st state) string {
	if st.Promoted == "" {
		return ""
	}
	link := r.path("runs", "current")
	target, err := filepath.EvalSymlinks(link)
	if err != nil {
		return ""
	}
	m := filepath.Join(target, "final")
	if !exists(m) {
		return ""
	}
	return m
}

// promote points runs/current at run with an atomic symlink swap.
func (r *Runner) promote(run string) error {
	tmp := r.path("runs", ".current.tmp-"+run)
	os.Remove(tmp)
	if err := os.Symlink(run, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, r.path("runs", "current")); err != nil {
		os.Remove(tmp)
		return err
	}
	return atomicfile.SyncDir(r.path("runs"))
}

// prune removes the oldest runs beyond keep_runs, never the promoted one or
// the one in progress.
func (r *Runner) prune(st state) {
	ents, err := os.ReadDir(r.path("runs"))
	if err != nil {
		return
	}
	var runs []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			runs = append(runs, e.Name())
		}
	}
	sort.Strings(runs)
	for len(runs) > r.Config.KeepRuns {
		victim := runs[0]
		runs = runs[1:]
		if victim == st.Promoted || victim == st.TrainRun {
			continue
		}
		os.RemoveAll(r.path("runs", victim))
	}
}

func (r *Runner) loadState() state {
	var st state
	b, err := os.ReadFile(r.path("state.json"))
	if err == nil {
		json.Unmarshal(b, &st)
	}
	return st
}

func (r *Runner) saveState(st state) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	return atomicfile.WriteFile(r.path("state.json"), append(b, '\n'), 0o600)
}

// appendLog adds one JSON line to workdir/log.jsonl.
func (r *Runner) appendLog(res StageResult) {
	f, err := os.OpenFile(r.path("log.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	b, _ := json.Marshal(res)
	f.Write(append(b, '\n'))
}

// prepareHash covers the settings and the content of every input file.
func prepareHash(c PrepareConfig) (string, error) {
	h := sha256.New()
	b, _ := json.Marshal(c)
	h.Write(b)
	for _, p := range []string{c.Policy} {
		if p != "" {
			if err := hashFile(h, p); err != nil {
				return "", err
			}
		}
	}
	for _, in := range c.Inputs {
		if in == "-" {
			return "", errors.New("prepare.inputs cannot be stdin in a pipeline run")
		}
		err := filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			fmt.Fprintf(h, "%s\x00", p)
			return hashFile(h, p)
		})
		if err != nil {
			return "", fmt.Errorf("prepare input %s: %w", in, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// trainHash covers the settings, the start model and the prepared data.
func trainHash(c TrainConfig, startModel, prepared string) (string, error) {
	h := sha256.New()
	b, _ := json.Marshal(c)
	h.Write(b)
	fmt.Fprintf(h, "\x00start=%s\x00", startModel)
	if startModel != "" {
		for _, f := range []string{"config.json", "model.safetensors", "adapter_model.safetensors"} {
			if p := filepath.Join(startModel, f); exists(p) {
				if err := hashFile(h, p); err != nil {
					return "", err
				}
			}
		}
	}
	if err := hashFile(h, filepath.Join(prepared, "manifest.json")); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashJSON(vs ...any) string {
	h := sha256.New()
	for _, v := range vs {
		b, _ := json.Marshal(v)
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func hashFile(h io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(h, f)
	return err
}

func exists(p string) bool {
	if p == "" {
		return false
	}
	_, err := os.Stat(p)
	return err == nil
}
