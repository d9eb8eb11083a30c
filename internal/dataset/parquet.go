package dataset

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
)

// The three layouts of a split file; a prepared directory uses one of them.
type textRow struct {
	ID     string `parquet:"id"`
	Text   string `parquet:"text"`
	Group  string `parquet:"group"`
	Source string `parquet:"source"`
	Line   int64  `parquet:"line"`
}

type promptRow struct {
	ID         string `parquet:"id"`
	Prompt     string `parquet:"prompt"`
	Completion string `parquet:"completion"`
	Group      string `parquet:"group"`
	Source     string `parquet:"source"`
	Line       int64  `parquet:"line"`
}

type chatRow struct {
	ID       string    `parquet:"id"`
	Messages []Message `parquet:"messages,list"`
	Group    string    `parquet:"group"`
	Source   string    `parquet:"source"`
	Line     int64     `parquet:"line"`
}

// rowsPerGroup bounds the rows buffered in memory before a row group is flushed.
const rowsPerGroup = 8192

type splitWriter struct {
	f    *os.File
	text *parquet.GenericWriter[textRow]
	pc   *parquet.GenericWriter[promptRow]
	chat *parquet.GenericWriter[chatRow]
	n    int
}

type splitWriters struct {
	kind Kind
	w    map[string]*splitWriter
}

func newSplitWriters(dir string, kind Kind) (*splitWriters, error) {
	ws := &splitWriters{kind: kind, w: map[string]*splitWriter{}}
	opts := []parquet.WriterOption{parquet.Compression(&parquet.Snappy), parquet.MaxRowsPerRowGroup(rowsPerGroup),
		parquet.CreatedBy("llmtune", "", "")}
	for _, s := range Splits {
		f, err := os.OpenFile(filepath.Join(dir, s+".parquet"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			ws.abort()
			return nil, err
		}
		sw := &splitWriter{f: f}
		switch kind {
		case KindText:
			sw.text = parquet.NewGenericWriter[textRow](f, opts...)
		case KindPromptCompletion:
			sw.pc = parquet.NewGenericWriter[promptRow](f, opts...)
		case KindChat:
			sw.chat = parquet.NewGenericWriter[chatRow](f, opts...)
		}
		ws.w[s] = sw
	}
	return ws, nil
}

func (ws *splitWriters) write(split string, r Record) error {
	sw := ws.w[split]
	var err error
	switch ws.kind {
	case KindText:
		_, err = sw.text.Write([]textRow{{r.ID, r.Text, r.Group, r.Source, r.Line}})
	case KindPromptCompletion:
		_, err = sw.pc.Write([]promptRow{{r.ID, r.Prompt, r.Completion, r.Group, r.Source, r.Line}})
	case KindChat:
		_, err = sw.chat.Write([]chatRow{{r.ID, r.Messages, r.Group, r.Source, r.Line}})
	}
	sw.n++
	if err != nil {
		return fmt.Errorf("writing %s.parquet: %w", split, err)
	}
	return nil
}

func (ws *splitWriters) close() error {
	for _, s := range Splits {
		sw := ws.w[s]
		var err error
		switch ws.kind {
		case KindText:
			err = sw.text.Close()
		case KindPromptCompletion:
			err = sw.pc.Close()
		case KindChat:
			err = sw.chat.Close()
		}
		if err == nil {
			err = sw.f.Close()
		}
		if err != nil {
			return fmt.Errorf("writing %s.parquet: %w", s, err)
		}
		sw.f = nil
	}
	return nil
}

func (ws *splitWriters) abort() {
	for _, sw := range ws.w {
		if sw.f != nil {
			sw.f.Close()
		}
	}
}

// ReadSplit reads a prepared directory's split (train, val or test).
func ReadSplit(dir, split string) ([]Record, error) {
	var out []Record
	err := ReadSplitFunc(dir, split, func(r Record) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// ReadSplitFunc streams a split's records to fn.
func ReadSplitFunc(dir, split string, fn func(Record) error) error {
	path := filepath.Join(dir, split+".parquet")
	f, pf, err := openParquet(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: no %s split here; is %s the output directory of 'llmtune prepare'?", path, split, dir)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	has := func(path ...string) bool { _, ok := pf.Schema().Lookup(path...); return ok }
	switch {
	case has("text"):
		return readRows(pf, path, fn, func(r textRow) Record {
			return Record{ID: r.ID, Text: r.Text, Group: r.Group, Source: r.Source, Line: r.Line}
		})
	case has("prompt"):
		return readRows(pf, path, fn, func(r promptRow) Record {
			return Record{ID: r.ID, Prompt: r.Prompt, Completion: r.Completion, Group: r.Group, Source: r.Source, Line: r.Line}
		})
	case has("messages", "list", "element", "content"), has("messages"):
		return readRows(pf, path, fn, func(r chatRow) Record {
			return Record{ID: r.ID, Messages: r.Messages, Group: r.Group, Source: r.Source, Line: r.Line}
		})
	}
	return fmt.Errorf("%s: no text, prompt or messages column; not written by 'llmtune prepare'", path)
}

func readRows[T any](pf *parquet.File, path string, fn func(Record) error, conv func(T) Record) error {
	r := parquet.NewGenericReader[T](pf)
	defer r.Close()
	buf := make([]T, 256)
	for {
		n, err := r.Read(buf)
		for _, row := range buf[:n] {
			if e := fn(conv(row)); e != nil {
				return e
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
	}
}

// openParquet opens a Parquet file for reading; the caller closes f.
func openParquet(path string) (f *os.File, pf *parquet.File, err error) {
	if f, err = os.Open(path); err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err == nil {
		pf, err = parquet.OpenFile(f, st.Size())
		if err != nil {
			err = fmt.Errorf("%s: not a readable Parquet file: %v", path, err)
		}
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, pf, nil
}
