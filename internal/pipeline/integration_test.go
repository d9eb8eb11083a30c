package pipeline

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmtune/llmtune/internal/testutil"
)

// The real binary through the cron scenarios: a run, a run with nothing new
// (exit 3), appended data (retrains), a kill during training (the next run
// resumes), and a failing gate (exit 5, nothing promoted).
func TestRunBinaryCronScenarios(t *testing.T) {
	bin := testutil.Binary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	sample, err := os.ReadFile(testutil.Testdata(t, "sample", "clinic_notes.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(sample)), "\n")
	input := filepath.Join(data, "notes.jsonl")
	os.WriteFile(input, []byte(strings.Join(lines[:60], "\n")+"\n"), 0o600)
	cfg := filepath.Join(dir, "llmtune.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`workdir: %s
prepare:
  inputs: [%s]
  canaries: "2,2"
train:
  init: gpt2-tiny
  steps: 4
  batch: 2
  seq: 32
  lr: 0.001
  warmup: 1
  checkpoint_every: 2
  val_every: 0
eval:
  samples: 1
  candidates: 100
`, filepath.Join(dir, "work"), data)), 0o600)
	run := func(extra ...string) (int, string) {
		cmd := exec.Command(bin, append([]string{"run", "--config", cfg, "--json"}, extra...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String() + errb.String()
	}
	current := func() string {
		target, _ := os.Readlink(filepath.Join(dir, "work", "runs", "current"))
		return target
	}

	if code, out := run(); code != 0 || !strings.Contains(out, `"promoted":true`) {
		t.Fatalf("first run: exit %d\n%s", code, out)
	}
	first := current()
	if code, out := run(); code != 3 {
		t.Fatalf("second run: exit %d, want 3 (nothing to do)\n%s", code, out)
	}

	// Appended data: prepare and train run again.
	os.WriteFile(input, []byte(strings.Join(lines[:80], "\n")+"\n"), 0o600)
	code, out := run()
	if (code != 0 && code != 5) || !strings.Contains(out, `"stage":"train","start"`) || strings.Contains(out, `"outcome":"skipped"`) {
		t.Fatalf("after append: exit %d\n%s", code, out)
	}

	// Kill during training; the next run resumes from the checkpoint.
	os.WriteFile(input, []byte(strings.Join(lines[:100], "\n")+"\n"), 0o600)
	old, _ := filepath.Glob(filepath.Join(dir, "work", "runs", "2*"))
	isOld := map[string]bool{}
	for _, o := range old {
		isOld[o] = true
	}
	cmd := exec.Command(bin, "run", "--config", cfg, "-q", "--set", "train.steps=60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(dir, "work", "runs", "2*", "checkpoints", "step-000004"))
		fresh := false
		for _, p := range m {
			fresh = fresh || !isOld[filepath.Dir(filepath.Dir(p))]
		}
		if fresh {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	code, out = run("--set", "train.steps=60")
	if code != 0 && code != 5 {
		t.Fatalf("resume run: exit %d\n%s", code, out)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "work", "log.jsonl"))
	if !strings.Contains(string(log), `"outcome":"resumed"`) && !strings.Contains(out, `"outcome":"resumed"`) {
		t.Fatalf("the run after a kill did not resume:\n%s", log)
	}

	// A failing gate keeps the current model.
	before := current()
	if code, out := run("--set", "gates.max_exposure=-1", "--set", "eval.samples=2"); code != 5 || current() != before {
		t.Fatalf("failing gate: exit %d, current %s -> %s\n%s", code, before, current(), out)
	}
	if first == "" || strings.Contains(string(log), "Patient:") {
		t.Fatalf("log must hold figures only:\n%s", log)
	}
}
