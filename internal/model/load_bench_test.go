package model

import (
	"github.com/llmtune/llmtune/internal/testutil"

	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
)

// BenchmarkLoad124M loads a 124M-parameter checkpoint and reports seconds
// per load and resident memory after load relative to the weights' size.
func BenchmarkLoad124M(b *testing.B) {
	cfg, _ := Preset("gpt2-124m")
	dir := filepath.Join(b.TempDir(), "m")
	if err := Init(cfg, 0).Save(dir, nil); err != nil {
		b.Fatal(err)
	}
	weights := float64(4 * NewLayout(cfg).Total)
	var rss, cpu float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		debug.FreeOSMemory() // measure the load, not the model written above
		c0 := cpuSeconds()
		b.StartTimer()
		m, err := Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuSeconds() - c0
		rss = float64(testutil.ProcStatusBytes("VmRSS"))
		runtime.KeepAlive(m)
		b.StartTimer()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/load")
	// CPU seconds are the figure to compare on a shared, busy machine.
	b.ReportMetric(cpu/float64(b.N), "cpu-s/load")
	b.ReportMetric(rss/weights, "rss/weights")
}
