package anonymize

import (
	"bytes"
	"context"
	"os"
	"testing"
)

func TestZZWriteOutputs(t *testing.T) {
	out := os.Getenv("ANON_OUT")
	if out == "" {
		t.Skip()
	}
	for _, f := range []string{"synthetic_dev", "presidio_cases"} {
		in, _ := os.ReadFile("/work/shared/pii/" + f + ".jsonl")
		for _, spans := range []bool{true, false} {
			var b bytes.Buffer
			if _, err := Default().Stream(context.Background(), bytes.NewReader(in), &b, StreamOptions{Spans: spans}); err != nil {
				t.Fatal(err)
			}
			name := out + "/" + f + ".text.jsonl"
			if spans {
				name = out + "/" + f + ".spans.jsonl"
			}
			os.WriteFile(name, b.Bytes(), 0o600)
		}
	}
}
