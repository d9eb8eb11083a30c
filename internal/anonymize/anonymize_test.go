package anonymize

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/llmtune/llmtune/internal/testutil"
)

// Published check-digit vectors.
func TestValidators(t *testing.T) {
	cases := []struct {
		name string
		fn   func([]byte) bool
		in   string
		want bool
	}{
		{"luhn visa test card", luhnOK, "4111111111111111", true},
		{"luhn 79927398713 (Wikipedia)", luhnOK, "79927398713", true},
		{"luhn off by one", luhnOK, "79927398710", false},
		{"card amex test", cardOK, "371449635398431", true},
		{"card uatp 15 digits", cardOK, "122000000000003", true},
		{"card leading 9", cardOK, "9111111111111111", false},
		{"verhoeff 2363 (Wikipedia)", verhoeffOK, "2363", true},
		{"verhoeff 2364", verhoeffOK, "2364", false},
		{"aadhaar presidio valid", aadhaarOK, "312345678909", true},
		{"aadhaar leading 1", aadhaarOK, "123456789012", false},
		{"iban GB (ISO 13616 example)", ibanOK, "GB82WEST12345698765432", true},
		{"iban DE (ECBS example)", ibanOK, "DE89370400440532013000", true},
		{"iban DE bad check", ibanOK, "DE89370400440532013001", false},
		{"iban wrong length", ibanOK, "GB82WEST1234569876543", false},
		{"ssn ok", ssnOK, "078051121", true},
		{"ssn withdrawn", ssnOK, "078051120", false},
		{"ssn area 666", ssnOK, "666123456", false},
		{"ssn group 00", ssnOK, "123001234", false},
		{"ssn serial 0000", ssnOK, "123450000", false},
	}
	for _, c := range cases {
		if got := c.fn([]byte(c.in)); got != c.want {
			t.Errorf("%s: %s = %v, want %v", c.name, c.in, got, c.want)
		}
	}
	for _, p := range []struct {
		s    string
		want bool
	}{{"ABCPD1234Z", true}, {"AAASA1111R", false}, {"ABCD1234", false}, {"abcpd1234z", false}} {
		if panOK(p.s) != p.want {
			t.Errorf("panOK(%s) != %v", p.s, p.want)
		}
	}
	if !validIPv6("2001:db8::1") || validIPv6("2001::db8::1") || validIPv6("12:34:56") || !validIPv6("::ffff:192.0.2.1") || validIPv6("684D:1111:222:3333:4444:5555:77") {
		t.Error("validIPv6 disagrees with RFC 4291 text forms")
	}
}

func TestFixersMakeValidNumbers(t *testing.T) {
	ds := []byte("4111111111111112")
	luhnFix(ds)
	if string(ds) != "4111111111111111" {
		t.Errorf("luhnFix: %s", ds)
	}
	a := []byte("236x")
	verhoeffFix(a)
	if string(a) != "2363" {
		t.Errorf("verhoeffFix: %s", a)
	}
	ib := []byte("GB00WEST12345698765432")
	ibanFix(ib)
	if string(ib) != "GB82WEST12345698765432" {
		t.Errorf("ibanFix: %s", ib)
	}
}

