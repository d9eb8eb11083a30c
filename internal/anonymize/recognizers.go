package anonymize

import "strings"

// recognizer is one entity detector: a scanner proposing spans with a base
// score, and context words that move the score. Adding a type is adding a
// value to builtins().
type recognizer struct {
	Type     string
	Context  []string // lower-case words near the span that raise the score by Boost
	Negative []string // lower-case words before the span that lower it by Penalty
	Boost    float64
	Penalty  float64
	Window   int // bytes before the span searched for context words
	After    int // bytes after the span searched for (positive) context words
	scan     func(d *doc, emit func(start, end int, score float64))

	ctx, neg *phraseSet // compiled Context and Negative
}

// compile prepares the context word sets; New calls it for every recognizer.
func (r *recognizer) compile() *recognizer {
	if len(r.Context) > 0 {
		r.ctx = newPhraseSet(r.Context)
	}
	if len(r.Negative) > 0 {
		r.neg = newPhraseSet(r.Negative)
	}
	return r
}

func (r *recognizer) contextAdjust(d *doc, s, e int) float64 {
	w := r.Window
	if w == 0 {
		w = 40
	}
	from := d.before(s, w)
	neg := r.neg.last(d, from, s)
	pos := r.ctx.last(d, from, s)
	if pos < 0 && r.After > 0 && r.ctx.last(d, e, e+r.After) >= 0 {
		pos = 0
	}
	// the nearer word wins: "mobile 98xxxxxxxx, a/c 1234" has both
	switch {
	case neg >= 0 && neg >= pos:
		return -r.Penalty
	case pos >= 0:
		return r.Boost
	}
	return 0
}

// refWords mark numbers that are references, not identities.
var refWords = []string{"ref", "ref.", "reference", "utr", "txn", "transaction", "order", "invoice", "sku", "awb",
	"consignment", "tracking", "docket", "batch", "lot", "ticket", "imei", "serial", "pos", "terminal", "hsn",
	"otp", "pnr", "booking", "claim"}

func builtins() []*recognizer {
	return []*recognizer{
		{Type: "EMAIL", scan: scanEmail},
		{Type: "UPI_ID", scan: scanUPI, Context: []string{"upi", "vpa", "upi id", "gpay", "phonepe", "paytm"}, Boost: 0.3, Window: 60},
		{Type: "URL", scan: scanURL},
		{Type: "IP_ADDRESS", scan: scanIP,
			Context: []string{"ip", "ipv4", "ipv6", "address", "sign-in", "login", "server", "host", "gateway", "from"}, Boost: 0.1,
			Negative: []string{"version", "ver", "ver.", "v", "build", "firmware", "release", "update", "agent", "patch",
				"chrome", "firefox", "safari", "edge", "android", "ios", "sdk", "app", "library", "driver", "bios", "kernel", "os", "windows", "package", "plugin"},
			Penalty: 0.6, Window: 30},
		{Type: "CREDIT_CARD", scan: scanCard,
			Context: []string{"card", "credit", "debit", "visa", "mastercard", "rupay", "amex", "cc"}, Boost: 0.1,
			Negative: refWords, Penalty: 0.5},
		{Type: "AADHAAR", scan: scanAadhaar,
			Context: []string{"aadhaar", "aadhar", "adhaar", "uid", "uidai", "आधार"}, Boost: 0.15, Window: 50,
			Negative: refWords, Penalty: 0.5},
		{Type: "PHONE", scan: scanPhone,
			Context: []string{"phone", "mobile", "mob", "mob.", "tel", "tel.", "telephone", "contact", "call", "whatsapp", "cell", "fax", "ph", "ph.", "helpline", "callback", "फ़ोन", "मोबाइल", "telefon", "telepono"}, Boost: 0.25,
			Negative: append([]string{"account", "a/c", "acct", "pin", "id"}, refWords...), Penalty: 0.4, Window: 30},
		{Type: "US_SSN", scan: scanSSN, Context: []string{"ssn", "ssns", "ssid", "social security", "ss#"}, Boost: 0.45, Window: 40},
		{Type: "BANK_ACCOUNT", scan: scanAccount,
			Context: []string{"account", "a/c", "ac", "acct", "acc", "account no", "beneficiary", "khata", "savings", "current", "खाता", "खाते"}, Boost: 0.85, Window: 40,
			Negative: []string{"card", "ref", "utr", "txn", "transaction", "order", "phone", "mobile"}, Penalty: 0.5},
		{Type: "PAN", scan: scanPAN, Context: []string{"pan", "income tax", "permanent account"}, Boost: 0.1},
		{Type: "IFSC", scan: scanIFSC, Context: []string{"ifsc", "branch", "neft", "rtgs", "imps"}, Boost: 0.1},
		{Type: "VOTER_ID", scan: scanVoter, Context: []string{"voter", "epic", "election", "vote"}, Boost: 0.3, Window: 60,
			Negative: refWords, Penalty: 0.4},
		{Type: "PASSPORT", scan: scanPassport, Context: passportWords, Boost: 0.3, Window: 40, After: 30},
		{Type: "IBAN", scan: scanIBAN},
		{Type: "MRN", scan: scanMRN},
		{Type: "DATE_OF_BIRTH", scan: scanDOB},
		{Type: "ADDRESS", scan: scanAddress},
		{Type: "PERSON", scan: scanPerson},
	}
}

