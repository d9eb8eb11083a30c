package tokenize

import (
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time: on a machine shared with
// other jobs, bytes per CPU-second is a steadier figure than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchText is the golden corpus (prose, code, Indian PII-like records in
// several scripts, stress texts) concatenated: about 1 MB.
func benchText(b *testing.B) string {
	b.Helper()
	var sb strings.Builder
	for _, c := range readGolden(&testing.T{}, "golden_corpus.jsonl.gz") {
		sb.WriteString(c.Text)
		sb.WriteString("\n\n")
	}
	return sb.String()
}

// BenchmarkEncode reports MB/s of input text: one-core runs the
// single-goroutine path, all-cores the parallel Encode with GOMAXPROCS
// goroutines; the -cold variants start every run with an empty word cache.
func BenchmarkEncode(b *testing.B) {
	tok, err := GPT2()
	if err != nil {
		b.Fatal(err)
	}
	text := benchText(b)
	b.Run("one-core", func(b *testing.B) {
		e := tok.getEncoder()
		dst := make([]int32, 0, len(text)/3)
		b.SetBytes(int64(len(text)))
		b.ResetTimer()
		c0 := cpuTime()
		for i := 0; i < b.N; i++ {
			dst = e.encodeRange(dst[:0], text, 0, len(text))
		}
		b.ReportMetric(float64(len(text))*float64(b.N)/1e6/(cpuTime()-c0).Seconds(), "MB/cpu-s")
		b.ReportMetric(float64(len(dst))*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
	b.Run("one-core-cold", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		c0 := cpuTime()
		for i := 0; i < b.N; i++ {
			e := &encoder{t: tok, cache: map[string]uint64{}}
			e.encodeRange(nil, text, 0, len(text))
		}
		b.ReportMetric(float64(len(text))*float64(b.N)/1e6/(cpuTime()-c0).Seconds(), "MB/cpu-s")
	})
	b.Run("all-cores", func(b *testing.B) {
		b.ReportAllocs() // B/op over the input's size is the memory per input byte
		b.SetBytes(int64(len(text)))
		c0 := cpuTime()
		for i := 0; i < b.N; i++ {
			tok.Encode(text)
		}
		b.ReportMetric(float64(len(text))*float64(b.N)/1e6/(cpuTime()-c0).Seconds(), "MB/cpu-s")
		b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
	})
}

func BenchmarkPack(b *testing.B) {
	tok, err := GPT2()
	if err != nil {
		b.Fatal(err)
	}
	var ex [][]Segment
	n := 0
	for _, c := range readGolden(&testing.T{}, "golden_corpus.jsonl.gz") {
		n += len(c.Text)
		if len(ex)%2 == 0 {
			ex = append(ex, []Segment{{Text: c.Text, Train: true}})
		} else {
			ex = append(ex, []Segment{{Text: "user: "}, {Text: c.Text}, {Text: "assistant: "}, {Text: c.Text, Train: true}})
			n += len(c.Text)
		}
	}
	b.SetBytes(int64(n))
	for i := 0; i < b.N; i++ {
		tok.Pack(ex, PackOptions{Seq: 1024})
	}
}

// BenchmarkLoadGPT2 is the start-up cost of the embedded tokenizer.
func BenchmarkLoadGPT2(b *testing.B) {
	for i := 0; i < b.N; i++ {
		vb, _ := gunzip(gpt2VocabGz)
		mb, _ := gunzip(gpt2MergesGz)
		if _, err := parseVocabMerges("vocab.json", vb, "merges.txt", mb); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeFile encodes the file named by $TOKENIZE_BENCH_FILE (for
// measuring on your own text; skipped when unset) on one goroutine.
func BenchmarkEncodeFile(b *testing.B) {
	path := os.Getenv("TOKENIZE_BENCH_FILE")
	if path == "" {
		b.Skip("TOKENIZE_BENCH_FILE not set")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := GPT2()
	if err != nil {
		b.Fatal(err)
	}
	text := string(data)
	e := tok.getEncoder()
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		e.encodeRange(nil, text, 0, len(text))
	}
	b.ReportMetric(float64(len(text))*float64(b.N)/1e6/(cpuTime()-c0).Seconds(), "MB/cpu-s")
}
