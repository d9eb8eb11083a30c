package anonymize

import (
	"bytes"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/llmtune/llmtune/internal/testutil"
)

// benchText is realistic text: the labelled synthetic documents (clinical,
// banking, KYC, e-mail, Hindi) concatenated, repeated to about 1 MB.
func benchText(b *testing.B) string {
	recs := readGold(b, testutil.Testdata(b, "anonymize", "synthetic_subset.jsonl"))
	var sb strings.Builder
	for sb.Len() < 1<<20 {
		for _, r := range recs {
			sb.WriteString(r.Text)
			sb.WriteString("\n\n")
		}
	}
	return sb.String()
}

// BenchmarkDetect runs every recognizer over each document (one core).
func BenchmarkDetect(b *testing.B) {
	text := benchText(b)
	docs := strings.SplitAfter(text, "\n\n\n")
	e := Default()
	e.Detect("warm up the lexicon")
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	c0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		for _, d := range docs {
			e.Detect(d)
		}
	}
	// the machine is shared: MB per CPU-second is the figure that does not
	// depend on how many other processes compete for the cores
	b.ReportMetric(float64(len(text))*float64(b.N)/1e6/(cpuSeconds()-c0), "MB/cpu-s")
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// BenchmarkAnonymize adds the tag operator.
func BenchmarkAnonymize(b *testing.B) {
	text := benchText(b)
	docs := strings.SplitAfter(text, "\n\n\n")
	e := Default()
	e.Detect("warm up")
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range docs {
			e.Anonymize(d)
		}
	}
}

// BenchmarkPlainRead is the floor: reading the same bytes from a file.
func BenchmarkPlainRead(b *testing.B) {
	text := benchText(b)
	path := b.TempDir() + "/t.txt"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, _ := os.Open(path)
		io.CopyBuffer(io.Discard, f, buf)
		f.Close()
	}
}

// BenchmarkStream is JSONL through all cores (GOMAXPROCS workers).
func BenchmarkStream(b *testing.B) {
	data, err := os.ReadFile(testutil.Testdata(b, "anonymize", "synthetic_subset.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	in := bytes.Repeat(data, 8)
	e := Default()
	e.Detect("warm up")
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Stream(b.Context(), bytes.NewReader(in), io.Discard, StreamOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