func TestRecognizers(t *testing.T) {
	cases := []struct {
		text, typ, value string // value "" means: nothing of typ may be found
	}{
		{"Mobile: +91 98450 12345 today", "PHONE", "+91 98450 12345"},
		{"call (+91) 87602-36249 now", "PHONE", "(+91) 87602-36249"},
		{"partner: Ravi (+91 70451 46531)", "PHONE", "+91 70451 46531"},
		{"डिलीवरी पार्टनर: रमेश (+91 70451 46531)", "PERSON", "रमेश"},
		{"डॉ. अनिल मिश्रा ने दवाई लिखी", "PERSON", "अनिल मिश्रा"},
		{"पता: ग्राम बरौली, पोस्ट सिवान, बिहार 841226", "ADDRESS", "ग्राम बरौली, पोस्ट सिवान, बिहार 841226"},
		{"landline 080-2345 6789.", "PHONE", "080-2345 6789"},
		{"US (415) 555-0132, thanks", "PHONE", "(415) 555-0132"},
		{"Aadhaar: 2345 6789 0125 ok", "AADHAAR", ""}, // fails Verhoeff
		{"Aadhaar: 3123 4567 8909 ok", "AADHAAR", "3123 4567 8909"},
		{"UPI Ref No. 409875820084 failed", "AADHAAR", ""},
		{"card 4012-8888-8888-1881 exp 08/27", "CREDIT_CARD", "4012-8888-8888-1881"},
		{"merchant ref 8172 1834 7315 8796", "CREDIT_CARD", ""},
		{"masked XXXX XXXX XXXX 4821", "CREDIT_CARD", ""},
		{"PAN ABCPK1234Q issued", "PAN", "ABCPK1234Q"},
		{"code ABCZK1234Q", "PAN", ""},
		{"IFSC: HDFC0001234.", "IFSC", "HDFC0001234"},
		{"pay to ravi.k@okicici please", "UPI_ID", "ravi.k@okicici"},
		{"mail ravi.k@example.co.in.", "EMAIL", "ravi.k@example.co.in"},
		{"A/c No. 123456789012 at SBI", "BANK_ACCOUNT", "123456789012"},
		{"login from 27.63.194.243 (Noida)", "IP_ADDRESS", "27.63.194.243"},
		{"firmware 4.5.0.4 released", "IP_ADDRESS", ""},
		{"route fe80::1%eth0/64 up", "IP_ADDRESS", "fe80::1%eth0/64"},
		{"see https://example.com/a?b=1.", "URL", "https://example.com/a?b=1"},
		{"DOB: 12/03/1985, admitted 04/11/2024", "DATE_OF_BIRTH", "12/03/1985"},
		{"born on 3rd March 1985 in Pune", "DATE_OF_BIRTH", "3rd March 1985"},
		{"Invoice dated 19-02-2025", "DATE_OF_BIRTH", ""},
		{"Address: Flat 12, MG Road, Indiranagar, Bengaluru 560038\n", "ADDRESS", "Flat 12, MG Road, Indiranagar, Bengaluru 560038"},
		{"Passport No.: W4189898", "PASSPORT", "W4189898"},
		{"EPIC No. LWO1483755", "VOTER_ID", "LWO1483755"},
		{"IBAN: GB82 WEST 1234 5698 7654 32", "IBAN", "GB82 WEST 1234 5698 7654 32"},
		{"SSN 078-05-1123 on file", "US_SSN", "078-05-1123"},
		{"MRN: KMC0012345, ward 4", "MRN", "KMC0012345"},
		{"UHID: MH/2023/004812 ok", "MRN", "MH/2023/004812"},
		{"MRN 12/03/2024 seen", "MRN", ""},
		{"Wife Mary Smith at bedside", "PERSON", "Mary Smith"},
		{"Patient Name: Shri Ramesh Kumar Sharma", "PERSON", "Ramesh Kumar Sharma"},
		{"Dear Mr. Iyer,", "PERSON", "Iyer"},
		{"Hi Will, will you come?", "PERSON", "Will"},
		{"Will the old API keep working?", "PERSON", ""},
		{"Grace period is 22 days.", "PERSON", ""},
		{"Closed for Gandhi Jayanti tomorrow.", "PERSON", ""},
		{"Free camp at Indira Gandhi Stadium.", "PERSON", ""},
		{"नमस्ते सीमा जी, आपका ऑर्डर", "PERSON", "सीमा"},
		{"SHARMA/RAHUL MR boarding", "PERSON", "SHARMA/RAHUL"},
		{"Billing name: Johnson, Emily\n", "PERSON", "Johnson, Emily"},
	}
	e := Default()
	for _, c := range cases {
		var got []string
		for _, s := range e.Detect(c.text) {
			if s.Type == c.typ {
				got = append(got, c.text[s.Start:s.End])
			}
		}
		switch {
		case c.value == "" && len(got) > 0:
			t.Errorf("%q: found %s %q, want none", c.text, c.typ, got)
		case c.value != "" && (len(got) != 1 || got[0] != c.value):
			t.Errorf("%q: found %s %q, want %q", c.text, c.typ, got, c.value)
		}
	}
}

func TestOverlapResolutionIsDeterministic(t *testing.T) {
	// the same candidates in any order resolve to the same spans
	e := &Engine{threshold: 0.5}
	a := []Span{{0, 10, "B", 0.8}, {0, 12, "A", 0.8}, {5, 20, "C", 0.9}, {20, 25, "D", 0.6}}
	b := []Span{a[3], a[2], a[1], a[0]}
	ra, rb := e.resolve("", a, nil), e.resolve("", b, nil)
	if len(ra) != 2 || ra[0].Type != "C" || ra[1].Type != "D" || len(rb) != 2 || rb[0] != ra[0] {
		t.Fatalf("resolve: %v / %v", ra, rb)
	}
	// equal score: the longer wins
	r := e.resolve("", []Span{{0, 10, "B", 0.8}, {0, 12, "A", 0.8}}, nil)
	if len(r) != 1 || r[0].Type != "A" {
		t.Fatalf("longer should win: %v", r)
	}
}

