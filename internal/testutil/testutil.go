// Package testutil holds helpers shared by tests: finding the optional
// ../shared material (skipping cleanly when it is absent) and building the
// llmtune binary for integration tests.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Root returns the repository root (the directory holding go.mod).
func Root(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Testdata returns a path under the repository's testdata/.
func Testdata(t testing.TB, rel ...string) string {
	return filepath.Join(append([]string{Root(t), "testdata"}, rel...)...)
}

// Shared returns a path under ../shared (or $LLMTUNE_SHARED), skipping the
// test when it is absent: the project must not need it, tests may use it.
func Shared(t testing.TB, rel ...string) string {
	t.Helper()
	base := os.Getenv("LLMTUNE_SHARED")
	if base == "" {
		base = filepath.Join(Root(t), "..", "shared")
	}
	p := filepath.Join(append([]string{base}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared material %s not available: %v", p, err)
	}
	return p
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary returns the path of an llmtune binary: $LLMTUNE_BIN (make test sets
// it) or one built once per test process with the same build tags.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("LLMTUNE_BIN"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "llmtune-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "llmtune")
		args := []string{"build", "-o", binPath}
		if tags := buildTags(); tags != "" {
			args = append(args, "-tags", tags)
		}
		args = append(args, "./cmd/llmtune")
		cmd := exec.Command("go", args...)
		cmd.Dir = Root(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = &buildError{err, string(out)}
		}
	})
	if buildErr != nil {
		t.Fatalf("building llmtune: %v", buildErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// buildTags mirrors the Makefile: openblas when the library links.
func buildTags() string {
	cmd := exec.Command("cc", "-x", "c", "-", "-lopenblas", "-o", os.DevNull)
	cmd.Stdin = strings.NewReader("int main(void){return 0;}")
	if cmd.Run() == nil {
		return "openblas"
	}
	return ""
}

// NoNetwork returns a command prefix that runs a program in a network
// namespace with no interfaces (unshare -n), or skips the test with the
// reason when this machine does not permit it.
func NoNetwork(t testing.TB) []string {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not installed; cannot prove the pipeline runs without a network")
	}
	if out, err := exec.Command("unshare", "-n", "true").CombinedOutput(); err != nil {
		t.Skipf("unshare -n not permitted here (%v: %s); cannot prove the pipeline runs without a network", err, strings.TrimSpace(string(out)))
	}
	return []string{"unshare", "-n"}
}

// ProcStatusBytes reads a memory figure such as "VmHWM" (peak resident set)
// or "VmRSS" from /proc/self/status, in bytes; 0 where it is unavailable.
func ProcStatusBytes(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				return 0
			}
			kb, _ := strconv.ParseInt(f[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}
