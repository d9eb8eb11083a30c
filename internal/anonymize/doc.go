package anonymize

import (
	"encoding/binary"
	"strings"
	"sync"
	"unsafe"
)

// doc is one text being scanned, with an ASCII-lowercased copy for
// case-insensitive keyword search (same byte offsets: only A-Z change).
// Docs are pooled: their slices are reused so that scanning allocates
// little, which matters because the lexicon makes every GC cycle costly.
type doc struct {
	text       string
	lower      string
	lowerBuf   []byte
	runs       []numRun // digit runs, computed once and shared by the numeric recognizers
	groups     [][2]int // digit groups of all runs
	shields    [][2]int // IBAN-shaped regions the numeric recognizers leave alone
	tokens     [][2]int // alphanumeric runs holding a digit (eachToken)
	tokensDone bool
	cands      []numCand // numeric sub-runs (eachCand)
	candsDone  bool
	words      []word // person scanner's words
	hits       []keywordHit
	wcache     [4096]wcEntry // lexicon look-ups, kept across documents (the lexicon never changes)
	hitsDone   bool
	spans      []Span // candidates before resolution
	accepted   []Span // resolution scratch
	eng        *Engine
	cur        *recognizer
	emitFn     func(start, end int, score float64) // d.emit, bound once
}

var docPool = sync.Pool{New: func() any {
	d := new(doc)
	d.emitFn = d.emit
	return d
}}

func newDoc(text string) *doc {
	d := docPool.Get().(*doc)
	d.text = text
	d.lowerBuf = asciiLowerInto(d.lowerBuf[:0], text)
	d.lower = unsafe.String(unsafe.SliceData(d.lowerBuf), len(d.lowerBuf))
	if len(text) == 0 {
		d.lower = ""
	}
	d.runs, d.groups = findNumRuns(text, d.runs[:0], d.groups[:0])
	d.shields = d.shields[:0]
	d.tokens, d.tokensDone = d.tokens[:0], false
	d.cands, d.candsDone = d.cands[:0], false
	d.words = d.words[:0]
	d.hits, d.hitsDone = d.hits[:0], false
	d.spans = d.spans[:0]
	return d
}

// release returns the doc to the pool; nothing may refer to it afterwards.
func (d *doc) release() {
	if cap(d.lowerBuf) > 1<<20 {
		return // let very large buffers go
	}
	d.text, d.lower = "", ""
	d.eng, d.cur = nil, nil
	docPool.Put(d)
}

func asciiLowerInto(b []byte, s string) []byte {
	b = append(b, s...)
	// eight bytes at a time: set bit 5 of every byte in 'A'..'Z' (SWAR)
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		x := w &^ highs
		ge := x + (0x80-'A')*ones    // high bit set where byte >= 'A'
		gt := x + (0x80-'Z'-1)*ones  // high bit set where byte > 'Z'
		m := (ge &^ gt) &^ w & highs // in range and ASCII
		binary.LittleEndian.PutUint64(b[i:], w|m>>2)
	}
	for ; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return b
}

func asciiLower(s string) string {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			break
		}
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

const (
	cDigit = 1 << iota
	cUpper
	cLower
)

// charClass makes the byte tests one table load each: they run on every byte.
var charClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = cDigit
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = cUpper
		t[c+32] = cLower
	}
	return
}()

func isDigit(c byte) bool { return charClass[c]&cDigit != 0 }
func isUpper(c byte) bool { return charClass[c]&cUpper != 0 }
func isLower(c byte) bool { return charClass[c]&cLower != 0 }
func isAlpha(c byte) bool { return charClass[c]&(cUpper|cLower) != 0 }
func isAlnum(c byte) bool { return charClass[c] != 0 }
func isHex(c byte) bool   { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }

// at returns text[i] or 0 outside the text, so boundary checks need no
// length tests.
func (d *doc) at(i int) byte {
	if i < 0 || i >= len(d.text) {
		return 0
	}
	return d.text[i]
}

// wordBoundary reports whether [s,e) is not glued to ASCII letters or
// digits on either side.
func (d *doc) wordBoundary(s, e int) bool { return !isAlnum(d.at(s-1)) && !isAlnum(d.at(e)) }

