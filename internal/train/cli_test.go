package train

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/llmtune/llmtune/internal/model"
	"github.com/llmtune/llmtune/internal/testutil"
	"github.com/llmtune/llmtune/internal/tokenize"
)

// tinyArgs trains gpt2-tiny briefly: 12 steps of 2 x 32 tokens.
func tinyArgs(data, out string, extra ...string) []string {
	return append([]string{"train", "--init", "gpt2-tiny", "--data", data, "--out", out, "--steps", "12",
		"--batch", "2", "--seq", "32", "--lr", "1e-3", "--warmup", "2", "--seed", "7", "--val-every", "4",
		"--checkpoint-every", "3", "--keep-checkpoints", "2", "-q"}, extra...)
}

func llmtune(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(testutil.Binary(t), args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func metricLosses(t *testing.T, run string) []float64 {
	t.Helper()
	recs, err := readMetrics(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return losses(recs)
}

// TestBinaryKillResume starts the real binary, kills it with SIGKILL once a
// checkpoint exists, resumes, and compares the whole loss curve with an
// uninterrupted run's.
func TestBinaryKillResume(t *testing.T) {
	data := preparedData(t)
	want := filepath.Join(t.TempDir(), "want")
	out, errOut, code := llmtune(t, append(tinyArgs(data, want), "--json")...)
	if code != 0 {
		t.Fatalf("uninterrupted run: exit %d: %s", code, errOut)
	}
	var sum Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if sum.Steps != 12 || sum.PeakRSSBytes <= 0 || sum.ValLoss == nil || sum.Final == "" {
		t.Fatalf("summary %+v", sum)
	}

	run := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(testutil.Binary(t), tinyArgs(data, run)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(run, "checkpoints", "step-000006", stateFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no checkpoint after 90 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, errOut, code := llmtune(t, "train", "--out", run, "--resume", "-q"); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, errOut)
	}
	if w, g := metricLosses(t, want), metricLosses(t, run); !slices.Equal(w, g) {
		t.Fatalf("killed and resumed run's losses differ:\nuninterrupted %v\nresumed       %v", w, g)
	}
	if _, err := os.Stat(filepath.Join(run, "final", "model.safetensors")); err != nil {
		t.Fatal(err)
	}
}

// TestBinaryKillDuringCheckpoint kills the binary at moments spread over a
// run that checkpoints every step: every checkpoint directory that exists
// afterwards must be whole, and a resume must succeed.
func TestBinaryKillDuringCheckpoint(t *testing.T) {
	data := preparedData(t)
	run := filepath.Join(t.TempDir(), "run")
	args := tinyArgs(data, run, "--checkpoint-every", "1", "--keep-checkpoints", "100", "--val-every", "0")
	for i, delay := range []time.Duration{700, 1100, 1500} {
		cmd := exec.Command(testutil.Binary(t), args...)
		if i > 0 {
			cmd.Args = append(cmd.Args, "--resume")
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		steps, _ := listCheckpoints(runDir(run))
		for _, s := range steps {
			dir := runDir(run).step(s)
			if _, err := readState(dir); err != nil {
				t.Fatalf("after kill %d: %s is not whole: %v", i, dir, err)
			}
			if _, err := readTensors(filepath.Join(dir, optimizerFile)); err != nil {
				t.Fatalf("after kill %d: %v", i, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
				t.Fatalf("after kill %d: %v", i, err)
			}
		}
	}
	if _, errOut, code := llmtune(t, append(args, "--resume")...); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, errOut)
	}
}

func TestBinaryBadInputs(t *testing.T) {
	data := preparedData(t)
	good := filepath.Join(t.TempDir(), "good")
	if _, errOut, code := llmtune(t, tinyArgs(data, good, "--steps", "1", "--val-every", "0")...); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// A model whose vocabulary is smaller than its tokenizer's.
	bad := filepath.Join(t.TempDir(), "badvocab")
	cfg, _ := model.Preset("gpt2-tiny")
	cfg.VocabSize = 1000
	tok, err := tokenize.GPT2()
	if err != nil {
		t.Fatal(err)
	}
	if err := model.Init(cfg, 1).Save(bad, tok); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing data", tinyArgs(filepath.Join(t.TempDir(), "nope"), filepath.Join(t.TempDir(), "o")), 2, "llmtune prepare"},
		{"seq over n_positions", tinyArgs(data, filepath.Join(t.TempDir(), "o"), "--seq", "200"), 2, "n_positions 128"},
		{"vocab mismatch", []string{"train", "--model", bad, "--data", data, "--out", filepath.Join(t.TempDir(), "o"), "--steps", "1"}, 1, "vocab"},
		{"existing run", tinyArgs(data, good, "--steps", "1"), 2, "--resume"},
		{"resume nothing", []string{"train", "--out", filepath.Join(t.TempDir(), "none"), "--resume"}, 2, "config.json"},
		{"bad schedule", tinyArgs(data, filepath.Join(t.TempDir(), "o"), "--schedule", "step"), 2, "schedule"},
		{"dp delta too large", tinyArgs(data, filepath.Join(t.TempDir(), "o"), "--dp-noise", "1", "--dp-max-grad-norm", "1", "--dp-delta", "0.01"), 2, "1/records"},
	}
	for _, tc := range tests {
		_, errOut, code := llmtune(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d mentioning %q", tc.name, code, errOut, tc.code, tc.want)
		}
	}
}

var (
	prepOnce sync.Once
	prepDir  string
	prepErr  string
)

// preparedData runs the real 'llmtune prepare' once per test process on the
// repository's synthetic clinic notes.
func preparedData(t *testing.T) string {
	t.Helper()
	bin := testutil.Binary(t)
	prepOnce.Do(func() {
		dir, err := os.MkdirTemp("", "llmtune-train-test-")
		if err != nil {
			prepErr = err.Error()
			return
		}
		prepDir = filepath.Join(dir, "prepared")
		out, err := exec.Command(bin, "prepare", "--input", testutil.Testdata(t, "sample", "clinic_notes.jsonl"),
			"--out", prepDir, "-q").CombinedOutput()
		if err != nil {
			prepErr = fmt.Sprintf("%v: %s", err, out)
		}
	})
	if prepErr != "" {
		t.Fatalf("llmtune prepare: %s", prepErr)
	}
	return prepDir
}

// TestBinaryConfigFile: --config reads a run's keys, flags given override
// them, the run's config.json records the result, and a typo is an error.
func TestBinaryConfigFile(t *testing.T) {
	data := preparedData(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "settings.json")
	os.WriteFile(cfg, []byte(`{"init": "gpt2-tiny", "data": "`+data+`", "steps": 5, "batch": 2, "seq": 16,
		"schedule": "linear", "lr": 0.002, "val_every": 0}`), 0o600)
	run := filepath.Join(dir, "run")
	out, errOut, code := llmtune(t, "train", "--config", cfg, "--out", run, "--steps", "2", "--json", "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var sum Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Steps != 2 {
		t.Fatalf("summary %q (%v): want 2 steps (the flag overrides the file's 5)", out, err)
	}
	got, err := ReadOptions(filepath.Join(run, "config.json"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Steps != 2 || got.Batch != 2 || got.Seq != 16 || got.Schedule != "linear" || got.LR != 0.002 || got.Out != run || got.ClipNorm != 1 {
		t.Fatalf("resolved config %+v", got)
	}
	os.WriteFile(cfg, []byte(`{"init": "gpt2-tiny", "stepz": 5}`), 0o600)
	if _, errOut, code := llmtune(t, "train", "--config", cfg, "--out", filepath.Join(dir, "run2")); code != 2 || !strings.Contains(errOut, "stepz") {
		t.Fatalf("unknown key: exit %d, %q", code, errOut)
	}
}
