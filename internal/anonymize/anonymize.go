// Package anonymize finds personal data in text (Detect) and replaces it
// (operators), reporting counts by type and never the values.
//
// Detection is a table of recognizers (recognizers.go): each one is a
// hand-written scanner with bounded look-ahead, an optional validator
// (checksum), context words that raise or lower its score and a base score.
// Every scanner is linear in the input, so Detect is too.
package anonymize

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Span is one detected entity: Text[Start:End] in UTF-8 byte offsets.
type Span struct {
	Start int     `json:"start"`
	End   int     `json:"end"`
	Type  string  `json:"type"`
	Score float64 `json:"score"`
}

// Engine detects and replaces personal data. It is immutable after New and
// safe for concurrent use.
type Engine struct {
	recognizers []*recognizer
	threshold   float64
	allow       map[string]bool
	deny        []denyEntry
	ops         map[string]operator
	defaultOp   operator
	key         []byte // pseudonym HMAC key; nil until a pseudonym operator needs it
}

type denyEntry struct {
	value string
	lower string // ASCII-lowered like doc.lower, so offsets match
	typ   string
}

var (
	defaultOnce   sync.Once
	defaultEngine *Engine
)

// Default returns an engine with every built-in recognizer and the default
// operator (tag) for every type.
func Default() *Engine {
	defaultOnce.Do(func() {
		e, err := New(Policy{})
		if err != nil {
			panic("anonymize: built-in policy rejected: " + err.Error()) // a bug, not bad input
		}
		defaultEngine = e
	})
	return defaultEngine
}

// New builds an engine from a policy (see policy.go).
func New(p Policy) (*Engine, error) {
	e := &Engine{threshold: 0.5, allow: map[string]bool{}, ops: map[string]operator{}}
	if p.Threshold > 0 {
		e.threshold = p.Threshold
	}
	disabled := map[string]bool{}
	for _, t := range p.Disable {
		disabled[strings.ToUpper(t)] = true
	}
	for _, r := range builtins() {
		if !disabled[r.Type] {
			e.recognizers = append(e.recognizers, r.compile())
		}
	}
	for i, c := range p.Recognizers {
		r, err := c.compile()
		if err != nil {
			return nil, fmt.Errorf("policy recognizer %d (%q): %w", i+1, c.Name, err)
		}
		e.recognizers = append(e.recognizers, r.compile())
	}
	for _, a := range p.Allow {
		e.allow[strings.ToLower(strings.TrimSpace(a))] = true
	}
	for _, d := range p.Deny {
		if strings.TrimSpace(d.Value) == "" {
			continue
		}
		typ := strings.ToUpper(d.Type)
		if typ == "" {
			typ = "DENY"
		}
		e.deny = append(e.deny, denyEntry{d.Value, asciiLower(d.Value), typ})
	}
	if err := e.setOperators(p); err != nil {
		return nil, err
	}
	return e, nil
}

// Types lists the entity types this engine can report.
func (e *Engine) Types() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range e.recognizers {
		if !seen[r.Type] {
			seen[r.Type] = true
			out = append(out, r.Type)
		}
	}
	return out
}

// emit records one candidate of the current recognizer, adjusted by its
// context. It is bound once per pooled doc (emitFn) so that Detect does not
// allocate a closure per call.
func (d *doc) emit(start, end int, score float64) {
	r, e := d.cur, d.eng
	if start < 0 || end > len(d.text) || start >= end {
		return
	}
	if score+r.Boost < e.threshold {
		return // no context could lift it
	}
	score += r.contextAdjust(d, start, end)
	if score > 1 {
		score = 1
	}
	if score < e.threshold {
		return
	}
	d.spans = append(d.spans, Span{Start: start, End: end, Type: r.Type, Score: score})
}

// Detect returns the entities in text, sorted by start, not overlapping.
// Overlapping candidates are resolved by score, then length, then position,
// then type name, so the result does not depend on recognizer order.
func (e *Engine) Detect(text string) []Span {
	d := newDoc(text)
	defer d.release()
	d.eng = e
	for _, r := range e.recognizers {
		d.cur = r
		r.scan(d, d.emitFn)
	}
	cands := d.spans
	for _, dn := range e.deny {
		for off := 0; ; {
			i := strings.Index(d.lower[off:], dn.lower)
			if i < 0 {
				break
			}
			s, en := off+i, off+i+len(dn.value)
			if d.wordBoundary(s, en) {
				cands = append(cands, Span{Start: s, End: en, Type: dn.typ, Score: 1.01})
			}
			off = en
		}
	}
	d.spans = cands
	return e.resolve(text, cands, d)
}

func (e *Engine) resolve(text string, cands []Span, d *doc) []Span {
	if len(cands) == 0 {
		return nil
	}
	slices.SortFunc(cands, func(a, b Span) int {
		switch {
		case a.Score != b.Score:
			return cmp.Compare(b.Score, a.Score)
		case a.End-a.Start != b.End-b.Start:
			return cmp.Compare(b.End-b.Start, a.End-a.Start)
		case a.Start != b.Start:
			return cmp.Compare(a.Start, b.Start)
		}
		return strings.Compare(a.Type, b.Type)
	})
	var out []Span
	if d != nil {
		out = d.accepted[:0] // scratch; the result is copied out below
	}
	for _, c := range cands {
		if len(e.allow) > 0 && e.allow[strings.ToLower(text[c.Start:c.End])] {
			continue
		}
		// out is kept sorted by start; find the neighbours of c.
		i := sort.Search(len(out), func(k int) bool { return out[k].Start >= c.Start })
		if i > 0 && out[i-1].End > c.Start {
			continue
		}
		if i < len(out) && out[i].Start < c.End {
			continue
		}
		out = append(out, Span{})
		copy(out[i+1:], out[i:])
		out[i] = c
	}
	if d != nil {
		d.accepted = out
		if len(out) == 0 {
			return nil
		}
		return append([]Span(nil), out...)
	}
	return out
}

// Anonymize replaces every detected entity and returns the new text and the
// spans found (offsets into the original text). Tags are numbered within
// this one call: call AnonymizeDoc to share numbering across fields.
func (e *Engine) Anonymize(text string) (string, []Span) {
	doc := e.NewDocument()
	return doc.Anonymize(text)
}

// Document carries per-document operator state (tag numbering), so that
// the several fields or messages of one record share "<PERSON_1>".
type Document struct {
	e    *Engine
	tags map[string]map[string]int // type -> normalised value -> number
}

// NewDocument starts a document whose tag numbering is shared by every
// Anonymize call on it.
func (e *Engine) NewDocument() *Document {
	return &Document{e: e, tags: map[string]map[string]int{}}
}

// Anonymize detects and replaces entities in one piece of the document.
func (doc *Document) Anonymize(text string) (string, []Span) {
	spans := doc.e.Detect(text)
	if len(spans) == 0 {
		return text, nil
	}
	var b strings.Builder
	b.Grow(len(text) + 8*len(spans))
	prev := 0
	for _, s := range spans {
		b.WriteString(text[prev:s.Start])
		b.WriteString(doc.replace(s.Type, text[s.Start:s.End]))
		prev = s.End
	}
	b.WriteString(text[prev:])
	return b.String(), spans
}
