package anonymize

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmtune/llmtune/internal/testutil"
)

// TestWriteScorerOutputs writes this engine's outputs for ../shared/pii in
// both of score.py's modes when ANON_OUT names a directory:
//
//	ANON_OUT=/tmp go test -run WriteScorerOutputs ./internal/anonymize/
//	python3 ../shared/pii/score.py ../shared/pii/synthetic_dev.jsonl /tmp/synthetic_dev.text.jsonl
func TestWriteScorerOutputs(t *testing.T) {
	out := os.Getenv("ANON_OUT")
	if out == "" {
		t.Skip("set ANON_OUT to a directory to write scorer inputs")
	}
	for _, f := range []string{"synthetic_dev", "presidio_cases"} {
		in, err := os.ReadFile(testutil.Shared(t, "pii", f+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		for _, spans := range []bool{true, false} {
			var b bytes.Buffer
			if _, err := Default().Stream(context.Background(), bytes.NewReader(in), &b, StreamOptions{Spans: spans}); err != nil {
				t.Fatal(err)
			}
			name := f + ".text.jsonl"
			if spans {
				name = f + ".spans.jsonl"
			}
			if err := os.WriteFile(filepath.Join(out, name), b.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}
