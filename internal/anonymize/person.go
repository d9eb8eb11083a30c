package anonymize

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"
)

// PERSON detection without a neural model: a lexicon of given names and
// surnames (names/NOTICE says where it comes from), an English word list
// to tell "Will"/"Rose"/"Bill" the word from the name, titles and cues
// ("Mr.", "Dear", "Name:", "S/o"), capitalisation, and words that turn a
// name into a place or an event ("Nehru Place", "Gandhi Jayanti").

//go:embed names/names.tsv.gz
var namesGz []byte

//go:embed names/words.txt.gz
var wordsGz []byte

const (
	fGiven   = 1
	fSurname = 2
	fWord    = 4 // also an ordinary English word
	// the rest only in lexicon.info
	fDict  = 8 // an ordinary English word
	fTitle = 16
	fGreet = 32
	fOrg   = 64
	fStop  = 128
)

type lexicon struct {
	names map[string]uint8
	words map[string]struct{}
	info  map[string]uint8  // every word the person scanner asks about: one lookup per word
	given map[bool][]string // pseudonym pools: Latin (false) and Devanagari (true)
	surn  map[bool][]string
}

var (
	lexOnce sync.Once
	lex     *lexicon
)

func loadLexicon() *lexicon {
	lexOnce.Do(func() {
		l := &lexicon{names: make(map[string]uint8, 110000), words: make(map[string]struct{}, 70000),
			given: map[bool][]string{}, surn: map[bool][]string{}}
		eachLine(namesGz, func(line string) {
			k, v, ok := strings.Cut(line, "\t")
			if !ok {
				return
			}
			var f uint8
			if strings.Contains(v, "g") {
				f |= fGiven
			}
			if strings.Contains(v, "s") {
				f |= fSurname
			}
			if strings.Contains(v, "w") {
				f |= fWord
			}
			l.names[k] |= f
			deva := k[0] >= 0x80
			if f&fWord == 0 && len(k) >= 3 {
				if f&fGiven != 0 {
					l.given[deva] = append(l.given[deva], k)
				}
				if f&fSurname != 0 {
					l.surn[deva] = append(l.surn[deva], k)
				}
			}
		})
		eachLine(wordsGz, func(w string) { l.words[w] = struct{}{} })
		l.info = make(map[string]uint8, len(l.names)+len(l.words))
		for k, f := range l.names {
			l.info[k] = f
		}
		for w := range l.words {
			if f, ok := l.info[w]; ok && f&(fGiven|fSurname) != 0 {
				l.info[w] = f | fDict | fWord
			} else {
				l.info[w] = f | fDict
			}
		}
		for m, bit := range map[*map[string]bool]uint8{&titleWords: fTitle, &greetWords: fGreet, &orgWords: fOrg, &stopCaps: fStop, &devaStop: fStop} {
			for w := range *m {
				l.info[w] |= bit
			}
		}
		lex = l
	})
	return lex
}

func eachLine(gz []byte, fn func(string)) {
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		panic("anonymize: embedded lexicon is corrupt: " + err.Error()) // build defect
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			fn(line)
		}
	}
}

// ---- token classes ----

const (
	kTitle   = iota // Title-case Latin word
	kUpper          // ALL-CAPS Latin word
	kInitial        // "M."
	kDeva           // Devanagari word
)

type word struct {
	s, e    int
	kind    uint8
	flags   uint8 // lexicon flags
	dict    bool  // an ordinary English word
	stopCap bool  // never part of a name (stopCaps)
	role    uint8 // rName, rTitle, rGreet, rOrg, rStop
}

const (
	rName = iota
	rTitle
	rGreet
	rOrg
	rStop
)

var titleWords = set(`mr mrs ms miss mx dr prof sir madam shri sri smt kumari kum sh late mister doctor श्री श्रीमती सुश्री कुमारी डॉ`)
var greetWords = set(`hi hello dear hey namaste greetings hii hlo नमस्ते प्रिय`)
var orgWords = set(`hospital hospitals stadium place jayanti nagar road marg chowk university college school institute airport station
	bhawan bhavan park memorial trust foundation award hall museum market bazaar bazar diwas setu clinic nursing bank ltd limited pvt
	services enterprises industries traders store stores mall hotel temple mandir masjid church colony layout street lane avenue
	tower towers apartments apartment residency society complex enclave sector block phase cross main bus metro express pharmacy
	labs lab diagnostics centre center group team care cup trophy scheme yojana mission hostel library auditorium bridge chowk
	chaturthi navami ashtami utsav mahotsav circle gate garden gardens maidan ground nagar vihar puram pur abad marg ganj bagh setu sagar tank lake dam fort palace jayanthi
	medical healthcare health insurance finance capital motors technologies solutions systems software consultancy agency academy
	hospitality foods pharma pharmaceuticals chemicals textiles steel cement power energy telecom airlines airways railways railway
	travels tours logistics couriers associates partners co company corporation inc llp llc
	terminus terminal junction ghat flyover expressway highway sadan smarak vidyalaya mahavidyalaya sansthan
	kendra samiti mandal prize scholarship abhiyan lecture oration fellowship chair cricket football club`)