// hasWord reports whether one of words (lower case, may contain spaces or
// punctuation) occurs as a whole word in d.lower[from:to].
func (d *doc) hasWord(from, to int, words []string) bool {
	if from < 0 {
		from = 0
	}
	if to > len(d.lower) {
		to = len(d.lower)
	}
	if from >= to {
		return false
	}
	hay := d.lower[from:to]
	for _, w := range words {
		for off := 0; off < len(hay); {
			i := strings.Index(hay[off:], w)
			if i < 0 {
				break
			}
			s := from + off + i
			e := s + len(w)
			okL := !isAlnum(w[0]) || !isAlnum(d.at(s-1))
			okR := !isAlnum(w[len(w)-1]) || !isAlnum(d.at(e))
			if okL && okR {
				return true
			}
			off += i + 1
		}
	}
	return false
}

// phraseSet finds the last of a set of lower-case words or phrases in a
// window by walking the window's words from the right and looking each up
// by the phrase's last word: one map look-up per word instead of one search
// per phrase.
type phraseSet struct {
	byLast map[string][]phrase
}

type phrase struct {
	text  string
	trail string // what follows the last word ("ph." -> ".")
}

func isWordByte(c byte) bool { return isAlnum(c) || c >= 0x80 }

func newPhraseSet(words []string) *phraseSet {
	ps := &phraseSet{byLast: map[string][]phrase{}}
	for _, w := range words {
		e := len(w)
		for e > 0 && !isWordByte(w[e-1]) {
			e--
		}
		s := e
		for s > 0 && isWordByte(w[s-1]) {
			s--
		}
		if s == e {
			continue
		}
		ps.byLast[w[s:e]] = append(ps.byLast[w[s:e]], phrase{w, w[e:]})
	}
	return ps
}

// last returns the end offset of the right-most phrase lying in
// d.lower[from:to], or -1.
func (ps *phraseSet) last(d *doc, from, to int) int {
	if ps == nil {
		return -1
	}
	from, to = max(from, 0), min(to, len(d.lower))
	lo := d.lower
	for i := to; i > from; {
		for i > from && !isWordByte(lo[i-1]) {
			i--
		}
		e := i
		for i > from && isWordByte(lo[i-1]) {
			i--
		}
		if e == i {
			break
		}
		for _, p := range ps.byLast[lo[i:e]] {
			pe := e + len(p.trail)
			ps0 := pe - len(p.text)
			if pe > to || ps0 < from || lo[ps0:pe] != p.text {
				continue
			}
			if isAlnum(p.text[0]) && isAlnum(d.at(ps0-1)) || isAlnum(p.text[len(p.text)-1]) && isAlnum(d.at(pe)) {
				continue
			}
			return pe
		}
	}
	return -1
}

// maxLine bounds how far line-oriented look-behinds search, so that a
// document without newlines stays linear.
const maxLine = 300

// lineStart returns the offset of the start of the line holding pos (at
// most maxLine bytes back).
func (d *doc) lineStart(pos int) int {
	from := max(0, pos-maxLine)
	i := strings.LastIndexByte(d.text[from:pos], '\n')
	if i < 0 {
		return from
	}
	return from + i + 1
}

// before returns the start of a window of at most n bytes before pos that
// does not cross a newline more than once (context rarely spans paragraphs).
func (d *doc) before(pos, n int) int {
	from := pos - n
	if from < 0 {
		from = 0
	}
	return from
}

// findIBANShapes returns the regions that look like an IBAN (country code,
// check digits, groups of up to four characters) whether or not the checksum
// holds: the digit groups inside are parts of one code, not phone numbers or
// Aadhaar numbers of their own.
func (d *doc) findShields() {
	t := d.text
	d.eachToken(func(i, e int) {
		if e-i < 4 || !isUpper(t[i]) || !isUpper(t[i+1]) || !isDigit(t[i+2]) || !isDigit(t[i+3]) {
			return
		}
		if e != i+4 || e >= len(t) || (t[e] != ' ' && t[e] != '-') {
			return
		}
		sep := t[e]
		p, groups := e, 0
		for p < len(t) && p-i < 48 && t[p] == sep {
			q := p + 1
			for q < len(t) && q-p <= 5 && isAlnum(t[q]) {
				q++
			}
			if q == p+1 || q-p > 5 {
				break
			}
			groups++
			p = q
		}
		if groups >= 3 {
			d.shields = append(d.shields, [2]int{i, p})
		}
	})
}

func (d *doc) shielded(s, e int) bool {
	for _, r := range d.shields {
		if s < r[1] && r[0] < e {
			return true
		}
	}
	return false
}
