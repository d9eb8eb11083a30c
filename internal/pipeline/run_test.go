package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeStages records calls and writes the files the runner looks for.
type fakeStages struct {
	calls     []string
	killTrain bool
	ppl       float64
	exposure  float64
}

func (f *fakeStages) Prepare(ctx context.Context, c PrepareConfig, out string) (Figures, error) {
	f.calls = append(f.calls, "prepare")
	os.MkdirAll(out, 0o700)
	var all []byte
	for _, in := range c.Inputs {
		b, _ := os.ReadFile(in)
		all = append(all, b...)
	}
	return Figures{"records": len(all)}, os.WriteFile(filepath.Join(out, "manifest.json"), all, 0o600)
}

func (f *fakeStages) Train(ctx context.Context, c TrainConfig, start, data, runDir string) (string, Figures, error) {
	os.MkdirAll(filepath.Join(runDir, "checkpoints"), 0o700)
	resumed := len(mustGlob(filepath.Join(runDir, "checkpoints", "*"))) > 0
	if resumed {
		f.calls = append(f.calls, "train-resume")
	} else {
		f.calls = append(f.calls, "train")
	}
	os.WriteFile(filepath.Join(runDir, "checkpoints", "step-1"), nil, 0o600)
	if f.killTrain {
		f.killTrain = false
		return "", nil, errors.New("killed")
	}
	final := filepath.Join(runDir, "final")
	os.MkdirAll(final, 0o700)
	return final, Figures{"start": start}, nil
}

func (f *fakeStages) Eval(ctx context.Context, c EvalConfig, model, current, data, out string) (EvalFigures, error) {
	f.calls = append(f.calls, "eval")
	e := EvalFigures{Perplexity: f.ppl, MaxExposure: f.exposure}
	if current != "" {
		e.CurrentPerplexity = 10
	}
	return e, nil
}

func mustGlob(p string) []string { m, _ := filepath.Glob(p); return m }

func TestRunIncrementalResumeAndGates(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "data.jsonl")
	os.WriteFile(input, []byte(`{"text":"a"}`+"\n"), 0o600)
	cfg := Default()
	cfg.Workdir = filepath.Join(dir, "work")
	cfg.Prepare.Inputs = []string{input}
	fs := &fakeStages{ppl: 9}
	r := &Runner{Config: cfg, Stages: fs}
	ctx := context.Background()

	out, err := r.Run(ctx)
	if err != nil || !out.Promoted || out.NothingToDo {
		t.Fatalf("first run: %+v %v", out, err)
	}
	first := out.Run
	if target, _ := os.Readlink(filepath.Join(cfg.Workdir, "runs", "current")); target != first {
		t.Fatalf("current -> %q, want %q", target, first)
	}

	// Nothing changed: nothing runs.
	fs.calls = nil
	out, err = r.Run(ctx)
	if err != nil || !out.NothingToDo || len(fs.calls) != 0 {
		t.Fatalf("second run did work: %+v %v %v", out, err, fs.calls)
	}

	// Appended data: prepare and train again; a kill mid-training resumes.
	os.WriteFile(input, []byte(`{"text":"a"}`+"\n"+`{"text":"b"}`+"\n"), 0o600)
	fs.calls, fs.killTrain = nil, true
	r.Now = nil
	if _, err := r.Run(ctx); err == nil {
		t.Fatal("killed training reported success")
	}
	fs.calls = nil
	out, err = r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(fs.calls, ",") != "train-resume,eval" {
		t.Fatalf("after kill: calls %v", fs.calls)
	}
	if !out.Promoted || out.Run == first {
		t.Fatalf("retrained model not promoted: %+v", out)
	}

	// A failing gate keeps the current model.
	os.WriteFile(input, []byte(`{"text":"c"}`+"\n"), 0o600)
	fs.calls, fs.ppl = nil, 12
	current := out.Run
	out, err = r.Run(ctx)
	if err != nil || out.Promoted || len(out.GateFailures) != 1 || out.Current != current {
		t.Fatalf("gate: %+v %v", out, err)
	}
	log, _ := os.ReadFile(filepath.Join(cfg.Workdir, "log.jsonl"))
	if !strings.Contains(string(log), `"not promoted"`) || strings.Contains(string(log), `"text"`) {
		t.Fatalf("log: %s", log)
	}
}
