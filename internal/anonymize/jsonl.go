package anonymize

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strconv"
	"sync"
)

// StreamOptions configures Engine.Stream.
type StreamOptions struct {
	Fields  []string // fields to anonymize (default ["text"]); a list of {"content": ...} messages works too
	Spans   bool     // write {"id","spans"} instead of the anonymized record
	Workers int      // parallel workers (default GOMAXPROCS)
}

// Report counts what was found. It never holds a value.
type Report struct {
	Records  int            `json:"records"`
	Changed  int            `json:"records_changed"`
	Entities map[string]int `json:"entities"`
	Total    int            `json:"entities_total"`
}

func (r *Report) add(spans []Span) {
	for _, s := range spans {
		r.Entities[s.Type]++
		r.Total++
	}
}

// Types returns the entity types in the report, sorted.
func (r *Report) Types() []string {
	var ts []string
	for t := range r.Entities {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

type job struct {
	line []byte
	n    int
	out  []byte
	sp   []Span
	err  error
	done chan struct{}
}

// Stream anonymizes JSONL from r to w, one record per line, in order,
// using several workers. Errors name the line, never its content.
func (e *Engine) Stream(ctx context.Context, r io.Reader, w io.Writer, o StreamOptions) (*Report, error) {
	if len(o.Fields) == 0 {
		o.Fields = []string{"text"}
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	rep := &Report{Entities: map[string]int{}}
	queue := make(chan *job, workers*8)
	work := make(chan *job, workers*8)
	var readErr error
	go func() {
		defer close(queue)
		defer close(work)
		br := bufio.NewReaderSize(r, 1<<20)
		for n := 1; ; n++ {
			line, err := br.ReadBytes('\n')
			if len(bytes.TrimSpace(line)) > 0 {
				j := &job{line: line, n: n, done: make(chan struct{})}
				select {
				case queue <- j:
				case <-ctx.Done():
					return
				}
				work <- j
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				readErr = err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				j.out, j.sp, j.err = e.record(j.line, j.n, o)
				close(j.done)
			}
		}()
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var firstErr error
	for j := range queue {
		<-j.done
		if firstErr != nil {
			continue
		}
		if j.err != nil {
			firstErr = j.err
			continue
		}
		rep.Records++
		if len(j.sp) > 0 {
			rep.Changed++
		}
		rep.add(j.sp)
		if _, err := bw.Write(j.out); err != nil {
			firstErr = err
		}
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = readErr
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if err := bw.Flush(); firstErr == nil {
		firstErr = err
	}
	return rep, firstErr
}

// record handles one JSONL line, keeping every other field as it is and
// the keys in their order.
func (e *Engine) record(line []byte, n int, o StreamOptions) ([]byte, []Span, error) {
	keys, vals, err := splitObject(line)
	if err != nil {
		return nil, nil, fmt.Errorf("input line %d: not a JSON object (%v)", n, errClass(err))
	}
	doc := e.NewDocument()
	var all []Span
	type fieldSpans struct {
		field string
		spans []Span
	}
	var perField []fieldSpans
	for _, f := range o.Fields {
		k := indexOf(keys, f)
		if k < 0 {
			continue
		}
		v := vals[k]
		var s string
		if json.Unmarshal(v, &s) == nil {
			out, sp := doc.Anonymize(s)
			all = append(all, sp...)
			perField = append(perField, fieldSpans{f, sp})
			vals[k] = marshal(out)
			continue
		}
		var msgs []map[string]json.RawMessage
		if json.Unmarshal(v, &msgs) == nil {
			changed := false
			for _, m := range msgs {
				if err := json.Unmarshal(m["content"], &s); err != nil {
					continue
				}
				out, sp := doc.Anonymize(s)
				all = append(all, sp...)
				if len(sp) > 0 {
					m["content"] = marshal(out)
					changed = true
				}
			}
			if changed {
				vals[k] = marshalMsgs(v, msgs)
			}
		}
	}
	var b bytes.Buffer
	if o.Spans {
		b.WriteString(`{"id":`)
		if k := indexOf(keys, "id"); k >= 0 {
			b.Write(vals[k])
		} else {
			b.WriteString(strconv.Itoa(n))
		}
		b.WriteString(`,"spans":[`)
		first := true
		for _, fs := range perField {
			for _, s := range fs.spans {
				if !first {
					b.WriteByte(',')
				}
				first = false
				fmt.Fprintf(&b, `{"start":%d,"end":%d,"type":%q,"score":%.2f`, s.Start, s.End, s.Type, s.Score)
				if len(o.Fields) > 1 {
					fmt.Fprintf(&b, `,"field":%s`, marshal(fs.field))
				}
				b.WriteByte('}')
			}
		}
		b.WriteString("]}\n")
		return b.Bytes(), all, nil
	}
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(marshal(k))
		b.WriteByte(':')
		b.Write(vals[i])
	}
	b.WriteString("}\n")
	return b.Bytes(), all, nil
}

func indexOf(keys []string, k string) int {
	for i, x := range keys {
		if x == k {
			return i
		}
	}
	return -1
}

// marshal encodes a string without HTML escaping, so "<PERSON_1>" stays
// readable in the output.
func marshal(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return json.RawMessage(`null`)
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// marshalMsgs re-encodes a message list, keeping each message's key order.
func marshalMsgs(orig json.RawMessage, msgs []map[string]json.RawMessage) json.RawMessage {
	var raws []json.RawMessage
	if json.Unmarshal(orig, &raws) != nil || len(raws) != len(msgs) {
		return marshal(msgs)
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, r := range raws {
		if i > 0 {
			b.WriteByte(',')
		}
		keys, vals, err := splitObject(r)
		if err != nil {
			b.Write(r)
			continue
		}
		b.WriteByte('{')
		for k, key := range keys {
			if k > 0 {
				b.WriteByte(',')
			}
			b.Write(marshal(key))
			b.WriteByte(':')
			if nv, ok := msgs[i][key]; ok {
				b.Write(nv)
			} else {
				b.Write(vals[k])
			}
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.Bytes()
}

// splitObject returns the keys and raw values of one JSON object in order.
func splitObject(line []byte) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("not an object")
	}
	var keys []string
	var vals []json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
		vals = append(vals, raw)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	if dec.More() {
		return nil, nil, fmt.Errorf("trailing data")
	}
	return keys, vals, nil
}

// errClass describes a JSON error without quoting the input.
func errClass(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return "unexpected " + e.Value
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return "truncated"
	}
	return "invalid JSON"
}
