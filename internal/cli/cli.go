// Package cli holds the conventions every subcommand shares: exit codes,
// where output goes (the result on stdout, as JSON with --json; diagnostics
// on stderr), and a progress bar shown only when stderr is a terminal.
package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Exit codes, documented in README.md.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitNothingToDo = 3
	ExitLocked      = 4 // another run holds the lock
	ExitNotPromoted = 5 // run finished but a gate kept the model from promotion
)

// ExitError carries the process exit code for an error.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Usagef returns an error that exits with code 2.
func Usagef(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// WithCode wraps err so that the process exits with code.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// CodeOf returns the exit code an error should produce.
func CodeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitFailure
}

// Output is where a subcommand writes. The zero value writes to os.Stdout
// and os.Stderr.
type Output struct {
	Stdout  io.Writer
	Stderr  io.Writer
	JSON    bool // one JSON result on stdout
	Quiet   bool // only warnings and errors on stderr
	Verbose bool // debug lines on stderr

	mu sync.Mutex
}

func (o *Output) stdout() io.Writer {
	if o.Stdout == nil {
		return os.Stdout
	}
	return o.Stdout
}

func (o *Output) stderr() io.Writer {
	if o.Stderr == nil {
		return os.Stderr
	}
	return o.Stderr
}

// Infof prints a diagnostic line on stderr unless --quiet.
func (o *Output) Infof(format string, args ...any) {
	if o.Quiet {
		return
	}
	o.line(format, args...)
}

// Debugf prints only with -v.
func (o *Output) Debugf(format string, args ...any) {
	if !o.Verbose {
		return
	}
	o.line(format, args...)
}

// Warnf always prints on stderr.
func (o *Output) Warnf(format string, args ...any) { o.line("warning: "+format, args...) }

func (o *Output) line(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.stderr(), format+"\n", args...)
}

// Result writes the command's result: v as one JSON document with --json,
// otherwise whatever human writes (if human is nil, nothing).
func (o *Output) Result(v any, human func(w io.Writer)) error {
	if o.JSON {
		enc := json.NewEncoder(o.stdout())
		return enc.Encode(v)
	}
	if human != nil {
		human(o.stdout())
	}
	return nil
}

// StderrIsTerminal reports whether progress bars make sense.
func (o *Output) StderrIsTerminal() bool {
	f, ok := o.stderr().(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Progress is a one-line progress bar on stderr. It draws nothing when stderr
// is not a terminal or with --quiet, so pipelines and cron logs stay clean.
type Progress struct {
	o       *Output
	label   string
	unit    string
	total   int64
	done    int64
	extra   string
	start   time.Time
	last    time.Time
	enabled bool
}

// NewProgress starts a bar; total <= 0 means unknown.
func (o *Output) NewProgress(label string, total int64, unit string) *Progress {
	return &Progress{o: o, label: label, unit: unit, total: total, start: time.Now(),
		enabled: !o.Quiet && !o.JSON && o.StderrIsTerminal()}
}

// Add advances the bar by n units.
func (p *Progress) Add(n int64) { p.Set(p.done + n) }

// Set moves the bar to n units.
func (p *Progress) Set(n int64) {
	p.done = n
	p.draw(false)
}

// SetExtra sets a short status shown after the rate (e.g. "loss 2.31").
// It must never contain record text.
func (p *Progress) SetExtra(s string) { p.extra = s }

// Finish draws the final state and ends the line.
func (p *Progress) Finish() { p.draw(true) }

func (p *Progress) draw(final bool) {
	if !p.enabled {
		return
	}
	now := time.Now()
	if !final && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.done) / el
	}
	bar, eta := "", ""
	if p.total > 0 {
		const width = 30
		frac := float64(p.done) / float64(p.total)
		if frac > 1 {
			frac = 1
		}
		n := int(frac * width)
		bar = "[" + repeat('=', n) + repeat(' ', width-n) + "] "
		if rate > 0 && p.done < p.total {
			eta = " ETA " + (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second).String()
		}
		bar += fmt.Sprintf("%d/%d ", p.done, p.total)
	} else {
		bar = fmt.Sprintf("%d ", p.done)
	}
	msg := fmt.Sprintf("\r%s %s%.1f %s/s%s", p.label, bar, rate, p.unit, eta)
	if p.extra != "" {
		msg += "  " + p.extra
	}
	msg += "\x1b[K"
	if final {
		msg += "\n"
	}
	p.o.mu.Lock()
	fmt.Fprint(p.o.stderr(), msg)
	p.o.mu.Unlock()
}

func repeat(c byte, n int) string {
	if n <= 0 {
		return ""
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