// ---- e-mail and UPI ----

func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

// atSplit finds the local part and the domain part around the '@' at i.
func atSplit(t string, i int) (ls, de int, dot bool) {
	ls = i
	for ls > 0 && i-ls < 64 && isLocalChar(t[ls-1]) {
		ls--
	}
	for ls < i && !isAlnum(t[ls]) { // local part starts with a letter or digit
		ls++
	}
	de = i + 1
	for de < len(t) && de-i < 254 && (isAlnum(t[de]) || t[de] == '-' || t[de] == '.') {
		if t[de] == '.' {
			dot = true
		}
		de++
	}
	for de > i+1 && (t[de-1] == '.' || t[de-1] == '-') {
		de--
	}
	dot = dot && strings.IndexByte(t[i+1:de], '.') >= 0
	return
}

func scanEmail(d *doc, emit func(int, int, float64)) {
	t := d.text
	for off := 0; ; {
		k := strings.IndexByte(t[off:], '@')
		if k < 0 {
			return
		}
		i := off + k
		off = i + 1
		ls, de, dot := atSplit(t, i)
		if ls == i || !dot {
			continue
		}
		dom := t[i+1 : de]
		tld := dom[strings.LastIndexByte(dom, '.')+1:]
		if !validTLD(tld) || strings.Contains(dom, "..") || dom[0] == '.' {
			continue
		}
		emit(ls, de, 0.95)
	}
}

func validTLD(tld string) bool {
	if strings.HasPrefix(strings.ToLower(tld), "xn--") && len(tld) > 4 {
		return true
	}
	if len(tld) < 2 || len(tld) > 24 {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if !isAlpha(tld[i]) {
			return false
		}
	}
	return true
}

// upiHandles are payment-service-provider handles of UPI addresses.
var upiHandles = map[string]bool{}

func init() {
	for _, h := range strings.Fields(`okaxis okhdfcbank okicici oksbi ybl ibl axl paytm apl upi yapl rapl
		axisbank hdfcbank icici sbi pnb boi barodampay unionbank kotak indus federal idfcbank idbi
		axisb yesbank ikwik freecharge jupiteraxis fam slice mobikwik airtel airtelpaytm jio pingpay
		timecosmos waaxis wahdfcbank waicici wasbi abfspay axisbank icicibank hsbc citi sc rbl dbs
		aubank equitas ujjivan kvb tmb cub kbl csbpay dcb canarabank cnrb centralbank indianbank
		iob ucobank psb mahb allbank andb vijb denabank syndicate obc dlb jsb nsdl postbank ippb`) {
		upiHandles[h] = true
	}
}

func scanUPI(d *doc, emit func(int, int, float64)) {
	t := d.text
	for off := 0; ; {
		k := strings.IndexByte(t[off:], '@')
		if k < 0 {
			return
		}
		i := off + k
		off = i + 1
		ls, de, dot := atSplit(t, i)
		if ls == i || dot || de-i-1 < 2 {
			continue
		}
		h := d.lower[i+1 : de]
		letters := true
		for j := 0; j < len(h); j++ {
			if !isLower(h[j]) {
				letters = false
				break
			}
		}
		if !letters {
			continue
		}
		if upiHandles[h] {
			emit(ls, de, 0.9)
		} else {
			emit(ls, de, 0.3) // an unknown handle needs UPI context
		}
	}
}

// ---- URL ----

func isURLChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", c) >= 0
}

// commonTLDs are accepted for bare domains (no scheme, no www.).
var commonTLDs = map[string]bool{}

