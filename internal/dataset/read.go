package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

// ReadOptions say which fields hold a record's content.
type ReadOptions struct {
	TextField       string    `json:"text_field,omitempty"`   // default "text"
	PromptField     string    `json:"prompt_field,omitempty"` // with CompletionField: instruction data
	CompletionField string    `json:"completion_field,omitempty"`
	MessagesField   string    `json:"messages_field,omitempty"` // chat data: a list of {role, content}
	IDField         string    `json:"id_field,omitempty"`       // default "id"; records without one get "<file>:<line>"
	GroupBy         string    `json:"group_by,omitempty"`       // field whose value keeps records together in one split
	Paragraphs      bool      `json:"paragraphs,omitempty"`     // .txt: one record per blank-line-separated paragraph
	StdinFormat     string    `json:"stdin_format,omitempty"`   // format of "-": jsonl (default), csv or txt
	Stdin           io.Reader `json:"-"`
}

func (o ReadOptions) textField() string {
	if o.TextField == "" {
		return "text"
	}
	return o.TextField
}

func (o ReadOptions) idField() string {
	if o.IDField == "" {
		return "id"
	}
	return o.IDField
}

// Validate checks that the field options make sense together.
func (o ReadOptions) Validate() error {
	if (o.PromptField == "") != (o.CompletionField == "") {
		return fmt.Errorf("--prompt-field and --completion-field go together")
	}
	if o.PromptField != "" && o.MessagesField != "" {
		return fmt.Errorf("--messages-field cannot be combined with --prompt-field")
	}
	return nil
}

// Kind is the kind of record these options produce.
func (o ReadOptions) Kind() Kind {
	switch {
	case o.MessagesField != "":
		return KindChat
	case o.PromptField != "":
		return KindPromptCompletion
	}
	return KindText
}

// BadRecord locates a record that could not be read; never its content.
type BadRecord struct {
	File   string `json:"file"`
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
}

// BadRecordError is returned for a malformed record; with
// --on-bad-record skip the caller counts it and goes on.
type BadRecordError struct{ BadRecord }

func (e *BadRecordError) Error() string {
	return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Reason)
}

// FieldError is a missing field: always fatal, since every later record of
// the file would fail the same way.
type FieldError struct {
	File, Field string
	Line        int64
	Have        []string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s line %d: field %q not found (fields: %s); choose one with --text-field, --prompt-field/--completion-field or --messages-field",
		e.File, e.Line, e.Field, strings.Join(e.Have, ", "))
}

// Input is one file found among the inputs, with what reading it produced.
type Input struct {
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
	Bytes   int64  `json:"bytes"`
	Records int64  `json:"records"`
	Bad     int64  `json:"bad_records"`
}

// ExpandInputs lists the files behind paths (directories are walked in
// name order; only .txt, .jsonl, .json, .csv, .parquet and their .gz forms).
func ExpandInputs(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if p == "-" {
			out = append(out, p)
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			if formatOf(p) == "" {
				return nil, fmt.Errorf("%s: unknown format (want .txt, .jsonl, .csv or .parquet, optionally .gz)", p)
			}
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && strings.HasPrefix(d.Name(), ".") && q != p {
				return filepath.SkipDir
			}
			if !d.IsDir() && formatOf(q) != "" && !strings.HasPrefix(d.Name(), ".") {
				found = append(found, q)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no .txt, .jsonl, .csv or .parquet files in this directory", p)
		}
		out = append(out, found...)
	}
	return out, nil
}

func formatOf(p string) string {
	p = strings.TrimSuffix(strings.ToLower(p), ".gz")
	switch filepath.Ext(p) {
	case ".txt", ".text", ".md":
		return "txt"
	case ".jsonl", ".ndjson", ".json":
		return "jsonl"
	case ".csv":
		return "csv"
	case ".parquet":
		return "parquet"
	}
	return ""
}

