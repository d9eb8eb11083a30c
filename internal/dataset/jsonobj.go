package dataset

import (
	"encoding/json"
	"unicode/utf8"
)

// splitObject splits a JSON object into its top-level fields without
// decoding their values: the common JSONL line, read at a fraction of
// encoding/json's cost. ok is false for anything it does not handle simply
// (escaped keys, malformed input, a line that is not an object); the caller
// then uses encoding/json, which also words the error. When ok is true the
// result equals what json.Unmarshal into map[string]json.RawMessage gives
// (FuzzSplitObject checks this). The values alias line.
func splitObject(line []byte) (map[string]json.RawMessage, bool) {
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return nil, false
	}
	obj := make(map[string]json.RawMessage, 8)
	i = skipSpace(line, i+1)
	if i < len(line) && line[i] == '}' {
		return obj, skipSpace(line, i+1) == len(line)
	}
	for {
		if i >= len(line) || line[i] != '"' {
			return nil, false
		}
		end, escaped, ok := scanString(line, i)
		// encoding/json rewrites escapes and invalid UTF-8 in keys.
		if !ok || escaped || !utf8.Valid(line[i+1:end-1]) {
			return nil, false
		}
		key := string(line[i+1 : end-1])
		i = skipSpace(line, end)
		if i >= len(line) || line[i] != ':' {
			return nil, false
		}
		i = skipSpace(line, i+1)
		if i >= len(line) {
			return nil, false
		}
		start := i
		switch line[i] {
		case '"':
			end, escaped, ok := scanString(line, i)
			// Escapes are checked by encoding/json; plain strings need only
			// the control-character check scanString made.
			if !ok || escaped && !json.Valid(line[i:end]) {
				return nil, false
			}
			i = end
		case '{', '[':
			end, ok := skipNested(line, i)
			if !ok || !json.Valid(line[i:end]) {
				return nil, false
			}
			i = end
		default:
			end := i
			for end < len(line) && !isValueEnd(line[end]) {
				end++
			}
			if end == i || !json.Valid(line[i:end]) {
				return nil, false
			}
			i = end
		}
		obj[key] = json.RawMessage(line[start:i])
		i = skipSpace(line, i)
		if i >= len(line) {
			return nil, false
		}
		switch line[i] {
		case ',':
			i = skipSpace(line, i+1)
		case '}':
			return obj, skipSpace(line, i+1) == len(line)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func isValueEnd(c byte) bool {
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// scanString finds the end (one past the closing quote) of the string that
// starts at b[i] == '"'; escaped says whether it holds a backslash.
func scanString(b []byte, i int) (end int, escaped, ok bool) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, escaped, true
		case c == '\\':
			escaped = true
			j++
		case c < 0x20:
			return 0, false, false
		}
	}
	return 0, false, false
}

// skipNested finds the end of the array or object that starts at b[i].
func skipNested(b []byte, i int) (int, bool) {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			end, _, ok := scanString(b, j)
			if !ok {
				return 0, false
			}
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, true
			}
		}
	}
	return 0, false
}