func init() {
	for _, s := range strings.Fields(`com org net in io co gov edu info biz me ai app dev site online store shop
		tech cloud xyz uk us il de fr es it nl au ca jp cn ru br sg ae eu ch se no dk fi pl be at nz za lk np bd pk
		health bank news blog live tv ly gl`) {
		commonTLDs[s] = true
	}
}

// hostOK: the host has a dot and an alphabetic TLD of 2+ letters.
func hostOK(host string) bool {
	if i := strings.IndexAny(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	if i := strings.IndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	j := strings.LastIndexByte(host, '.')
	if j <= 0 {
		return false
	}
	return validTLD(host[j+1:])
}

func trimURL(t string, s, e int) int {
	for e > s {
		c := t[e-1]
		switch {
		case strings.IndexByte(".,;:!?'\"*", c) >= 0:
			e--
		case c == ')' && strings.Count(t[s:e], "(") < strings.Count(t[s:e], ")"):
			e--
		case c == ']' && strings.Count(t[s:e], "[") < strings.Count(t[s:e], "]"):
			e--
		default:
			return e
		}
	}
	return e
}

func scanURL(d *doc, emit func(int, int, float64)) {
	t, lo := d.text, d.lower
	var found [][2]int // URLs with a scheme or www., so bare domains inside them are skipped
	// with a scheme: find "://" and look back for http/https
	for off := 0; ; {
		k := strings.Index(lo[off:], "://")
		if k < 0 {
			break
		}
		c := off + k
		off = c + 3
		i := -1
		switch {
		case c >= 5 && lo[c-5:c] == "https":
			i = c - 5
		case c >= 4 && lo[c-4:c] == "http":
			i = c - 4
		}
		if i < 0 || isAlnum(d.at(i-1)) {
			continue
		}
		hs := c + 3
		e := hs
		for e < len(t) && e-i < 2048 && isURLChar(t[e]) {
			e++
		}
		e = trimURL(t, i, e)
		he := hs
		for he < e && t[he] != '/' && t[he] != '?' && t[he] != '#' {
			he++
		}
		if hostOK(t[hs:he]) {
			emit(i, e, 0.95)
			found = append(found, [2]int{i, e})
			off = max(off, e)
		}
	}
	for off := 0; ; {
		k := strings.Index(lo[off:], "www.")
		if k < 0 {
			break
		}
		i := off + k
		off = i + 4
		if isAlnum(d.at(i-1)) || d.at(i-1) == '/' || d.at(i-1) == '.' {
			continue
		}
		e := i
		for e < len(t) && e-i < 2048 && isURLChar(t[e]) {
			e++
		}
		e = trimURL(t, i, e)
		he := i
		for he < e && t[he] != '/' && t[he] != '?' && t[he] != '#' {
			he++
		}
		if he > i+4 && (hostOK(t[i+4:he]) || hostOK(t[i:he]) && strings.Count(t[i:he], ".") >= 2) {
			emit(i, e, 0.9)
			found = append(found, [2]int{i, e})
			off = max(off, e)
		}
	}
	// bare domains: label(s) '.' common TLD, then a boundary or a path
	covered := 0
	for off := 0; ; {
		k := strings.IndexByte(lo[off:], '.')
		if k < 0 {
			return
		}
		i := off + k
		off = i + 1
		if i < covered {
			continue
		}
		inside := false
		for _, f := range found {
			if i >= f[0] && i < f[1] {
				inside = true
				covered = f[1]
			}
		}
		if inside {
			continue
		}
		te := i + 1
		for te < len(t) && te-i <= 12 && isLower(t[te]) {
			te++
		}
		tld := t[i+1 : te]
		if !commonTLDs[tld] || isAlnum(d.at(te)) || d.at(te) == '@' {
			continue
		}
		s := i
		for s > 0 && i-s < 253 && (isLower(t[s-1]) || isDigit(t[s-1]) || t[s-1] == '-' || t[s-1] == '.') {
			s--
		}
		if s == i || d.at(s-1) == '@' || isAlnum(d.at(s-1)) || t[s] == '.' || t[s] == '-' {
			continue
		}
		label := t[s:i]
		if j := strings.LastIndexByte(label, '.'); j >= 0 {
			label = label[j+1:]
		}
		if len(label) < 2 || isAllDigits(label) {
			continue
		}
		// a second-level public suffix (google.co.il, x.gov.in)
		if d.at(te) == '.' {
			te2 := te + 1
			for te2 < len(t) && te2-te <= 3 && isLower(t[te2]) {
				te2++
			}
			if te2-te-1 == 2 && !isAlnum(d.at(te2)) {
				te = te2
			}
		}
		e := te
		if d.at(e) == '/' {
			for e < len(t) && e-i < 2048 && isURLChar(t[e]) {
				e++
			}
			e = trimURL(t, s, e)
		}
		emit(s, e, 0.6)
		covered = e
		off = max(off, e)
	}
}

func isAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

// ---- IP addresses ----

// parseIPv4 parses a dotted quad at t[i:]; it returns the end or -1.
func parseIPv4(t string, i int) int {
	p := i
	for part := 0; part < 4; part++ {
		if part > 0 {
			if p >= len(t) || t[p] != '.' {
				return -1
			}
			p++
		}
		s, v := p, 0
		for p < len(t) && isDigit(t[p]) && p-s < 3 {
			v = v*10 + int(t[p]-'0')
			p++
		}
		if p == s || v > 255 || (p < len(t) && isDigit(t[p])) {
			return -1
		}
	}
	return p
}

// prefixLen consumes "/N" with N <= max at t[p:], returning the new end.
func prefixLen(t string, p, max int) int {
	if p+1 < len(t) && t[p] == '/' && isDigit(t[p+1]) {
		q, v := p+1, 0
		for q < len(t) && isDigit(t[q]) && q-p <= 3 {
			v = v*10 + int(t[q]-'0')
			q++
		}
		if v <= max && (q >= len(t) || !isAlnum(t[q])) {
			return q
		}
	}
	return p
}

func scanIP(d *doc, emit func(int, int, float64)) {
	t := d.text
	// IPv4: a dotted quad starts at a digit group of the shared number runs
	last := -1
	for _, g := range d.groups {
		i := g[0]
		prev := d.at(i - 1)
		if i <= last || isAlnum(prev) || prev == '.' {
			continue
		}
		if e := parseIPv4(t, i); e > 0 && !isAlnum(d.at(e)) {
			end := prefixLen(t, e, 32)
			emit(i, end, 0.9)
			last = end
		}
	}
	// IPv6: every address holds a ':'; walk back from each to the run start
	done := 0
	for off := 0; off < len(t); {
		k := strings.IndexByte(t[off:], ':')
		if k < 0 {
			return
		}
		c := off + k
		off = c + 1
		if c < done {
			continue
		}
		i := c
		for i > 0 && c-i < 64 && (isHex(t[i-1]) || t[i-1] == ':' || t[i-1] == '.') {
			i--
		}
		for i < c && t[i] == '.' {
			i++
		}
		prev := d.at(i - 1)
		if isAlnum(prev) || prev == ':' || prev == '.' {
			continue
		}
		e, colons := i, 0
		for e < len(t) && e-i < 64 && (isHex(t[e]) || t[e] == ':' || t[e] == '.') {
			if t[e] == ':' {
				colons++
			}
			e++
		}
		done = max(e, c+1)
		off = done
		for e > i && t[e-1] == '.' {
			e--
		}
		if colons < 2 || e-i < 2 || isAlnum(d.at(e)) || !validIPv6(t[i:e]) {
			continue
		}
		end := e
		if d.at(end) == '%' {
			z := end + 1
			for z < len(t) && z-end < 16 && isAlnum(t[z]) {
				z++
			}
			if z > end+1 {
				end = z
			}
		}
		end = prefixLen(t, end, 128)
		emit(i, end, 0.9)
		done, off = max(end, c+1), max(end, c+1)
	}
}

// validIPv6 checks RFC 4291 text form: hex groups of 1-4 digits, at most
// one "::", an optional trailing dotted quad, eight groups in all.
func validIPv6(s string) bool {
	if strings.Count(s, ":") < 2 {
		return false
	}
	dbl := strings.Index(s, "::")
	if dbl >= 0 && strings.Contains(s[dbl+1:], "::") {
		return false
	}
	if strings.Contains(s, ":::") {
		return false
	}
	groups := 0
	parts := strings.Split(s, ":")
	for k, p := range parts {
		if p == "" {
			continue
		}
		if strings.IndexByte(p, '.') >= 0 {
			if k != len(parts)-1 || parseIPv4(p, 0) != len(p) {
				return false
			}
			groups += 2
			continue
		}
		if len(p) > 4 {
			return false
		}
		for j := 0; j < len(p); j++ {
			if !isHex(p[j]) {
				return false
			}
		}
		groups++
	}
	if s[0] == ':' && dbl != 0 || s[len(s)-1] == ':' && dbl != len(s)-2 {
		return false
	}
	if dbl >= 0 {
		return groups < 8
	}
	return groups == 8
}

// ---- numeric identifiers ----

func scanCard(d *doc, emit func(int, int, float64)) {
	d.eachCand(func(c *numCand) {
		if c.plus || c.parens || c.n < 12 || c.sep == 'x' || c.sep == '.' || c.sep == ':' {
			return
		}
		ok := c.ng == 1 || c.groupsAre(4, 6, 5) || c.groupsAre(4, 6, 4)
		if !ok {
			ok = true
			for g := 0; g < c.ng-1; g++ {
				if c.glen[g] != 4 {
					ok = false
				}
			}
			ok = ok && c.glen[c.ng-1] <= 4
		}
		if ok && cardOK(c.digits[:c.n]) {
			emit(c.start, c.end, 0.9)
		}
	})
}

func scanAadhaar(d *doc, emit func(int, int, float64)) {
	d.eachCand(func(c *numCand) {
		if c.plus || c.parens || c.n != 12 || !(c.ng == 1 || c.groupsAre(4, 4, 4)) || c.sep == 'x' || c.sep == '.' || (c.sep == ':' && !c.whole) {
			return
		}
		if aadhaarOK(c.digits[:12]) {
			emit(c.start, c.end, 0.85)
		}
	})
}

func scanPhone(d *doc, emit func(int, int, float64)) {
	d.eachCand(func(c *numCand) {
		if c.sep == ':' || (!c.whole && c.start > 0 && d.text[c.start-1] == '.') {
			return
		}
		ds := c.digits[:c.n]
		score := 0.0
		switch {
		case c.plus:
			switch {
			case c.n >= 11 && ds[0] == '9' && ds[1] == '1':
				if c.n == 12 {
					score = 0.85
				}
			case ds[0] == '1':
				if c.n == 11 {
					score = 0.85
				}
			case c.n >= 8 && c.n <= 15 && ds[0] != '0':
				score = 0.8
			}
		case c.sep == '.':
			if c.n == 10 && c.groupsAre(3, 3, 4) && ds[0] >= '2' {
				score = 0.6
			}
		case c.n == 10 && ds[0] >= '6':
			score = 0.75 // Indian mobile
			if c.ng == 1 {
				score = 0.7
			}
		case c.n == 11 && ds[0] == '0' && ds[1] >= '6' && c.glen[0] <= 5:
			score = 0.75 // mobile with trunk 0
		case c.n == 12 && ds[0] == '9' && ds[1] == '1' && ds[2] >= '6' && c.ng > 1 && c.glen[0] == 2:
			score = 0.8 // 91-98xxxxxxxx
		case c.n == 12 && ds[0] == '9' && ds[1] == '1' && c.ng > 1 && c.glen[0] == 2:
			score = 0.65 // 91-<foreign or landline 10 digits>
		case (c.n == 10 || c.n == 11 || c.n == 9 && c.ng == 2) && ds[0] == '0' && c.ng > 1:
			score = 0.7 // trunk-0 landline or foreign national number
		case c.n == 11 && ds[0] == '0':
			score = 0.6
		case c.n == 10 && ds[0] >= '2' && (c.groupsAre(3, 3, 4) || c.groupsAre(3, 7)):
			score = 0.7 // North American
		case c.n == 10 && ds[0] >= '2' && c.ng == 1:
			score = 0.35 // needs phone context
		}
		if score > 0 {
			emit(c.start, c.end, score)
		}
	})
}

func scanSSN(d *doc, emit func(int, int, float64)) {
	d.eachCand(func(c *numCand) {
		if c.plus || c.parens || c.n != 9 {
			return
		}
		score := 0.0
		switch {
		case c.groupsAre(3, 2, 4) && c.sep != 'x' && c.sep != ':':
			score = 0.8
		case c.ng == 1:
			score = 0.3
		}
		if score > 0 && ssnOK(c.digits[:9]) {
			emit(c.start, c.end, score)
		}
	})
}

func scanAccount(d *doc, emit func(int, int, float64)) {
	d.eachCand(func(c *numCand) {
		if c.plus || c.parens || c.n < 9 || c.n > 18 || c.sep == 'x' || c.sep == '.' || c.sep == ':' || !c.whole {
			return
		}
		emit(c.start, c.end, 0.1)
	})
}

// ---- alphanumeric identifiers ----

// eachToken calls fn for every maximal run of ASCII letters and digits that
// holds a digit (every alphanumeric identifier and postal code does). The
// runs are found once per document and shared.
func (d *doc) eachToken(fn func(s, e int)) {
	if !d.tokensDone {
		d.keywordHits() // finds the tokens in the same pass
	}
	if !d.tokensDone {
		d.tokensDone = true
		t := d.text
		for i := 0; i < len(t); {
			if !isAlnum(t[i]) {
				i++
				continue
			}
			s, dig := i, false
			for i < len(t) && isAlnum(t[i]) {
				if isDigit(t[i]) {
					dig = true
				}
				i++
			}
			if dig {
				d.tokens = append(d.tokens, [2]int{s, i})
			}
		}
	}
	for _, tk := range d.tokens {
		fn(tk[0], tk[1])
	}
}

func scanPAN(d *doc, emit func(int, int, float64)) {
	d.eachToken(func(s, e int) {
		if e-s == 10 && panOK(d.text[s:e]) {
			emit(s, e, 0.85)
		}
	})
}

func scanIFSC(d *doc, emit func(int, int, float64)) {
	t := d.text
	d.eachToken(func(s, e int) {
		if e-s != 11 || t[s+4] != '0' {
			return
		}
		for k := 0; k < 4; k++ {
			if !isUpper(t[s+k]) {
				return
			}
		}
		digits := 0
		for k := 5; k < 11; k++ {
			if isLower(t[s+k]) {
				return
			}
			if isDigit(t[s+k]) {
				digits++
			}
		}
		if digits > 0 {
			emit(s, e, 0.85)
		}
	})
}

func scanVoter(d *doc, emit func(int, int, float64)) {
	t := d.text
	d.eachToken(func(s, e int) {
		if e-s != 10 {
			return
		}
		up := 0
		for k := 0; k < 3; k++ {
			if !isAlpha(t[s+k]) {
				return
			}
			if isUpper(t[s+k]) {
				up++
			}
		}
		for k := 3; k < 10; k++ {
			if !isDigit(t[s+k]) {
				return
			}
		}
		if up == 3 {
			emit(s, e, 0.7)
		} else if up == 0 {
			emit(s, e, 0.5)
		}
	})
}

var passportWords = []string{"passport", "passports", "travel document", "pasaporte", "passeport", "reisepass", "pass-nr", "passnummer", "passaporto", "여권", "पासपोर्ट"}

func scanPassport(d *doc, emit func(int, int, float64)) {
	t := d.text
	d.eachToken(func(s, e int) {
		n := e - s
		// Indian: letter, nonzero digit, 5 digits, nonzero digit
		if n == 8 && isUpper(t[s]) && t[s+1] >= '1' && t[s+7] >= '1' && isAllDigits(t[s+1:e]) {
			emit(s, e, 0.7)
			return
		}
		// other countries: 8-9 alphanumerics with 5+ digits, only near passport words
		if n < 8 || n > 9 {
			return
		}
		digits := 0
		for k := s; k < e; k++ {
			if isDigit(t[k]) {
				digits++
			}
		}
		if digits >= 5 && (isAlpha(t[s]) || digits == n) {
			if d.hasWord(d.before(s, 40), s, passportWords) || d.hasWord(e, e+30, passportWords) {
				emit(s, e, 0.6)
			}
		}
	})
}

func scanIBAN(d *doc, emit func(int, int, float64)) {
	t := d.text
	var buf [34]byte
	last := 0
	d.eachToken(func(i, te int) {
		// an IBAN starts a token: country letters and check digits
		if i < last || te-i < 4 || !isUpper(t[i]) || !isUpper(t[i+1]) || !isDigit(t[i+2]) || !isDigit(t[i+3]) {
			return
		}
		want, ok := ibanLen[t[i:i+2]]
		if !ok {
			return
		}
		n, p, end := 0, i, -1
		var sep byte
		for p < len(t) && n < want {
			c := t[p]
			if isUpper(c) || isDigit(c) {
				buf[n] = c
				n++
				p++
				continue
			}
			if isLower(c) {
				buf[n] = c - 32
				n++
				p++
				continue
			}
			if (c == ' ' || c == '-') && (sep == 0 || sep == c) && n%4 == 0 && p+1 < len(t) && isAlnum(t[p+1]) {
				sep = c
				p++
				continue
			}
			break
		}
		if n == want {
			end = p
		}
		if end < 0 || isAlnum(d.at(end)) || !ibanOK(buf[:n]) {
			return
		}
		emit(i, end, 0.95)
		last = end
	})
}