func TestTagsNumberedPerDocument(t *testing.T) {
	text := "Hi Priya Sharma, call 9845012345. Priya Sharma's alt: 9845012345 or 9900112233."
	out, spans := Default().Anonymize(text)
	want := "Hi <PERSON_1>, call <PHONE_1>. <PERSON_1>'s alt: <PHONE_1> or <PHONE_2>."
	if out != want || len(spans) != 5 {
		t.Fatalf("got %q (%d spans)", out, len(spans))
	}
}

func TestOperators(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "sub", "pseudonym.key")
	p := Policy{
		KeyFile: key,
		Operators: map[string]OperatorSpec{
			"CREDIT_CARD": {Operator: "mask", KeepLast: 4},
			"EMAIL":       {Operator: "redact"},
			"default":     {Operator: "pseudonym"},
		},
	}
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", err, st)
	}
	text := "Card 4012 8888 8888 1881, mail a.b@example.com, Aadhaar 3123 4567 8909, PAN ABCPK1234Q, IBAN GB82 WEST 1234 5698 7654 32, name: Ramesh Iyer"
	out, _ := e.Anonymize(text)
	if !strings.Contains(out, "Card **** **** **** 1881,") || !strings.Contains(out, "mail ,") {
		t.Fatalf("mask/redact: %q", out)
	}
	for _, leaked := range []string{"3123 4567 8909", "ABCPK1234Q", "GB82 WEST", "Ramesh", "Iyer"} {
		if strings.Contains(out, leaked) {
			t.Errorf("pseudonym left %q in %q", leaked, out)
		}
	}
	// surrogates keep format and checksums, so they are detected as the same types
	got := map[string]string{}
	for _, s := range Default().Detect(out) {
		got[s.Type] = out[s.Start:s.End]
	}
	for _, typ := range []string{"AADHAAR", "PAN", "IBAN"} {
		if got[typ] == "" {
			t.Errorf("pseudonymised %s is no longer a valid %s: %q", typ, typ, out)
		}
	}
	if v := got["PAN"]; len(v) == 10 && v[3] != 'P' {
		t.Errorf("PAN holder letter changed: %s", v)
	}
	// consistent across engines (runs) with the same key, different with another key
	e2, _ := New(p)
	out2, _ := e2.Anonymize(text)
	if out2 != out {
		t.Errorf("pseudonyms differ between runs:\n%q\n%q", out, out2)
	}
	p.KeyFile = filepath.Join(dir, "other.key")
	e3, _ := New(p)
	if out3, _ := e3.Anonymize(text); out3 == out {
		t.Error("a different key gave the same pseudonyms")
	}
}

func TestPolicyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	os.WriteFile(path, []byte(`threshold: 0.5
operators:
  PHONE: {operator: mask, keep_last: 2, char: "X"}
  EMP_ID: redact
allow: ["Ramesh Iyer"]
deny:
  - value: Project Falcon
    type: CODENAME
recognizers:
  - name: employee id
    type: EMP_ID
    pattern: 'EMP-[0-9]{6}'
    context: [employee]
disable: [URL]
`), 0o600)
	p, err := LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := e.Anonymize("Ramesh Iyer (employee EMP-123456) on project falcon, phone 9845012345, see https://example.com")
	want := "Ramesh Iyer (employee ) on <CODENAME_1>, phone XXXXXXXX45, see https://example.com"
	if out != want {
		t.Fatalf("got  %q\nwant %q", out, want)
	}
	os.WriteFile(path, []byte("operatorz: {}\n"), 0o600)
	if _, err := LoadPolicy(path); err == nil || !strings.Contains(err.Error(), "operatorz") {
		t.Errorf("unknown key not rejected: %v", err)
	}
	os.WriteFile(path, []byte("recognizers: [{type: X, pattern: '('}]\n"), 0o600)
	if _, err := LoadPolicy(path); err == nil {
		t.Error("bad pattern not rejected")
	}
}

