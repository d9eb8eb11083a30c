package anonymize

import "strings"

// Recognizers that are driven by a field label or by an anchor (PIN/ZIP).

// keywords is a word list indexed by first byte, so that a document is
// searched for all of them in one pass.
type keywords struct {
	byFirst [256][]string
	second  [256][4]uint64 // bitset of the second bytes that follow each first byte
	kind    map[string]uint8
}

func newKeywords(lists ...[]string) *keywords {
	k := &keywords{kind: map[string]uint8{}}
	for i, words := range lists {
		for _, w := range words {
			k.byFirst[w[0]] = append(k.byFirst[w[0]], w)
			if len(w) > 1 {
				k.second[w[0]][w[1]>>6] |= 1 << (w[1] & 63)
			}
			k.kind[w] = uint8(i)
		}
	}
	return k
}

// at returns the longest keyword starting at i that ends on a word boundary.
func (k *keywords) at(d *doc, i int) string {
	best := ""
	for _, w := range k.byFirst[d.lower[i]] {
		if len(w) > len(best) && strings.HasPrefix(d.lower[i:], w) && !(isAlnum(w[len(w)-1]) && isAlnum(d.at(i+len(w)))) {
			best = w
		}
	}
	return best
}

type keywordHit struct {
	s, e int
	kind uint8
}

// fieldKeywords are the labels of the label-driven recognizers, found in
// one pass per document: 0 MRN, 1 date of birth.
var fieldKeywords = newKeywords(mrnWords, dobWords)

// keywordHits returns every whole-word occurrence of a field keyword (the
// longest at each position), computed once per document.
func (d *doc) keywordHits() []keywordHit {
	if d.hitsDone {
		return d.hits
	}
	d.hitsDone = true
	d.tokensDone = true // the same pass finds the alphanumeric tokens
	k := fieldKeywords
	lo := d.lower
	n := len(lo)
	for i := 0; i < n; {
		c := lo[i]
		if !isAlnum(c) {
			// between words: only keywords in other scripts start here
			if c >= 0x80 && k.byFirst[c] != nil {
				if best := k.at(d, i); best != "" {
					d.hits = append(d.hits, keywordHit{i, i + len(best), k.kind[best]})
					i += len(best)
					continue
				}
			}
			i++
			continue
		}
		// a word: remember it as a token when it holds a digit, and try the
		// keywords that start with its first two bytes
		e, dig := i, false
		for e < n && isAlnum(lo[e]) {
			if isDigit(lo[e]) {
				dig = true
			}
			e++
		}
		if dig {
			d.tokens = append(d.tokens, [2]int{i, e})
		}
		if k.byFirst[c] != nil && i+1 < n && k.second[c][lo[i+1]>>6]&(1<<(lo[i+1]&63)) != 0 {
			if best := k.at(d, i); best != "" {
				d.hits = append(d.hits, keywordHit{i, i + len(best), k.kind[best]})
				i += len(best) // the words of a keyword hold no digits: no token is missed
				continue
			}
		}
		i = e
	}
	return d.hits
}

var mrnWords = []string{"mrn", "uhid", "hospital no", "hospital no.", "hosp. no", "hosp no", "hospital number", "patient id",
	"patient no", "patient number", "cr no", "cr. no", "c.r. no", "ip no", "ip reg", "ip registration", "ipd no", "opd no",
	"registration no", "reg. no", "reg no", "medical record", "mr no", "mr. no", "case no", "uh id"}

func scanMRN(d *doc, emit func(int, int, float64)) {
	t := d.text
	for _, h := range d.keywordHits() {
		if h.kind != 0 {
			continue
		}
		e := h.e
		// skip label filler: punctuation, "no", "number", "(uhid)" ... on the same line
		p, limit := e, e+24
		for p < len(t) && p < limit && t[p] != '\n' {
			c := t[p]
			if isDigit(c) {
				break
			}
			if isAlpha(c) {
				// a token starting with letters counts if it holds digits soon
				q := p
				for q < len(t) && q-p < 6 && isAlpha(t[q]) {
					q++
				}
				if q < len(t) && (isDigit(t[q]) || (t[q] == '.' || t[q] == '-' || t[q] == '/') && isDigit(d.at(q+1))) && q-p >= 1 && isUpper(t[p]) {
					break
				}
				p = q
				continue
			}
			p++
		}
		if p >= len(t) || p >= limit || t[p] == '\n' || isAlnum(d.at(p-1)) {
			continue
		}
		q, digits, slashes := p, 0, 0
		for q < len(t) && q-p < 24 && (isAlnum(t[q]) || t[q] == '/' || t[q] == '-' || t[q] == '.') {
			if isDigit(t[q]) {
				digits++
			}
			if t[q] == '/' {
				slashes++
			}
			q++
		}
		for q > p && !isAlnum(t[q-1]) {
			q--
		}
		if digits < 4 || slashes > 3 || parseDate(t, p) == q {
			continue
		}
		emit(p, q, 0.9)
	}
}

// ---- dates ----