var stopCaps = set(`i a an the and or of in on at to for from by with is are was were be been this that these those it its
	my your our his her their we you he she they me us them name date address patient customer agent doctor mobile phone email
	age sex male female gender dob account card bank branch ifsc pan aadhaar passport voter id no number total amount balance
	subject re fwd dear sir madam team regards thanks thank sincerely yours hello hi please kindly note tel fax mob ref order
	january february march april june july august september october november december monday tuesday wednesday thursday friday
	saturday sunday today tomorrow thank yesterday mon tue wed thu fri sat sun jan feb mar apr jun jul aug sep sept oct nov dec
	india indian hindi english ok yes no not new old north south east west upi neft imps rtgs otp kyc gst inr rs usd atm pin`)

// devaStop are Hindi words that follow greetings and labels but are not names.
var devaStop = set(`जी ग्राहक महोदय महोदया मित्र सदस्य उपभोक्ता आप आपका आपकी आपके श्रीमान साहब भाई बहन दोस्तों सभी`)

func set(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

func isDevanagari(r rune) bool { return r >= 0x0900 && r <= 0x097F }

// personWords tokenises the text into capitalised Latin words, initials and
// Devanagari words; other words are skipped (they break chains through the
// gap check).
func (d *doc) personWords() []word {
	l := loadLexicon()
	t := d.text
	out := d.words[:0]
	var buf [48]byte
	for i := 0; i < len(t); {
		c := t[i]
		if c < 0x80 {
			if !isAlpha(c) {
				i++
				continue
			}
			if isLower(c) {
				for i < len(t) && isAlpha(t[i]) {
					i++
				}
				continue
			}
			s := i
			for i < len(t) && (isAlpha(t[i]) || ((t[i] == '\'' || t[i] == '-') && i+1 < len(t) && isAlpha(t[i+1]) && i > s)) {
				i++
			}
			if i-s > 2 && t[i-2] == '\'' && (t[i-1] == 's' || t[i-1] == 'S') {
				i -= 2 // possessive: "Sharma's"
			}
			if i < len(t) && (isDigit(t[i]) || t[i] >= 0x80 && !strings.HasPrefix(t[i:], "’")) || isDigit(d.at(s-1)) {
				continue // glued to digits: a code, not a name
			}
			if !isUpper(c) {
				continue
			}
			w := word{s: s, e: i, kind: kTitle}
			n := i - s
			if n == 1 {
				if d.at(i) == '.' {
					w.kind = kInitial
					w.e = i + 1
					i++
					out = append(out, w)
				}
				continue
			}
			allUp := true
			for k := s; k < i; k++ {
				if isLower(t[k]) {
					allUp = false
					break
				}
			}
			if allUp {
				w.kind = kUpper
			}
			if n > len(buf) {
				continue
			}
			for k := 0; k < n; k++ {
				b := t[s+k]
				if isUpper(b) {
					b += 32
				}
				buf[k] = b
			}
			key := buf[:n]
			inf := d.lookup(l, key)
			if inf&(fGiven|fSurname) == 0 && bytes.IndexByte(key, '-') > 0 {
				// double-barrelled names: every part must be a name
				var f uint8
				for _, part := range bytes.Split(key, []byte{'-'}) {
					pf := l.info[string(part)]
					if pf&(fGiven|fSurname) == 0 {
						f = 0
						break
					}
					f |= pf & (fGiven | fSurname | fWord)
				}
				inf = f
			}
			w.flags = inf & (fGiven | fSurname | fWord)
			w.dict = inf&fDict != 0
			w.stopCap = inf&fStop != 0
			switch {
			case inf&fTitle != 0:
				w.role = rTitle
			case inf&fGreet != 0:
				w.role = rGreet
			case inf&fOrg != 0:
				w.role = rOrg
			case inf&fStop != 0:
				w.role = rStop
			case w.dict && w.flags&(fGiven|fSurname) == 0:
				w.role = rStop
			}
			out = append(out, w)
			continue
		}
		r, size := utf8.DecodeRuneInString(t[i:])
		if !isDevanagari(r) || (r >= 0x093E && r <= 0x094D) || r == 0x0964 || r == 0x0965 || (r >= 0x0966 && r <= 0x096F) {
			i += size
			continue
		}
		s := i
		for i < len(t) {
			r, size = utf8.DecodeRuneInString(t[i:])
			if !isDevanagari(r) || r == 0x0964 || r == 0x0965 || (r >= 0x0966 && r <= 0x096F) {
				break
			}
			i += size
		}
		w := word{s: s, e: i, kind: kDeva}
		inf := l.info[t[s:i]]
		w.flags = inf & (fGiven | fSurname)
		switch {
		case inf&fTitle != 0:
			w.role = rTitle
		case inf&fGreet != 0:
			w.role = rGreet
		case inf&fStop != 0:
			w.role = rStop
		}
		out = append(out, w)
	}
	d.words = out
	return out
}

// lookup reads the lexicon through a small direct-mapped cache kept with
// the pooled doc: documents repeat their capitalised words ("Name",
// "Customer", "Date"), and a miss in the big map is a cache miss in memory.
func (d *doc) lookup(l *lexicon, key []byte) uint8 {
	h := uint32(2166136261)
	for _, c := range key {
		h = (h ^ uint32(c)) * 16777619
	}
	e := &d.wcache[h%uint32(len(d.wcache))]
	if e.ok && string(e.key[:e.n]) == string(key) {
		return e.inf
	}
	inf := l.info[string(key)]
	if len(key) <= len(e.key) {
		e.n = uint8(copy(e.key[:], key))
		e.inf, e.ok = inf, true
	}
	return inf
}

// wcEntry holds its key inline, so that filling the cache allocates nothing.
type wcEntry struct {
	key [22]byte
	n   uint8
	inf uint8
	ok  bool
}

// joinable reports whether words a and b (a before b) belong to one name.
func (d *doc) joinable(a, b *word) bool {
	gap := d.text[a.e:b.s]
	if a.kind == kDeva || b.kind == kDeva {
		return gap == " " && a.kind == b.kind
	}
	switch gap {
	case " ":
		return true
	case ". ":
		return a.role == rTitle
	case "/":
		return a.kind == kUpper && b.kind == kUpper
	}
	return false
}

var labelWords = []string{"name", "patient", "customer", "client", "agent", "beneficiary", "remitter", "applicant", "employee",
	"consultant", "doctor", "nurse", "contact", "caller", "holder", "nominee", "guardian", "father", "mother", "husband", "wife",
	"spouse", "son", "daughter", "attendant", "signed", "manager", "officer", "partner", "executive", "representative",
	"emergency", "referred", "physician", "surgeon", "by", "from", "to", "attn", "owner", "landlord", "tenant", "payee", "sender",
	"receiver", "recipient", "witness", "member", "passenger", "traveller", "cardholder", "insured", "driver", "rider",
	"technician", "engineer", "approver", "reviewer", "prepared", "verified", "cc", "bcc", "student", "teacher", "user",
	"claimant", "policyholder", "proposer", "borrower", "guarantor", "co-applicant", "lessee", "consignee", "addressee",
	"complainant", "informant", "caretaker", "parent", "husband's", "father's", "mother's", "wife's", "spouse's", "child",
	"donor", "assured", "heir", "legal", "kin", "relative", "signatory", "authorised", "authorized", "coordinator", "clerk",
	"नाम", "मरीज", "मरीज़", "ग्राहक", "पार्टनर", "एजेंट", "डॉक्टर", "पिता", "माता", "पति", "पत्नी", "संपर्क"}

var labelWordSet = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range labelWords {
		m[w] = true
	}
	return m
}()

