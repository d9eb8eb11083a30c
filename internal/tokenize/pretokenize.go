package tokenize

import (
	"sync"
	"unicode"
	"unicode/utf8"
)

// preTokenizer splits text into the words BPE runs on. It is the only part
// that differs between byte-level BPE families (Llama-3, Qwen2 and SmolLM2
// group digits differently), so it is a value that can be swapped.
type preTokenizer struct {
	// next returns the end of the word starting at s[i]; it may look at
	// bytes beyond any chunk end, as the regex it replaces would.
	next func(s string, i int) int
	// boundary reports whether every split of s has a word starting at p,
	// whatever precedes p: text can be cut there and encoded in parallel.
	boundary func(s string, p int) bool
}

// gpt2PreTokenizer is GPT-2's pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// written out by hand: Go's regexp has no look-ahead, and its \s is ASCII
// only while the reference's is Unicode White_Space.
var gpt2PreTokenizer = preTokenizer{next: gpt2Next, boundary: gpt2Boundary}

// Character classes of the pattern.
const (
	clsOther  uint8 = iota // [^\s\p{L}\p{N}], and bytes that are not UTF-8
	clsLetter              // \p{L}
	clsNumber              // \p{N}
	clsSpace               // \s (Unicode White_Space)
)

var asciiClass = func() (c [utf8.RuneSelf]uint8) {
	for b := 0; b < utf8.RuneSelf; b++ {
		switch {
		case b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z':
			c[b] = clsLetter
		case b >= '0' && b <= '9':
			c[b] = clsNumber
		case b == ' ' || b >= '\t' && b <= '\r':
			c[b] = clsSpace
		}
	}
	return c
}()

// classAt returns the class and byte length of the character at s[i]. An
// invalid UTF-8 byte is a one-byte character of class other, so that any
// byte string round-trips.
func classAt(s string, i int) (uint8, int) {
	if b := s[i]; b < utf8.RuneSelf {
		return asciiClass[b], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if n == 1 {
		return clsOther, 1 // not UTF-8
	}
	if r < 1<<16 {
		return (*bmpClass)[r], n
	}
	return runeClass(r), n
}

func runeClass(r rune) uint8 {
	switch {
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	case unicode.IsSpace(r): // exactly White_Space, like \s in the reference
		return clsSpace
	}
	return clsOther
}

// bmpClass caches runeClass for the Basic Multilingual Plane; Indian
// scripts and CJK text classify several times faster than through the
// unicode range tables. It is built with the first tokenizer.
var (
	bmpClass     *[1 << 16]uint8
	bmpClassOnce sync.Once
)

func initClasses() {
	bmpClassOnce.Do(func() {
		var c [1 << 16]uint8
		for r := range c {
			c[r] = runeClass(rune(r))
		}
		bmpClass = &c
	})
}

func gpt2Next(s string, i int) int {
	// 's 't 're 've 'm 'll 'd (ASCII apostrophe, lower case only)
	if s[i] == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	cls, n := classAt(s, i)
	j := i + n
	if s[i] == ' ' && j < len(s) {
		// " ?X+": a single space joins the letters, digits or symbols after it.
		if c, m := classAt(s, j); c != clsSpace {
			cls, j = c, j+m
		}
	}
	if cls != clsSpace {
		for j < len(s) {
			if b := s[j]; b < utf8.RuneSelf {
				if asciiClass[b] != cls {
					break
				}
				j++
				continue
			}
			c, m := classAt(s, j)
			if c != cls {
				break
			}
			j += m
		}
		return j
	}
	// \s+(?!\S)|\s+: a run of white space leaves its last character to the
	// word after it (where a space becomes that word's prefix), unless the
	// run ends the text or is one character long.
	last := i
	for j < len(s) {
		c, m := classAt(s, j)
		if c != clsSpace {
			if last == i {
				return j
			}
			return last
		}
		last = j
		j += m
	}
	return j
}

// gpt2Boundary: after a newline and before anything but white space, or
// between an ASCII letter and " " + ASCII letter, no word of the pattern can
// span p and the word starting at p does not depend on what precedes it.
func gpt2Boundary(s string, p int) bool {
	if p <= 0 || p >= len(s) {
		return p == 0 || p == len(s)
	}
	if s[p-1] == '\n' {
		c, _ := classAt(s, p)
		return c != clsSpace
	}
	return s[p] == ' ' && p+1 < len(s) && isASCIILetter(s[p-1]) && isASCIILetter(s[p+1])
}

func isASCIILetter(b byte) bool { return b < utf8.RuneSelf && asciiClass[b] == clsLetter }
