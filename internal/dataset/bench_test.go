package dataset

import (
	"github.com/llmtune/llmtune/internal/testutil"

	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// BenchmarkPrepare prepares a generated JSONL file (64 MB by default;
// LLMTUNE_BENCH_PREPARE_MB=1024 for the 1 GB figure) with anonymization off
// and reports MB/s and the process's peak RSS.
func BenchmarkPrepare(b *testing.B) {
	mb := 64
	if s := os.Getenv("LLMTUNE_BENCH_PREPARE_MB"); s != "" {
		mb, _ = strconv.Atoi(s)
	}
	dir := b.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	f, err := os.Create(in)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	words := strings.Fields("the patient was advised to continue the medication and return for review after two weeks while the bank confirmed the refund to the customer account and the order was shipped")
	var size int64
	for i := 0; size < int64(mb)<<20; i++ {
		var sb strings.Builder
		for j := 0; j < 40+i%60; j++ {
			sb.WriteString(words[(i*7+j*3)%len(words)])
			sb.WriteByte(' ')
		}
		n, _ := fmt.Fprintf(w, `{"id":"r%d","text":"record %d: %s"}`+"\n", i, i, sb.String())
		size += int64(n)
	}
	w.Flush()
	f.Close()
	b.SetBytes(size)
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o := PrepareOptions{Inputs: []string{in}, Out: filepath.Join(dir, "out"), Val: 0.1, Test: 0.1, Seed: 1}
		if _, err := Prepare(context.Background(), o, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// MB per CPU-second does not depend on how busy the other cores are.
	b.ReportMetric(float64(size)*float64(b.N)/1e6/(cpuSeconds()-cpu0), "MB/CPU-s")
	b.ReportMetric(float64(testutil.ProcStatusBytes("VmHWM"))/(1<<20), "peak-RSS-MiB")
}

// cpuSeconds is the user+system CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