var phraseCues = []string{"thank you", "thanks", "thankyou", "name is", "name's", "call me", "named", "called", "identified as", "spoke to", "spoke with",
	"s/o", "w/o", "d/o", "c/o", "son of", "daughter of", "wife of", "husband of", "i am", "i'm", "this is", "signed by",
	"approved by", "referred by", "assisted by", "handled by", "contact person", "attended by", "seen by", "treated by"}

var phraseCueSet = newPhraseSet(phraseCues)

var signOffs = []string{"regards,", "regards", "sincerely,", "thanks,", "thank you,", "best,", "cheers,", "yours truly,",
	"yours faithfully,", "yours sincerely,", "warm regards,", "best regards,", "kind regards,", "धन्यवाद,", "धन्यवाद"}

// labelCue reports whether the label text before a ':' names a person's role.
func labelCue(pre string) bool {
	lab := strings.TrimRight(pre, " \t:")
	if k := strings.LastIndexAny(lab, ",;|\t):("); k >= 0 {
		lab = lab[k+1:]
	}
	if k := strings.LastIndex(lab, "  "); k >= 0 {
		lab = lab[k+2:]
	}
	if len(lab) > 40 {
		lab = lab[len(lab)-40:]
	}
	// the label's words, split at anything but letters (Devanagari bytes count as letters)
	for i := 0; i < len(lab); {
		for i < len(lab) && !(isAlpha(lab[i]) || lab[i] >= 0x80) {
			i++
		}
		j := i
		for j < len(lab) && (isAlpha(lab[j]) || lab[j] >= 0x80) {
			j++
		}
		if j > i && labelWordSet[lab[i:j]] {
			return true
		}
		i = j
	}
	return false
}

