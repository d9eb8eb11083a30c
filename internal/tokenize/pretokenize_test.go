package tokenize

import (
	"regexp"
	"slices"
	"testing"
	"unicode/utf8"
)

// refRE is GPT-2's pattern for Go's regexp (leftmost-first like the
// reference's engines) with \s spelled out as Unicode White_Space (Go's \s
// lacks even \v), minus the
// look-ahead branch \s+(?!\S), which refSplit emulates.
var refRE = regexp.MustCompile(`^(?:'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\x0b\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\p{L}\p{N}]+|[\s\x0b\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]+)`)

// refSplit is an independent pre-tokenizer: regexp matches, with a white-space
// run followed by a non-space giving back its last character (\s+(?!\S)).
func refSplit(s string) []string {
	var words []string
	for i := 0; i < len(s); {
		m := refRE.FindString(s[i:])
		if m == "" {
			panic("pattern matched nothing")
		}
		if c, _ := classAt(s, i); c == clsSpace && i+len(m) < len(s) && !(s[i] == ' ' && len(m) > 1 && notSpace(m[1:])) {
			if _, n := utf8.DecodeLastRuneInString(m); n < len(m) {
				m = m[:len(m)-n]
			}
		}
		words = append(words, m)
		i += len(m)
	}
	return words
}

// notSpace reports whether w's first character is not white space (the
// " ?X+" branches matched rather than the white-space one).
func notSpace(w string) bool { c, _ := classAt(w, 0); return c != clsSpace }

func split(s string) []string {
	var words []string
	for i := 0; i < len(s); {
		j := gpt2Next(s, i)
		words = append(words, s[i:j])
		i = j
	}
	return words
}

func TestPreTokenizerMatchesRegexp(t *testing.T) {
	initClasses()
	tests := []struct {
		in   string
		want []string
	}{
		{"a\n\nb", []string{"a", "\n", "\n", "b"}},
		{"Hello  world", []string{"Hello", " ", " world"}},
		{"x \u00a0 y", []string{"x", " \u00a0", " y"}},
		{"it's I'M they'll", []string{"it", "'s", " I", "'", "M", " they", "'ll"}},
		{"?'s 's", []string{"?'", "s", " '", "s"}},
		{"end  ", []string{"end", "  "}},
		{"2000 x१२३", []string{"2000", " x", "१२३"}},
	}
	for _, tc := range tests {
		if got := split(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("split(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := refSplit(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("refSplit(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, c := range readGolden(t, "golden_corpus.jsonl.gz") {
		if a, b := split(c.Text), refSplit(c.Text); !slices.Equal(a, b) {
			t.Fatalf("%.80q: split %q, regexp %q", c.Text, a, b)
		}
	}
}
