package tokenize

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/llmtune/llmtune/internal/testutil"
)

// TestCommand runs `llmtune tokenize` on the golden edge cases, one per line.
func TestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := testutil.Binary(t)
	var in strings.Builder
	var want [][]int32
	for _, c := range readGolden(t, "golden_r50k.jsonl") {
		if c.Special || strings.ContainsAny(c.Text, "\r\n") {
			continue
		}
		in.WriteString(c.Text + "\n")
		want = append(want, c.IDs)
	}
	dir := t.TempDir()
	writeTokFiles(t, dir, map[string]string{"vocab.json": "@vocab.json", "merges.txt": "@merges.txt", "config.json": `{"vocab_size": 50257}`})
	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(bin, append([]string{"tokenize"}, args...)...)
		cmd.Stdin = strings.NewReader(in.String())
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	for _, args := range [][]string{nil, {"--model", dir}, {"--json"}, {"--count"}, {"--count", "--json"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, stderr, err := run(args...)
			if err != nil {
				t.Fatalf("%v: %s", err, stderr)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != len(want) {
				t.Fatalf("%d output lines for %d input lines", len(lines), len(want))
			}
			for i, l := range lines {
				var got []int32
				var n int
				switch {
				case slices.Contains(args, "--count") && slices.Contains(args, "--json"):
					var v struct{ Count int }
					err = json.Unmarshal([]byte(l), &v)
					n = v.Count
				case slices.Contains(args, "--count"):
					n, err = strconv.Atoi(l)
				case slices.Contains(args, "--json"):
					var v struct{ IDs []int32 }
					err = json.Unmarshal([]byte(l), &v)
					got, n = v.IDs, len(v.IDs)
				default:
					for _, f := range strings.Fields(l) {
						id, _ := strconv.Atoi(f)
						got = append(got, int32(id))
					}
					n = len(got)
				}
				if err != nil {
					t.Fatalf("line %d %q: %v", i+1, l, err)
				}
				if n != len(want[i]) || got != nil && !slices.Equal(got, want[i]) {
					t.Fatalf("line %d: got %q, want ids %v", i+1, l, want[i])
				}
			}
		})
	}
	_, stderr, err := run("--model", t.TempDir())
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr, "has neither tokenizer.json") {
		t.Fatalf("missing tokenizer: %v, %s", err, stderr)
	}
}
