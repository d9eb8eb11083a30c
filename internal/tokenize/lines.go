package tokenize

import (
	"bufio"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
)

// LineStats counts what EncodeLines read.
type LineStats struct {
	Lines, Bytes, Tokens int64
}

// Lines are encoded in batches of about this many bytes, in parallel, so
// memory stays bounded whatever the input's length.
const lineBatchBytes = 1 << 20

// EncodeLines encodes r line by line (without the "\n" or "\r\n" ending) and
// calls emit with each line's ids, in input order. emit must not keep ids.
func (t *Tokenizer) EncodeLines(ctx context.Context, r io.Reader, emit func(ids []int32) error) (LineStats, error) {
	var st LineStats
	br := bufio.NewReaderSize(r, 64<<10)
	workers := runtime.GOMAXPROCS(0)
	var (
		lines []string
		ids   [][]int32
		size  int
	)
	flush := func() error {
		if len(lines) == 0 {
			return nil
		}
		ids = ids[:0]
		for range lines {
			ids = append(ids, nil)
		}
		var wg sync.WaitGroup
		for w := 0; w < min(workers, len(lines)); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := t.getEncoder()
				defer t.putEncoder(e)
				for i := w; i < len(lines); i += workers {
					ids[i] = e.encodeRange(nil, lines[i], 0, len(lines[i]))
				}
			}()
		}
		wg.Wait()
		for _, l := range ids {
			st.Lines++
			st.Tokens += int64(len(l))
			if err := emit(l); err != nil {
				return err
			}
		}
		lines, size = lines[:0], 0
		return ctx.Err()
	}
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			st.Bytes += int64(len(line))
			line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
			lines = append(lines, line)
			size += len(line)
			if size >= lineBatchBytes {
				if ferr := flush(); ferr != nil {
					return st, ferr
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return st, flush()
		}
		if err != nil {
			return st, err
		}
	}
}
