package anonymize

// Numeric identifiers (cards, Aadhaar, phones, SSNs, accounts) are found
// from one shared pass: maximal runs of digit groups joined by single
// separators, then every contiguous sub-run of at most maxGroups groups and
// maxDigits digits is offered to the numeric recognizers. Both bounds keep
// the work linear in the input.

const (
	maxGroups = 8
	maxDigits = 19
)

type numRun struct {
	start  int // first byte, including a leading '+', "(+" or '('
	plus   bool
	glued  bool // a letter touches the first digit ("is415-555-0132")
	g0, g1 int  // its digit groups are doc.groups[g0:g1]
}

// numCand is one sub-run offered to the recognizers.
type numCand struct {
	start, end int
	digits     [maxDigits]byte
	n          int // number of digits
	glen       [maxGroups]uint8
	ng         int  // number of groups
	sep        byte // the one separator used between groups, 0 if one group, 'x' if mixed
	parens     bool // parentheses inside or around
	plus       bool // international '+' prefix
	whole      bool // the sub-run is the whole run
}

func (c *numCand) str() string { return string(c.digits[:c.n]) }

func findNumRuns(t string, runs []numRun, groups [][2]int) ([]numRun, [][2]int) {
	n := len(t)
	for i := 0; i < n; i++ {
		if !isDigit(t[i]) {
			continue
		}
		prev := byte(0)
		if i > 0 {
			prev = t[i-1]
		}
		glued := isAlpha(prev)
		if prev == '_' || ((prev == '.' || prev == '/') && i >= 2 && isDigit(t[i-2])) {
			// glued to a word, or the tail of a dotted/slashed number: skip it whole
			for i < n && (isDigit(t[i]) || ((t[i] == '.' || t[i] == '/' || t[i] == '-') && i+1 < n && isDigit(t[i+1]))) {
				i++
			}
			continue
		}
		r := numRun{start: i, glued: glued, g0: len(groups)}
		open := false
		switch {
		case glued:
		case prev == '+' && i >= 2 && t[i-2] == '(':
			r.start, r.plus, open = i-2, true, true
		case prev == '+':
			r.start, r.plus = i-1, true
		case prev == '(':
			r.start, open = i-1, true
		}
		for {
			s := i
			for i < n && isDigit(t[i]) {
				i++
			}
			groups = append(groups, [2]int{s, i})
			// separator?
			q := i
			if q < n && t[q] == ')' && open {
				q++
				open = false
				if q < n && (t[q] == ' ' || t[q] == '-') {
					q++
				}
			} else if q < n && (t[q] == ' ' || t[q] == '-' || t[q] == '.' || t[q] == ':') {
				q++
				if q < n && t[q] == '(' && !open {
					q++
					open = true
				}
			} else if q < n && t[q] == '(' && !open {
				q++
				open = true
			}
			if q == i || q >= n || !isDigit(t[q]) {
				break
			}
			i = q
		}
		r.g1 = len(groups)
		runs = append(runs, r)
		i-- // loop increment
	}
	return runs, groups
}

// eachCand calls fn for every admissible sub-run of every run; the list is
// built once per document and shared by the numeric recognizers.
func (d *doc) eachCand(fn func(c *numCand)) {
	if !d.candsDone {
		d.candsDone = true
		d.findShields()
		d.buildCands(func(c *numCand) {
			if c.n >= 9 { // no numeric identifier is shorter
				d.cands = append(d.cands, *c)
			}
		})
	}
	for i := range d.cands {
		fn(&d.cands[i])
	}
}

func (d *doc) buildCands(fn func(c *numCand)) {
	t := d.text
	var c numCand
	for ri := range d.runs {
		r := &d.runs[ri]
		g := d.groups[r.g0:r.g1]
		for i := 0; i < len(g); i++ {
			c.n, c.ng, c.sep, c.parens = 0, 0, 0, false
			for j := i; j < len(g) && j-i < maxGroups; j++ {
				gl := g[j][1] - g[j][0]
				if c.n+gl > maxDigits {
					break
				}
				copy(c.digits[c.n:], t[g[j][0]:g[j][1]])
				c.n += gl
				c.glen[c.ng] = uint8(gl)
				c.ng++
				if j > i {
					sep := t[g[j-1][1]:g[j][0]]
					var sc byte
					for k := 0; k < len(sep); k++ {
						switch sep[k] {
						case '(', ')':
							c.parens = true
						default:
							if sc == 0 {
								sc = sep[k]
							}
						}
					}
					if sc == 0 {
						sc = ' ' // ")" alone acts as a space
					}
					if c.sep == 0 {
						c.sep = sc
					} else if c.sep != sc {
						c.sep = 'x'
					}
				}
				c.start = g[i][0]
				c.plus = false
				if i == 0 {
					c.plus = r.plus
					// an opening parenthesis belongs to the number only when it
					// closes inside it: "(415) 555-0132", not "(5520 7432 6333)"
					if r.start < g[0][0] && (c.parens || r.plus) {
						c.start = r.start
						switch {
						case t[r.start] != '(':
						case c.parens:
						default:
							c.start++ // "(+91 98450 12345)": the parenthesis encloses, starting at '+'
						}
					}
				}
				c.end = g[j][1]
				// a closing parenthesis right after the last group belongs to a
				// "(+91)" style prefix only, never to the end of a number
				c.whole = i == 0 && j == len(g)-1
				if r.glued && !(i == 0 && c.sep == '-' && c.ng >= 3 && c.n >= 10) {
					continue
				}
				if isAlnum(d.at(c.end)) || (len(d.shields) > 0 && d.shielded(c.start, c.end)) {
					continue
				}
				fn(&c)
			}
		}
	}
}

// groupsAre reports whether the candidate's group lengths are exactly ls.
func (c *numCand) groupsAre(ls ...int) bool {
	if c.ng != len(ls) {
		return false
	}
	for i, l := range ls {
		if int(c.glen[i]) != l {
			return false
		}
	}
	return true
}
