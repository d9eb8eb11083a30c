package anonymize

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/llmtune/llmtune/internal/atomicfile"
)

type operator struct {
	kind     string
	keepLast int
	maskChar string
	value    string
}

var operatorKinds = map[string]bool{"tag": true, "redact": true, "mask": true, "pseudonym": true, "keep": true, "replace": true}

func (e *Engine) setOperators(p Policy) error {
	e.defaultOp = operator{kind: "tag"}
	needKey := false
	for typ, spec := range p.Operators {
		k := strings.ToLower(spec.Operator)
		if !operatorKinds[k] {
			return fmt.Errorf("operator %q for %s: use tag, redact, mask, pseudonym, replace or keep", spec.Operator, typ)
		}
		op := operator{kind: k, keepLast: spec.KeepLast, maskChar: spec.MaskChar, value: spec.Value}
		if op.maskChar == "" {
			op.maskChar = "*"
		}
		if k == "mask" && spec.KeepLast == 0 {
			op.keepLast = 4
		}
		if k == "pseudonym" {
			needKey = true
		}
		if strings.EqualFold(typ, "default") {
			e.defaultOp = op
		} else {
			e.ops[strings.ToUpper(typ)] = op
		}
	}
	if needKey {
		key, err := loadOrCreateKey(p.KeyFile)
		if err != nil {
			return err
		}
		e.key = key
	}
	return nil
}

// DefaultKeyFile is where the pseudonym key lives unless the policy says.
func DefaultKeyFile() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "llmtune", "pseudonym.key")
}

// loadOrCreateKey reads the 32-byte hex key, creating it (0600, in a 0700
// directory) on first use. The key never leaves the machine; whoever holds
// it can test guesses against pseudonyms, so it is as private as the data.
func loadOrCreateKey(path string) ([]byte, error) {
	if path == "" {
		path = DefaultKeyFile()
	}
	b, err := os.ReadFile(path)
	if err == nil {
		key, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(key) < 16 {
			return nil, fmt.Errorf("pseudonym key %s is not 32+ hex digits; delete it to create a new one (pseudonyms will change)", path)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading pseudonym key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating key directory: %w", err)
	}
	if err := atomicfile.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing pseudonym key: %w", err)
	}
	return key, nil
}

// replace applies the type's operator to one detected value.
func (doc *Document) replace(typ, value string) string {
	op, ok := doc.e.ops[typ]
	if !ok {
		op = doc.e.defaultOp
	}
	switch op.kind {
	case "keep":
		return value
	case "redact":
		return ""
	case "replace":
		return op.value
	case "mask":
		return mask(value, op.keepLast, op.maskChar)
	case "pseudonym":
		return pseudonym(doc.e.key, typ, value)
	}
	m := doc.tags[typ]
	if m == nil {
		m = map[string]int{}
		doc.tags[typ] = m
	}
	k := normalise(typ, value)
	n, ok := m[k]
	if !ok {
		n = len(m) + 1
		m[k] = n
	}
	return "<" + typ + "_" + strconv.Itoa(n) + ">"
}

// normalise makes different spellings of one value share a tag number.
func normalise(typ, v string) string {
	switch typ {
	case "PERSON", "EMAIL", "URL", "UPI_ID", "ADDRESS":
		return strings.ToLower(strings.Join(strings.Fields(v), " "))
	}
	var b []byte
	for i := 0; i < len(v); i++ {
		if isAlnum(v[i]) || v[i] >= 0x80 {
			c := v[i]
			if isLower(c) {
				c -= 32
			}
			b = append(b, c)
		}
	}
	if typ == "PHONE" && len(b) == 12 && b[0] == '9' && b[1] == '1' {
		b = b[2:]
	}
	if typ == "PHONE" && len(b) == 11 && b[0] == '0' {
		b = b[1:]
	}
	return string(b)
}