// cueBefore scores the evidence in the text right before a chain.
func (d *doc) cueBefore(cs int) float64 {
	ls := d.lineStart(cs)
	pre := strings.TrimRight(d.lower[ls:cs], " \t")
	if pre == "" {
		// first on its line: a sign-off on the line before?
		if ls >= 2 {
			pl := strings.TrimSpace(d.lower[d.lineStart(ls-1) : ls-1])
			for _, s := range signOffs {
				if pl == s {
					return 0.35
				}
			}
			if strings.HasSuffix(pl, ":") && labelCue(pl[:len(pl)-1]) {
				return 0.3 // "Delivering to:" on its own line
			}
		}
		return 0
	}
	end := ls + len(pre)
	if isWordByte(pre[len(pre)-1]) && phraseCueSet.last(d, max(ls, end-24), end) == end {
		return 0.35
	}
	last := pre[len(pre)-1]
	if last == ':' || last == '(' || last == '-' || last == '=' {
		if labelCue(pre[:len(pre)-1]) {
			return 0.35
		}
	}
	if last == ',' {
		for _, s := range signOffs {
			if strings.HasSuffix(pre, s) {
				return 0.35
			}
		}
	}
	return 0
}

func scanPerson(d *doc, emit0 func(int, int, float64)) {
	// "Surname, Given" (billing records) is one name: a lone surname followed
	// by ", " and a part that starts with a given name is merged with it
	var pend struct {
		s, e    int
		score   float64
		surname bool // a single surname-flagged word
		ok      bool
	}
	flush := func() {
		if pend.ok {
			emit0(pend.s, pend.e, pend.score)
			pend.ok = false
		}
	}
	defer flush()
	emit := func(s, e int, score float64, part []word) {
		if pend.ok && pend.surname && e > s && pend.e+2 == s && d.text[pend.e:s] == ", " && part[0].flags&fGiven != 0 && part[0].flags&fWord == 0 {
			pend.e, pend.score, pend.surname = e, max(pend.score, score), false
			return
		}
		flush()
		pend.s, pend.e, pend.score, pend.ok = s, e, score, true
		pend.surname = len(part) == 1 && part[0].flags&fSurname != 0 && part[0].kind != kDeva
	}
	ws := d.personWords()
	t := d.text
	for i := 0; i < len(ws); {
		// a chain of joinable words
		j := i + 1
		for j < len(ws) && d.joinable(&ws[j-1], &ws[j]) {
			j++
		}
		chain := ws[i:j]
		i = j
		if len(chain) > 8 {
			continue // a run of capitalised words this long is a heading or a list, not one name
		}
		// an organisation/place word anywhere in the chain makes it not a person
		org := false
		for k := range chain {
			if chain[k].role == rOrg {
				org = true
			}
		}
		if org {
			continue
		}
		// an ordinary word is a name right after a greeting or title when the
		// name ends there ("Hi Shiny,"), or when a surname follows ("Shiny Bose")
		for k := range chain {
			w := &chain[k]
			if w.role != rStop || w.kind != kTitle || w.stopCap {
				continue
			}
			afterCue := k > 0 && (chain[k-1].role == rGreet || chain[k-1].role == rTitle)
			endsName := k == len(chain)-1 && (w.e >= len(t) || t[w.e] == ',' || t[w.e] == '!' || t[w.e] == '\n')
			beforeSurname := k+1 < len(chain) && chain[k+1].flags&(fSurname|fGiven|fWord) == fSurname
			if (afterCue && endsName) || beforeSurname {
				w.role = rName
				w.flags |= fWord | fGiven
			}
		}
		// split at titles, greetings and stop words; titles and greetings cue what follows
		cue := 0.0
		for a := 0; a < len(chain); {
			w := &chain[a]
			if w.role == rTitle {
				cue = 0.45
				a++
				continue
			}
			if w.role == rGreet {
				cue = 0.35
				a++
				continue
			}
			if w.role == rStop {
				cue = 0
				a++
				continue
			}
			b := a
			for b < len(chain) && chain[b].role == rName {
				b++
			}
			part := chain[a:b]
			c := cue
			lookBefore := a == 0 || (c == 0 && d.text[chain[a-1].e:part[0].s] != " ")
			if s, e, score := scorePart(d, part, c, lookBefore); score > 0 {
				emit(s, e, score, part)
			}
			cue = 0
			a = b
		}
	}
}