func TestStreamKeepsOtherFieldsAndOrder(t *testing.T) {
	in := `{"id":"r1","meta":{"x":[1,2]},"text":"Call Priya Sharma on 9845012345","n":3}
{"messages":[{"role":"user","content":"I am Priya Sharma"},{"role":"assistant","content":"Hello Priya Sharma"}],"id":"r2"}
`
	var out bytes.Buffer
	rep, err := Default().Stream(context.Background(), strings.NewReader(in), &out, StreamOptions{Fields: []string{"text", "messages"}, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"r1","meta":{"x":[1,2]},"text":"Call <PERSON_1> on <PHONE_1>","n":3}
{"messages":[{"role":"user","content":"I am <PERSON_1>"},{"role":"assistant","content":"Hello <PERSON_1>"}],"id":"r2"}
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
	if rep.Records != 2 || rep.Entities["PERSON"] != 3 || rep.Entities["PHONE"] != 1 {
		t.Errorf("report %+v", rep)
	}
	out.Reset()
	if _, err := Default().Stream(context.Background(), strings.NewReader(in), &out, StreamOptions{Spans: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), `{"id":"r1","spans":[{"start":5,"end":17,"type":"PERSON"`) {
		t.Errorf("spans output: %s", out.String())
	}
	_, err = Default().Stream(context.Background(), strings.NewReader("{\"text\":\"ok\"}\n{\"text\": \"Priya 9845012345\"\n"), &out, StreamOptions{})
	if err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "Priya") {
		t.Errorf("bad line error should name line 2 and not quote it: %v", err)
	}
}

// Every pattern must be linear: a pathological input is no slower per byte
// than ordinary text by more than a small factor. Checked here for
// correctness of bounds only (no timing): long runs must not create spans
// that exceed their documented maximum lengths.
func TestBoundedSpans(t *testing.T) {
	inputs := []string{
		strings.Repeat("1 ", 5000), strings.Repeat("a@", 3000), strings.Repeat("::1:", 3000),
		strings.Repeat("Priya ", 3000), "https://" + strings.Repeat("a", 5000) + ".com",
		strings.Repeat("GB82 ", 2000), strings.Repeat("DOB ", 2000),
	}
	for _, in := range inputs {
		for _, s := range Default().Detect(in) {
			if s.End-s.Start > 2100 {
				t.Errorf("unbounded %s span of %d bytes", s.Type, s.End-s.Start)
			}
		}
	}
}

func FuzzDetect(f *testing.F) {
	for _, s := range []string{
		"Hi Priya Sharma, Aadhaar 3123 4567 8909, PAN ABCPK1234Q, +91 98450 12345",
		"नमस्ते सीमा जी, पता: E-4098, Brigade Meadows, Pune 411030",
		"IBAN GB82 WEST 1234 5698 7654 32 ip fe80::1%eth0/64 ::ffff:1.2.3.4",
		"DOB: 3rd March 1985; born 12-Mar-1985", "a@b.co x@y", "\xff\xfe(+9", "(((((+", "1.2.3.4.5.6", "www.", "http://", "::", "MRN:",
	} {
		f.Add(s)
	}
	e := Default()
	f.Fuzz(func(t *testing.T, s string) {
		spans := e.Detect(s)
		valid := utf8.ValidString(s)
		prev := 0
		for _, sp := range spans {
			if sp.Start < prev || sp.End <= sp.Start || sp.End > len(s) {
				t.Fatalf("bad span %+v (prev end %d, len %d)", sp, prev, len(s))
			}
			if valid && (!utf8.RuneStart(s[sp.Start]) || sp.End < len(s) && !utf8.RuneStart(s[sp.End])) {
				t.Fatalf("span %+v not on a UTF-8 boundary", sp)
			}
			prev = sp.End
		}
		out, _ := e.Anonymize(s)
		if valid && !utf8.ValidString(out) {
			t.Fatalf("output not valid UTF-8")
		}
	})
}

// prepare calls Detect from many goroutines on one engine.
func TestConcurrentDetectMatchesSequential(t *testing.T) {
	recs := readGold(t, testutil.Testdata(t, "anonymize", "synthetic_subset.jsonl"))
	e := Default()
	want := make([][]Span, len(recs))
	for i, r := range recs {
		want[i] = e.Detect(r.Text)
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(recs)*4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, r := range recs {
				if got := e.Detect(r.Text); !reflect.DeepEqual(got, want[i]) {
					errs <- r.ID
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for id := range errs {
		t.Errorf("concurrent Detect differs on %s", id)
	}
}

func TestASCIILowerMatchesByteLoop(t *testing.T) {
	var all []byte
	for c := 0; c < 256; c++ {
		all = append(all, byte(c))
	}
	for _, s := range []string{string(all), "Hello WORLD @[`{ नमस्ते ZAaz", strings.Repeat("AZaz@[`{", 9) + "Q"} {
		got := string(asciiLowerInto(nil, s))
		want := []byte(s)
		for i, c := range want {
			if c >= 'A' && c <= 'Z' {
				want[i] = c + 32
			}
		}
		if got != string(want) {
			t.Errorf("asciiLowerInto(%q) = %q", s, got)
		}
	}
}