// mask replaces letters and digits except the last keep of them.
func mask(v string, keep int, ch string) string {
	total := 0
	for i := 0; i < len(v); i++ {
		if isAlnum(v[i]) {
			total++
		}
	}
	var b strings.Builder
	seen := 0
	for _, r := range v {
		if r < 0x80 && isAlnum(byte(r)) {
			seen++
			if seen <= total-keep {
				b.WriteString(ch)
				continue
			}
		} else if r >= 0x80 && keep == 0 {
			b.WriteString(ch)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// stream is a deterministic byte source keyed by (key, type, value).
type stream struct {
	mac  []byte
	seed []byte
	buf  []byte
	ctr  uint32
}

func newStream(key []byte, typ, value string) *stream {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write([]byte(normalise(typ, value)))
	return &stream{mac: key, seed: h.Sum(nil)}
}

func (s *stream) next() byte {
	if len(s.buf) == 0 {
		h := hmac.New(sha256.New, s.mac)
		h.Write(s.seed)
		var c [4]byte
		binary.BigEndian.PutUint32(c[:], s.ctr)
		s.ctr++
		h.Write(c[:])
		s.buf = h.Sum(nil)
	}
	b := s.buf[0]
	s.buf = s.buf[1:]
	return b
}

func (s *stream) intn(n int) int {
	v := uint32(s.next())<<24 | uint32(s.next())<<16 | uint32(s.next())<<8 | uint32(s.next())
	return int(v % uint32(n))
}
func (s *stream) digit(lo byte) byte { return lo + byte(s.intn(int('9'-lo)+1)) }
func (s *stream) upper() byte        { return 'A' + byte(s.intn(26)) }

// pseudonym derives a realistic, consistent surrogate: the same value gets
// the same surrogate in every file and run that uses the same key.
// Identifiers keep their layout and a valid checksum.
func pseudonym(key []byte, typ, v string) string {
	s := newStream(key, typ, v)
	switch typ {
	case "PERSON":
		return fakeName(s, v)
	case "EMAIL":
		at := strings.LastIndexByte(v, '@')
		dom := "example.com"
		if at >= 0 && publicMail[strings.ToLower(v[at+1:])] {
			dom = v[at+1:]
		}
		return strings.ToLower(strings.ReplaceAll(fakeName(s, "A B"), " ", ".")) + strconv.Itoa(10+s.intn(90)) + "@" + dom
	case "UPI_ID":
		at := strings.LastIndexByte(v, '@')
		return strings.ToLower(strings.ReplaceAll(fakeName(s, "A B"), " ", ".")) + v[at:]
	case "URL":
		return "https://example.com/" + hex.EncodeToString([]byte{s.next(), s.next(), s.next(), s.next()})
	case "IP_ADDRESS":
		if strings.Contains(v, ":") {
			return fmt.Sprintf("2001:db8::%x:%x", s.intn(65536), s.intn(65536))
		}
		return fmt.Sprintf("10.%d.%d.%d", s.intn(256), s.intn(256), 1+s.intn(254))
	case "ADDRESS":
		return fmt.Sprintf("%d, %s, %s %d", 1+s.intn(999), fakeStreets[s.intn(len(fakeStreets))], fakeCities[s.intn(len(fakeCities))], 110001+s.intn(780000))
	}
	return fakeID(s, typ, v)
}

var publicMail = set(`gmail.com yahoo.com yahoo.co.in outlook.com hotmail.com rediffmail.com protonmail.com icloud.com live.com aol.com`)
var fakeStreets = []string{"MG Road", "Station Road", "Park Street", "Lake View Colony", "Gandhi Nagar", "Civil Lines", "Model Town", "Rajaji Street"}
var fakeCities = []string{"Nagpur", "Indore", "Mysuru", "Coimbatore", "Lucknow", "Surat", "Bhopal", "Vadodara"}

func fakeName(s *stream, v string) string {
	l := loadLexicon()
	deva := false
	for _, r := range v {
		if isDevanagari(r) {
			deva = true
			break
		}
	}
	parts := strings.Fields(v)
	if len(parts) == 0 {
		parts = []string{v}
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		pool := l.given[deva]
		if i > 0 && i == len(parts)-1 {
			pool = l.surn[deva]
		}
		if len(pool) == 0 {
			pool = []string{"anon"}
		}
		n := pool[s.intn(len(pool))]
		switch {
		case deva:
		case len(p) > 1 && strings.ToUpper(p) == p:
			n = strings.ToUpper(n)
		default:
			n = strings.ToUpper(n[:1]) + n[1:]
		}
		out[i] = n
	}
	return strings.Join(out, " ")
}

// fakeID replaces each letter and digit, keeping separators, fixed prefixes
// that carry format (country codes, PAN holder letter, card network) and
// recomputing check digits.
func fakeID(s *stream, typ, v string) string {
	b := []byte(v)
	var idx []int // positions of alphanumerics
	for i, c := range b {
		if isAlnum(c) {
			idx = append(idx, i)
		}
	}
	keep := 0
	switch typ {
	case "CREDIT_CARD":
		keep = 1
	case "IBAN":
		keep = 2
	case "PHONE":
		if strings.HasPrefix(strings.TrimLeft(v, "(+"), "91") && len(idx) >= 12 {
			keep = 3 // 91 and the mobile's leading digit
		} else if strings.HasPrefix(v, "+") || strings.HasPrefix(v, "(+") {
			keep = len(idx) - 7
		} else {
			keep = 1
		}
	case "IFSC":
		keep = 5 // bank code and the literal 0
	}
	for k, i := range idx {
		if k < keep {
			continue
		}
		c := b[i]
		switch {
		case isDigit(c):
			lo := byte('0')
			if k == 0 && (typ == "AADHAAR") {
				lo = '2'
			}
			b[i] = s.digit(lo)
		case isUpper(c):
			if typ == "PAN" && k == 3 {
				continue // holder type
			}
			b[i] = s.upper()
		default:
			b[i] = s.upper() + 32
		}
	}
	digits := func() []byte {
		var ds []byte
		for _, i := range idx {
			ds = append(ds, b[i])
		}
		return ds
	}
	put := func(ds []byte) {
		for k, i := range idx {
			b[i] = ds[k]
		}
	}
	switch typ {
	case "CREDIT_CARD":
		ds := digits()
		luhnFix(ds)
		put(ds)
	case "AADHAAR":
		ds := digits()
		if ds[0] < '2' {
			ds[0] = '2'
		}
		verhoeffFix(ds)
		if !aadhaarOK(ds) { // palindrome by chance
			ds[1] = '0' + (ds[1]-'0'+1)%10
			verhoeffFix(ds)
		}
		put(ds)
	case "IBAN":
		ds := digits()
		for i := range ds {
			if isLower(ds[i]) {
				ds[i] -= 32
			}
		}
		ibanFix(ds)
		put(ds)
	case "US_SSN":
		ds := digits()
		for !ssnOK(ds) {
			ds[0] = s.digit('1')
			if ds[0] == '9' || ds[0] == '6' {
				ds[0] = '1'
			}
			ds[3], ds[5] = s.digit('1'), s.digit('1')
		}
		put(ds)
	}
	return string(b)
}