// scorePart scores a run of name-candidate words with the cue before it.
func scorePart(d *doc, part []word, cue float64, lookBefore bool) (int, int, float64) {
	// trailing initials are not part of a name ("Kumar A." is rare, "Section A." common)
	for len(part) > 0 && part[len(part)-1].kind == kInitial {
		part = part[:len(part)-1]
	}
	// Devanagari has no capitals: a chain runs on into ordinary words
	// ("अनिल मिश्रा ने दवाई"), so keep only lexicon names, plus one unknown
	// word right after a title or greeting ("श्री रामेश्वर")
	if len(part) > 0 && part[0].kind == kDeva {
		if cue == 0 && lookBefore {
			cue, lookBefore = d.cueBefore(part[0].s), false
		}
		k := 0
		for k < len(part) && k < 4 && (part[k].flags&(fGiven|fSurname) != 0 || (k == 0 && cue > 0)) {
			k++
		}
		part = part[:k]
	}
	// a leading ordinary word that is only a surname ("Call Priya Sharma")
	for len(part) > 1 && part[0].flags&fWord != 0 && part[0].flags&fGiven == 0 {
		part = part[1:]
	}
	if len(part) == 0 {
		return 0, 0, 0
	}
	var nName, nAmb, nUnk, nGiven, nGivenAny, nInit int
	upper := 0
	for k := range part {
		w := &part[k]
		switch {
		case w.kind == kInitial:
			nInit++
		case w.flags&(fGiven|fSurname) != 0 && w.flags&fWord == 0:
			nGivenAny += int(w.flags & fGiven)
			nName++
			if w.flags&fGiven != 0 {
				nGiven++
			}
		case w.flags&(fGiven|fSurname) != 0:
			nAmb++
			nGivenAny += int(w.flags & fGiven)
		default:
			nUnk++
		}
		if w.kind == kUpper {
			upper++
		}
	}
	L := nName + nAmb + nUnk
	if L == 0 {
		return 0, 0, 0
	}
	var base float64
	switch {
	case nName >= 2:
		base = 0.85
	case nName == 1 && L >= 2 && (nGivenAny > 0 || nUnk > 0):
		base = 0.75 // "Robert Miller", "Bhadraksh Kamble"; not "Room Heater"
	case nName == 1 && nGiven == 1:
		base = 0.6
	case nName == 1:
		base = 0.4
	case nAmb >= 2:
		base = 0.4
	case nAmb == 1 && nUnk >= 1:
		base = 0.4
	case nUnk >= 2:
		base = 0.3
	default:
		base = 0.2
	}
	if upper == len(part)-nInit && nName == 0 {
		base -= 0.1 // headings in capitals
	}
	if lookBefore && base < 0.85 && base+0.45 >= 0.5 {
		cue = d.cueBefore(part[0].s) // only when it can change the outcome
	}
	// a name-like word right before a lower-case word at sentence start is
	// usually an ordinary word ("Will the", "Grace period")
	after := part[len(part)-1].e
	if cue == 0 && L == 1 && nName == 0 {
		return 0, 0, 0
	}
	if d.hasWord(after, after+4, []string{"ji", "जी"}) {
		cue += 0.3
	}
	// mid-sentence capitals after a lower-case word are proper nouns
	if L >= 2 && cue == 0 && nName+nUnk > 0 {
		if st := part[0].s; st >= 2 && d.text[st-1] == ' ' && isLower(d.text[st-2]) {
			base += 0.1
		}
	}
	score := base + cue
	if score > 0.85 {
		score = 0.85
	}
	return part[0].s, after, score
}