// ReadFile reads one input, calling fn for every record and bad for every
// malformed one (bad may return an error to stop). It fills in.SHA256 from
// the raw bytes as they are read.
func ReadFile(ctx context.Context, path string, o ReadOptions, in *Input, fn func(Record) error, bad func(BadRecord) error) error {
	format := formatOf(path)
	var raw io.Reader
	name := path
	h := sha256.New()
	if path == "-" {
		name = "<stdin>"
		format = o.StdinFormat
		if format == "" {
			format = "jsonl"
		}
		raw = o.Stdin
		if raw == nil {
			raw = os.Stdin
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		raw = f
	}
	counted := &countingReader{r: raw, h: h}
	var r io.Reader = counted
	finish := func() {
		in.SHA256 = hex.EncodeToString(h.Sum(nil))
		in.Bytes = counted.n
	}
	if strings.HasSuffix(strings.ToLower(path), ".gz") {
		gz, err := gzip.NewReader(counted)
		if err != nil {
			return fmt.Errorf("%s: not a gzip file: %w", name, err)
		}
		defer gz.Close()
		r = gz
	}
	count := func(rec Record) error {
		in.Records++
		return fn(rec)
	}
	onBad := func(b BadRecord) error {
		in.Bad++
		return bad(b)
	}
	var err error
	switch format {
	case "jsonl":
		err = readJSONL(ctx, name, r, o, count, onBad)
	case "csv":
		err = readCSV(ctx, name, r, o, count, onBad)
	case "txt":
		err = readText(ctx, name, r, o, count, onBad)
	case "parquet":
		if path == "-" {
			return fmt.Errorf("parquet cannot be read from stdin; give a file")
		}
		// Parquet needs random access: hash the file first, then read it.
		if _, err := io.Copy(io.Discard, counted); err != nil {
			return err
		}
		err = readParquet(ctx, path, o, count, onBad)
	default:
		return fmt.Errorf("%s: unknown format %q", name, format)
	}
	if err == nil {
		// Drain whatever a reader left (e.g. trailing bytes) so the hash covers the file.
		io.Copy(io.Discard, counted)
	}
	finish()
	return err
}

// ReadInputs reads every file behind paths (as ExpandInputs lists them) and
// calls fn for each record. It is for callers without a bad-record policy
// (eval reading a held-out file): the first malformed record is an error
// naming its file and line.
func ReadInputs(ctx context.Context, paths []string, o ReadOptions, fn func(Record) error) error {
	if err := o.Validate(); err != nil {
		return err
	}
	files, err := ExpandInputs(paths)
	if err != nil {
		return err
	}
	for _, path := range files {
		var in Input
		err := ReadFile(ctx, path, o, &in, fn, func(b BadRecord) error { return &BadRecordError{b} })
		if err != nil {
			return err
		}
	}
	return nil
}

type countingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	return n, err
}

// readLines calls fn with each line (without its newline) and its 1-based
// number; lines of any length are accepted.
func readLines(ctx context.Context, r io.Reader, fn func(line []byte, n int64) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var n int64
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			continue
		}
		line := chunk
		if long != nil {
			long = append(long, chunk...)
			line = long
		}
		if len(line) > 0 || err == nil {
			n++
			if n%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if e := fn(bytes.TrimRight(line, "\r\n"), n); e != nil {
				return e
			}
		}
		long = long[:0:0]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func readJSONL(ctx context.Context, name string, r io.Reader, o ReadOptions, fn func(Record) error, bad func(BadRecord) error) error {
	return readLines(ctx, r, func(line []byte, n int64) error {
		if len(bytes.TrimSpace(line)) == 0 {
			return nil
		}
		if !utf8.Valid(line) {
			return bad(BadRecord{name, n, "invalid UTF-8"})
		}
		obj, ok := splitObject(line)
		if !ok {
			if err := json.Unmarshal(line, &obj); err != nil {
				return bad(BadRecord{name, n, "malformed JSON: " + jsonReason(err)})
			}
		}
		rec, err := fromFields(name, n, o, func(k string) (any, bool) {
			v, ok := obj[k]
			if !ok {
				return nil, false
			}
			return v, true
		}, func() []string { return keysOf(obj) })
		if err != nil {
			return asBad(err, bad)
		}
		return fn(rec)
	})
}

