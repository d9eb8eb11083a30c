package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmtune/llmtune/internal/testutil"
)

func runLLMTune(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(testutil.Binary(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestGenerateCLI(t *testing.T) {
	model := testutil.Testdata(t, "models", "tiny-perturbed")
	type res struct {
		ID, Completion, Stopped string
		Tokens                  int
	}
	out, errOut, code := runLLMTune(t, "", "generate", "--model", model, "--prompt", "The quick brown fox", "--max-tokens", "6", "--json")
	var r res
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Tokens != 6 || r.Stopped != "max_tokens" || r.Completion == "" {
		t.Fatalf("greedy --json: code %d, %q, stderr %q", code, out, errOut)
	}
	again, _, _ := runLLMTune(t, "", "generate", "--model", model, "--prompt", "The quick brown fox", "--max-tokens", "6", "--json")
	if again != out {
		t.Errorf("greedy generation is not reproducible: %q then %q", out, again)
	}
	// One prompt per stdin line gives one output line each.
	out, _, code = runLLMTune(t, "first\nsecond\n", "generate", "--model", model, "--max-tokens", "3", "--temperature", "0.8", "--seed", "4")
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Errorf("stdin prompts: code %d, output %q", code, out)
	}
	// --input JSONL: ids carried through; a bad line names file and line, not its text.
	in := filepath.Join(t.TempDir(), "prompts.jsonl")
	os.WriteFile(in, []byte(`{"id":"a7","prompt":"Hello"}`+"\n"+`{"text":"secret 1234"`+"\n"), 0o600)
	out, errOut, code = runLLMTune(t, "", "generate", "--model", model, "--input", in, "--json", "--max-tokens", "2")
	if code != 1 || !strings.Contains(out, `"id":"a7"`) || !strings.Contains(errOut, "prompts.jsonl line 2") || strings.Contains(errOut, "secret") {
		t.Errorf("--input with a bad line: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, args := range [][]string{
		{"generate", "--prompt", "x"},
		{"generate", "--init", "gpt2-tiny", "--model", model, "--prompt", "x"},
		{"generate", "--init", "gpt2-tiny", "--prompt", "x", "--top-p", "0"},
	} {
		if _, _, code := runLLMTune(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", args, code)
		}
	}
}
