package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/llmtune/llmtune/internal/atomicfile"
)

// record is one line of metrics.jsonl. It holds figures only, never text.
type record struct {
	Step          int      `json:"step"`
	Epoch         float64  `json:"epoch"`
	Loss          float64  `json:"loss"`
	LR            float64  `json:"lr"`
	GradNorm      float64  `json:"grad_norm,omitempty"`
	TokensPerS    float64  `json:"tokens_per_s,omitempty"`
	ValLoss       *float64 `json:"val_loss,omitempty"`
	ValPerplexity *float64 `json:"val_perplexity,omitempty"`
	Epsilon       *float64 `json:"epsilon,omitempty"` // DP-SGD: ε spent so far
	Final         bool     `json:"final,omitempty"`   // the end-of-run validation
}

// metricsLog appends to metrics.jsonl. Lines are appended as steps finish;
// the file is synced with each checkpoint, and on resume the lines after
// the checkpoint's step (written by the interrupted process) are dropped.
type metricsLog struct {
	path string
	f    *os.File
}

func openMetrics(path string, keepThrough int, resume bool) (*metricsLog, error) {
	if resume {
		if err := truncateMetrics(path, keepThrough); err != nil {
			return nil, err
		}
	} else if err := atomicfile.WriteFile(path, nil, 0o600); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &metricsLog{path: path, f: f}, nil
}

// truncateMetrics rewrites the log (atomically) keeping the lines of steps
// up to keepThrough; a torn last line from a killed process goes too.
func truncateMetrics(path string, keepThrough int) error {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var kept bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var r record
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Step > keepThrough || (r.Step == keepThrough && r.Final) {
			continue
		}
		kept.Write(sc.Bytes())
		kept.WriteByte('\n')
	}
	return atomicfile.WriteFile(path, kept.Bytes(), 0o600)
}

func (m *metricsLog) add(r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := m.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", m.path, err)
	}
	return nil
}

func (m *metricsLog) sync() error { return m.f.Sync() }

func (m *metricsLog) close() error {
	if m == nil || m.f == nil {
		return nil
	}
	return m.f.Close()
}

// readMetrics returns the records of a metrics.jsonl (for tests and summaries).
func readMetrics(path string) ([]record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []record
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}