// jsonReason describes a JSON error without quoting the input.
func jsonReason(err error) string {
	if strings.Contains(err.Error(), "unexpected end") {
		return "truncated"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "not a JSON object"
	}
	if strings.Contains(err.Error(), "unexpected end") {
		return "truncated"
	}
	return "invalid"
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fromFields builds a record from a field getter. Values are JSON raw
// messages (JSONL) or plain strings (CSV, Parquet).
func fromFields(name string, line int64, o ReadOptions, get func(string) (any, bool), have func() []string) (Record, error) {
	rec := Record{Source: name, Line: line}
	str := func(field string, required bool) (string, error) {
		v, ok := get(field)
		if !ok {
			if required {
				return "", &FieldError{File: name, Line: line, Field: field, Have: have()}
			}
			return "", nil
		}
		switch x := v.(type) {
		case string:
			return x, nil
		case json.RawMessage:
			// The line was validated when it was split into fields, so a
			// quoted value without escapes is its own content.
			if len(x) >= 2 && x[0] == '"' && bytes.IndexByte(x, '\\') < 0 {
				return string(x[1 : len(x)-1]), nil
			}
			var s string
			if err := json.Unmarshal(x, &s); err == nil {
				return s, nil
			}
			var num json.Number
			if err := json.Unmarshal(x, &num); err == nil && !required {
				return num.String(), nil
			}
			if string(x) == "null" && !required {
				return "", nil
			}
			return "", &BadRecordError{BadRecord{name, line, fmt.Sprintf("field %q is not a string", field)}}
		}
		return fmt.Sprint(v), nil
	}
	var err error
	if rec.ID, err = str(o.idField(), false); err != nil {
		return rec, err
	}
	if rec.ID == "" {
		rec.ID = fmt.Sprintf("%s:%d", filepath.Base(name), line)
	}
	if o.GroupBy != "" {
		if rec.Group, err = str(o.GroupBy, true); err != nil {
			return rec, err
		}
	}
	switch o.Kind() {
	case KindText:
		rec.Text, err = str(o.textField(), true)
	case KindPromptCompletion:
		if rec.Prompt, err = str(o.PromptField, true); err == nil {
			rec.Completion, err = str(o.CompletionField, true)
		}
	case KindChat:
		v, ok := get(o.MessagesField)
		if !ok {
			return rec, &FieldError{File: name, Line: line, Field: o.MessagesField, Have: have()}
		}
		var raw []byte
		switch x := v.(type) {
		case json.RawMessage:
			raw = x
		case string:
			raw = []byte(x)
		}
		if json.Unmarshal(raw, &rec.Messages) != nil || len(rec.Messages) == 0 {
			return rec, &BadRecordError{BadRecord{name, line, fmt.Sprintf("field %q is not a non-empty list of role/content objects", o.MessagesField)}}
		}
	}
	return rec, err
}

func readCSV(ctx context.Context, name string, r io.Reader, o ReadOptions, fn func(Record) error, bad func(BadRecord) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s line 1: cannot read the CSV header: %v", name, csvReason(err))
	}
	header = append([]string(nil), header...)
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimPrefix(h, "\ufeff")] = i
	}
	cr.FieldsPerRecord = len(header)
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				if errors.Is(pe.Err, csv.ErrFieldCount) {
					if e := bad(BadRecord{name, int64(pe.StartLine), fmt.Sprintf("%d columns, header has %d", len(row), len(header))}); e != nil {
						return e
					}
					continue
				}
				// A broken quote swallows the rest of the file: report and stop reading it.
				return bad(BadRecord{name, int64(pe.StartLine), csvReason(err)})
			}
			return err
		}
		line, _ := cr.FieldPos(0)
		valid := true
		for _, f := range row {
			if !utf8.ValidString(f) {
				valid = false
			}
		}
		if !valid {
			if e := bad(BadRecord{name, int64(line), "invalid UTF-8"}); e != nil {
				return e
			}
			continue
		}
		rec, err := fromFields(name, int64(line), o, func(k string) (any, bool) {
			i, ok := col[k]
			if !ok {
				return nil, false
			}
			return row[i], true
		}, func() []string { return header })
		if err != nil {
			if err := asBad(err, bad); err != nil {
				return err
			}
			continue
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return "unreadable"
}

func readText(ctx context.Context, name string, r io.Reader, o ReadOptions, fn func(Record) error, bad func(BadRecord) error) error {
	if !o.Paragraphs {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if !utf8.Valid(b) {
			return bad(BadRecord{name, 1, "invalid UTF-8"})
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return nil
		}
		return fn(Record{ID: filepath.Base(name), Text: string(b), Source: name, Line: 1})
	}
	var para []byte
	var start int64
	flush := func() error {
		if len(bytes.TrimSpace(para)) == 0 {
			para = para[:0]
			return nil
		}
		text := strings.TrimRight(string(para), "\n")
		para = para[:0]
		if !utf8.ValidString(text) {
			return bad(BadRecord{name, start, "invalid UTF-8"})
		}
		return fn(Record{ID: filepath.Base(name) + ":" + strconv.FormatInt(start, 10), Text: text, Source: name, Line: start})
	}
	err := readLines(ctx, r, func(line []byte, n int64) error {
		if len(bytes.TrimSpace(line)) == 0 {
			return flush()
		}
		if len(para) == 0 {
			start = n
		}
		para = append(append(para, line...), '\n')
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

func readParquet(ctx context.Context, path string, o ReadOptions, fn func(Record) error, bad func(BadRecord) error) error {
	f, pf, err := openParquet(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var have []string
	for _, fld := range pf.Schema().Fields() {
		have = append(have, fld.Name())
	}
	r := parquet.NewReader(pf)
	defer r.Close()
	for n := int64(1); ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		row := map[string]any{}
		if err := r.Read(&row); err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("%s row %d: %v", path, n, err)
		}
		rec, err := fromFields(path, n, o, func(k string) (any, bool) {
			v, ok := row[k]
			if !ok {
				return nil, false
			}
			switch x := v.(type) {
			case []byte:
				return string(x), true
			case nil:
				return "", true
			case []any:
				b, _ := json.Marshal(x)
				return json.RawMessage(b), true
			}
			return v, true
		}, func() []string { return have })
		if err != nil {
			if err := asBad(err, bad); err != nil {
				return err
			}
			continue
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// asBad turns a malformed-record error into a call of bad; other errors
// (a missing field) stay fatal.
func asBad(err error, bad func(BadRecord) error) error {
	var be *BadRecordError
	if errors.As(err, &be) {
		return bad(be.BadRecord)
	}
	return err
}