var monthNames = map[string]int{
	"jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
	"jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
	"oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}

func digitsAt(t string, p, max int) (v, end int) {
	end = p
	for end < len(t) && end-p < max && isDigit(t[end]) {
		v = v*10 + int(t[end]-'0')
		end++
	}
	if end < len(t) && isDigit(t[end]) {
		return 0, p // longer than max
	}
	return v, end
}

func monthAt(lo string, p int) int {
	e := p
	for e < len(lo) && e-p < 10 && isLower(lo[e]) {
		e++
	}
	if e-p < 3 || (e < len(lo) && isAlnum(lo[e])) {
		return p
	}
	if _, ok := monthNames[lo[p:e]]; !ok {
		return p
	}
	if e < len(lo) && lo[e] == '.' {
		e++
	}
	return e
}

func ordinalAt(lo string, p int) int {
	if p+2 <= len(lo) {
		switch lo[p : p+2] {
		case "st", "nd", "rd", "th":
			return p + 2
		}
	}
	return p
}

// parseDate recognises a date starting at t[p]; it returns its end or -1.
func parseDate(t string, p int) int {
	lo := t // month matching below lower-cases what it reads
	if p >= len(t) {
		return -1
	}
	if isDigit(t[p]) {
		a, e1 := digitsAt(t, p, 4)
		if e1 == p {
			return -1
		}
		if e1 < len(t) && (t[e1] == '/' || t[e1] == '-' || t[e1] == '.') {
			sep := t[e1]
			b, e2 := digitsAt(t, e1+1, 2)
			if e2 > e1+1 && e2 < len(t) && t[e2] == sep {
				c, e3 := digitsAt(t, e2+1, 4)
				n3 := e3 - e2 - 1
				if e1-p == 4 && n3 >= 1 && n3 <= 2 && b >= 1 && b <= 12 && c >= 1 && c <= 31 {
					return e3
				}
				if e1-p <= 2 && (n3 == 2 || n3 == 4) && a >= 1 && b >= 1 && a <= 31 && b <= 31 && (a <= 12 || b <= 12) {
					return e3
				}
				return -1
			}
			if e1-p <= 2 && sep == '-' { // 12-Mar-1985
				m := monthAt(asciiLower(t[e1+1:min(len(t), e1+12)]), 0)
				if m > 0 {
					q := e1 + 1 + m
					if q < len(t) && (t[q] == '-' || t[q] == ' ') {
						if _, e := digitsAt(t, q+1, 4); e-q-1 == 4 {
							return e
						}
					}
				}
			}
			return -1
		}
		// 3 March 1985, 3rd March, 1985
		if e1-p <= 2 && a >= 1 && a <= 31 {
			q := ordinalAt(asciiLower(t[e1:min(len(t), e1+2)]), 0) + e1
			if q < len(t) && t[q] == ' ' {
				seg := asciiLower(t[q+1 : min(len(t), q+12)])
				if m := monthAt(seg, 0); m > 0 {
					r := q + 1 + m
					if r < len(t) && t[r] == ',' {
						r++
					}
					if r < len(t) && t[r] == ' ' {
						if _, e := digitsAt(t, r+1, 4); e-r-1 == 4 {
							return e
						}
					}
				}
			}
		}
		return -1
	}
	if isAlpha(t[p]) {
		seg := asciiLower(lo[p:min(len(t), p+12)])
		m := monthAt(seg, 0)
		if m == 0 {
			return -1
		}
		q := p + m
		if q < len(t) && t[q] == ' ' {
			if _, e := digitsAt(t, q+1, 2); e > q+1 {
				r := ordinalAt(asciiLower(t[e:min(len(t), e+2)]), 0) + e
				if r < len(t) && t[r] == ',' {
					r++
				}
				if r < len(t) && t[r] == ' ' {
					if _, e2 := digitsAt(t, r+1, 4); e2-r-1 == 4 {
						return e2
					}
				}
			}
		}
	}
	return -1
}

var dobWords = []string{"date of birth", "dob", "d.o.b", "d.o.b.", "birth date", "birthdate", "date-of-birth", "born",
	"birthday", "b'day", "जन्म तिथि", "जन्मतिथि", "जन्म दिनांक", "जन्म"}

func scanDOB(d *doc, emit func(int, int, float64)) {
	t := d.text
	for _, h := range d.keywordHits() {
		if h.kind != 1 {
			continue
		}
		e := h.e
		end := min(len(t), e+80)
		lines := 0
	scan:
		for p := e; p < end; p++ {
			c := t[p]
			if c == '\n' {
				if lines++; lines > 1 {
					break scan
				}
			}
			if (isDigit(c) || isAlpha(c)) && !isAlnum(d.at(p-1)) {
				if q := parseDate(t, p); q > 0 && !isAlnum(d.at(q)) {
					emit(p, q, 0.9)
					break scan
				}
			}
		}
	}
}

// ---- postal addresses ----

var houseWords = map[string]bool{"flat": true, "house": true, "h.no": true, "h.no.": true, "h": true, "plot": true, "door": true,
	"d.no": true, "d.no.": true, "no": true, "no.": true, "apt": true, "apt.": true, "shop": true, "villa": true, "vill": true, "vill.": true,
	"village": true, "qtr": true, "quarter": true, "block": true, "ward": true, "room": true, "unit": true, "suite": true, "bldg": true,
	"building": true, "tower": true, "wing": true, "sector": true,
	"मकान": true, "ग्राम": true, "गाँव": true, "गांव": true, "फ्लैट": true, "प्लॉट": true, "गली": true, "मोहल्ला": true, "वार्ड": true}

var usStates = map[string]bool{}

func init() {
	for _, s := range strings.Fields(`AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC`) {
		usStates[s] = true
	}
}

func scanAddress(d *doc, emit func(int, int, float64)) {
	t := d.text
	d.eachToken(func(s, e int) {
		end := -1
		switch {
		case e-s == 6 && t[s] != '0' && isAllDigits(t[s:e]): // PIN
			end = e
		case e-s == 3 && t[s] != '0' && isAllDigits(t[s:e]) && d.at(e) == ' ' && isDigit(d.at(e+1)) && e+4 <= len(t) && isAllDigits(t[e+1:e+4]) && !isAlnum(d.at(e+4)):
			end = e + 4 // "560 067"
		case e-s == 5 && isAllDigits(t[s:e]) && s >= 4 && t[s-1] == ' ' && usStates[t[s-3:s-1]] && !isAlnum(d.at(s-4)): // ZIP
			end = e
			if d.at(e) == '-' && e+5 <= len(t) && isAllDigits(t[e+1:e+5]) {
				end = e + 5
			}
		default:
			return
		}
		if isAlnum(d.at(end)) || d.at(s-1) == '-' && isDigit(d.at(s-2)) || d.at(s-1) == '+' {
			return
		}
		// what precedes the code must be a place name: letters, then optional " - " or ", "
		p := s
		for p > 0 && s-p < 4 && (t[p-1] == ' ' || t[p-1] == '-' || t[p-1] == ',' || t[p-1] == ':') {
			p--
		}
		if p == 0 || !(isAlpha(t[p-1]) || t[p-1] >= 0x80) || strings.HasSuffix(d.lower[:p], "rs") || strings.HasSuffix(d.lower[:p], "inr") || strings.HasSuffix(d.lower[:p], "pin") && !strings.Contains(d.text[d.lineStart(s):s], ",") {
			return
		}
		start := addressStart(d, s)
		if start < 0 || !strings.Contains(t[start:s], ",") {
			return
		}
		emit(start, end, 0.9)
	})
}

// addressStart walks back from the postal code to the house number or the
// end of a field label, over at most two lines and 250 bytes.
func addressStart(d *doc, anchor int) int {
	t := d.text
	ls := d.lineStart(anchor)
	start, labelled := labelEnd(t, ls, anchor)
	if !labelled && ls >= 2 && t[ls-1] == '\n' {
		// the address may have begun on the previous line, ending in a comma
		pe := ls - 1
		if pe > 0 && t[pe-1] == '\r' {
			pe--
		}
		if pe > 0 && t[pe-1] == ',' {
			pls := d.lineStart(pe)
			s2, _ := labelEnd(t, pls, pe)
			if anchor-s2 <= 250 {
				start = s2
				labelled = true // the line break itself marks the address start
			}
		}
	}
	for start < anchor && (t[start] == ' ' || t[start] == '\t') {
		start++
	}
	if anchor-start > 250 {
		return -1
	}
	if !labelled {
		// free text ("confirmed mailing address 4852 Elm Street, ..."): start
		// at the first token that looks like a house number or a house word,
		// in whichever comma-separated segment it comes
		seg := t[start:anchor]
		pos := 0
		for _, f := range strings.Fields(seg) {
			k := strings.Index(seg[pos:], f) + pos
			pos = k + len(f)
			lf := strings.ToLower(strings.TrimRight(f, ","))
			if f[0] == '#' || isDigit(f[0]) || houseWords[lf] || (len(f) >= 3 && isUpper(f[0]) && f[1] == '-' && isDigit(f[2])) {
				if strings.Contains(t[start+k:anchor], ",") {
					return start + k
				}
				break
			}
		}
		// none: keep the last three segments (locality, city, PIN)
		n := 0
		for i := anchor - 1; i > start; i-- {
			if t[i] == ',' {
				if n++; n == 3 {
					start = i + 1
					break
				}
			}
		}
		for start < anchor && t[start] == ' ' {
			start++
		}
	}
	return start
}

// labelEnd finds the end of a "Label: " prefix (or a " | " separator) on the
// line [ls, anchor); it returns ls when there is none.
func labelEnd(t string, ls, anchor int) (int, bool) {
	best := -1
	for i := ls; i < anchor-1; i++ {
		if (t[i] == ':' && (t[i+1] == ' ' || t[i+1] == '\t')) || (t[i] == '|' && t[i+1] == ' ') {
			best = i + 1
		}
	}
	if best < 0 {
		return ls, false
	}
	return best, true
}
