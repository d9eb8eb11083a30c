package privacy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os/exec"
	"testing"

	"github.com/llmtune/llmtune/internal/testutil"
)

// The binary's `privacy` commands reproduce Opacus's published vectors.
func TestCLI(t *testing.T) {
	bin := testutil.Binary(t)
	run := func(args ...string) (map[string]any, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--json", "privacy"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
			t.Fatalf("%v: stdout %q: %v", args, stdout.String(), err)
		}
		return m, 0
	}
	for _, tc := range []struct {
		args      []string
		key       string
		want, tol float64
	}{
		{[]string{"epsilon", "--noise", "1.5", "--sample-rate", "0.04", "--steps", "2250", "--delta", "1e-5"}, "epsilon", 7.32911117143, 0.5e-7},
		{[]string{"epsilon", "--noise", "1.5", "--sample-rate", "0.04", "--epochs", "90", "--delta", "1e-5"}, "epsilon", 7.32911117143, 0.5e-7},
		{[]string{"noise", "--epsilon", "8", "--sample-rate", "0.04", "--epochs", "90", "--delta", "1e-5"}, "noise", 1.416, 0.5e-4},
		{[]string{"noise", "--epsilon", "8", "--sample-rate", "0.04", "--steps", "2000", "--delta", "1e-5"}, "noise", 1.3562, 0.5e-4},
		{[]string{"epsilon", "--noise", "1.3", "--sample-rate", "0.0025", "--steps", "6000", "--delta", "1e-5", "--method", "tf-privacy"}, "epsilon", 0.7242234026109595, 0.5e-7},
		{[]string{"epsilon", "--noise", "1.3", "--sample-rate", "0.0025", "--steps", "6000", "--delta", "1e-5", "--method", "tf-privacy"}, "order", 19, 0},
	} {
		m, code := run(tc.args...)
		if code != 0 {
			t.Errorf("%v: exit %d", tc.args, code)
			continue
		}
		got, ok := m[tc.key].(float64)
		if !ok || math.Abs(got-tc.want) > tc.tol {
			t.Errorf("%v: %s = %v, want %g", tc.args, tc.key, m[tc.key], tc.want)
		}
	}
	for _, bad := range [][]string{
		{"epsilon", "--noise", "0", "--sample-rate", "0.04", "--steps", "10", "--delta", "1e-5"},
		{"epsilon", "--noise", "1", "--sample-rate", "0", "--steps", "10", "--delta", "1e-5"},
		{"epsilon", "--noise", "1", "--sample-rate", "0.1", "--steps", "10", "--delta", "1"},
		{"epsilon", "--noise", "1", "--sample-rate", "0.1", "--steps", "10", "--epochs", "2", "--delta", "1e-5"},
		{"epsilon", "--noise", "1", "--sample-rate", "0.1", "--delta", "1e-5"},
		{"noise", "--epsilon", "-1", "--sample-rate", "0.1", "--steps", "10", "--delta", "1e-5"},
		{"epsilon", "--noise", "1", "--sample-rate", "0.1", "--steps", "10", "--delta", "1e-5", "--method", "magic"},
	} {
		if _, code := run(bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", bad, code)
		}
	}
}
