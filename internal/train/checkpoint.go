package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/llmtune/llmtune/internal/atomicfile"
)

// runDir is RUN: config.json, metrics.jsonl, checkpoints/step-NNNNNN/, final/.
type runDir string

func (d runDir) path(rel ...string) string {
	return filepath.Join(append([]string{string(d)}, rel...)...)
}
func (d runDir) checkpoints() string { return d.path("checkpoints") }
func (d runDir) step(n int) string   { return d.path("checkpoints", fmt.Sprintf("step-%06d", n)) }

const (
	stateFile     = "state.json"
	optimizerFile = "optimizer.safetensors"
	stateVersion  = 1
)

// checkpointState is state.json.
type checkpointState struct {
	Version   int   `json:"version"`
	Trainable int   `json:"trainable_params"` // length of the trainable buffer, checked on resume
	State     State `json:"state"`
}

// checkpoint writes checkpoints/step-NNNNNN as one directory swap: the
// weights, the optimizer moments and state.json appear together or not at
// all, whenever the process dies. Then old checkpoints beyond the newest K
// are removed (never the best one).
func (l *loop) checkpoint() error {
	if err := l.metrics.sync(); err != nil {
		return err
	}
	final := l.dir.step(l.st.Step)
	err := atomicfile.ReplaceDir(final, 0o700, func(tmp string) error {
		if err := l.w.save(tmp); err != nil {
			return err
		}
		if err := writeTensors(filepath.Join(tmp, optimizerFile), map[string][]float32{
			"exp_avg": l.opt.m, "exp_avg_sq": l.opt.v}); err != nil {
			return err
		}
		b, err := json.MarshalIndent(checkpointState{Version: stateVersion, Trainable: len(l.opt.m), State: l.st}, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.WriteFile(filepath.Join(tmp, stateFile), append(b, '\n'), 0o600)
	})
	if err != nil {
		return fmt.Errorf("writing checkpoint %s: %w", final, err)
	}
	l.out.Debugf("checkpoint %s", final)
	return l.prune()
}

// prune keeps the newest KeepCheckpoints checkpoints and the best one. A
// checkpoint is renamed to a temporary name before its removal, so a kill
// during removal never leaves a partial directory under a checkpoint name.
func (l *loop) prune() error {
	steps, err := listCheckpoints(l.dir)
	if err != nil {
		return err
	}
	keep := l.o.KeepCheckpoints
	for i, s := range steps { // newest first
		if i < keep || (l.st.BestValLoss != nil && s == l.st.BestStep) {
			continue
		}
		p := l.dir.step(s)
		tmp := filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".tmp-old")
		if err := os.Rename(p, tmp); err != nil {
			return err
		}
		if err := os.RemoveAll(tmp); err != nil {
			return err
		}
	}
	return atomicfile.SyncDir(l.dir.checkpoints())
}

// listCheckpoints returns the steps of RUN/checkpoints/step-* newest first.
func listCheckpoints(d runDir) ([]int, error) {
	entries, err := os.ReadDir(d.checkpoints())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var steps []int
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), "step-")
		if !ok || !e.IsDir() {
			continue
		}
		if n, err := strconv.Atoi(name); err == nil {
			steps = append(steps, n)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(steps)))
	return steps, nil
}

// readState reads a checkpoint's state.json.
func readState(dir string) (checkpointState, error) {
	var cs checkpointState
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return cs, err
	}
	if err := json.Unmarshal(b, &cs); err != nil {
		return cs, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	if cs.Version != stateVersion {
		return cs, fmt.Errorf("%s: version %d, this llmtune reads version %d", filepath.Join(dir, stateFile), cs.Version, stateVersion)
	}
	return cs, nil
}

// restore loads checkpoint dir into the loop: weights, moments and state.
func (l *loop) restore(dir string) error {
	cs, err := readState(dir)
	if err != nil {
		return err
	}
	if cs.Trainable != len(l.opt.m) {
		return fmt.Errorf("%s holds %d trainable parameters, this run has %d (different model or LoRA settings?)", dir, cs.Trainable, len(l.opt.m))
	}
	if cs.State.Seed != l.o.Seed {
		return fmt.Errorf("%s was trained with seed %d, this run has %d", dir, cs.State.Seed, l.o.Seed)
	}
	if cs.State.TrainBlocks != len(l.train) {
		return fmt.Errorf("%s was trained on %d blocks, the data now gives %d (changed data, --seq or tokenizer?)", dir, cs.State.TrainBlocks, len(l.train))
	}
	if err := readTensorsInto(filepath.Join(dir, optimizerFile), map[string][]float32{"exp_avg": l.opt.m, "exp_avg_sq": l.opt.v}); err != nil {
		return err
	}
	if err := l.w.restore(dir); err != nil {
		return err
	}
	l.opt.t = cs.State.AdamSteps
	st := cs.State
	st.TotalSteps = l.total
	l.st = st
	l.lastLoss = st.LastLoss
	return nil
}

// resumeNewest restores the newest checkpoint that loads, warning about
// any newer one that does not; it returns the step reached (0 with none).
func (l *loop) resumeNewest() (int, error) {
	atomicfile.CleanStale(l.dir.checkpoints())
	steps, err := listCheckpoints(l.dir)
	if err != nil {
		return 0, err
	}
	if len(steps) == 0 {
		l.out.Warnf("%s holds no checkpoint yet: starting from the beginning", l.dir.checkpoints())
		return 0, nil
	}
	var errs []error
	for _, s := range steps {
		err := l.restore(l.dir.step(s))
		if err == nil {
			return s, nil
		}
		l.out.Warnf("skipping checkpoint %s: %v", l.dir.step(s), err)
		errs = append(errs, err)
	}
	return 0, fmt.Errorf("--resume: no usable checkpoint in %s: %w", l.dir.checkpoints(), errors.Join(errs...))
}
