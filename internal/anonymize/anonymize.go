// Package anonymize finds personal data in text (Detect) and replaces it
// (operators), reporting counts by type and never the values.
package anonymize

import (
	"regexp"
	"sort"
)

// Span is one detected entity: Text[Start:End] in UTF-8 byte offsets.
type Span struct {
	Start int     `json:"start"`
	End   int     `json:"end"`
	Type  string  `json:"type"`
	Score float64 `json:"score"`
}

// Engine detects and replaces personal data.
type Engine struct{}

// Default returns an engine with every built-in recognizer and the default
// operator (tag) for every type.
func Default() *Engine { return &Engine{} }

// SEED IMPLEMENTATION: the anonymizer issue replaces this with the full
// recognizer table; it exists so that prepare can be wired end to end.
var emailRE = regexp.MustCompile(`[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}`)

// Detect returns the entities in text, sorted by start, not overlapping.
func (e *Engine) Detect(text string) []Span {
	var spans []Span
	for _, m := range emailRE.FindAllStringIndex(text, -1) {
		spans = append(spans, Span{Start: m[0], End: m[1], Type: "EMAIL", Score: 1})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].Start < spans[j].Start })
	return spans
}

// Anonymize replaces every detected entity and returns the new text and the
// spans found (offsets into the original text).
func (e *Engine) Anonymize(text string) (string, []Span) {
	spans := e.Detect(text)
	if len(spans) == 0 {
		return text, nil
	}
	out := make([]byte, 0, len(text))
	prev := 0
	for _, s := range spans {
		out = append(out, text[prev:s.Start]...)
		out = append(out, "<"+s.Type+">"...)
		prev = s.End
	}
	out = append(out, text[prev:]...)
	return string(out), spans
}
