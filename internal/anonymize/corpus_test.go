package anonymize

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/llmtune/llmtune/internal/testutil"
)

// The labelled corpora (testdata/anonymize is a subset of ../shared/pii,
// which is generated independently of this code) are the reference: the
// rates below are the targets, not numbers this code produced.

type goldSpan struct {
	Start, End int
	Type       string
	Disputed   string
}

type goldRecord struct {
	ID     string
	Text   string
	Spans  []goldSpan
	Keep   []string
	Source string
}

func readGold(t testing.TB, path string) []goldRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []goldRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r goldRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

type tally struct{ n, hit int }

func (x tally) rate() float64 {
	if x.n == 0 {
		return 1
	}
	return float64(x.hit) / float64(x.n)
}

type corpusScore struct {
	structured, soft, keep tally // soft: PERSON, ADDRESS, DATE_OF_BIRTH
	records                tally // every gold span found and no keep string touched
	misses                 []string
}

func isBoundaryLetter(c byte) bool { return isAlnum(c) }

// keepOccurrences finds the keep string as a whole token outside gold spans.
func keepOccurrences(r goldRecord, k string) [][2]int {
	var out [][2]int
	for off := 0; ; {
		i := strings.Index(r.Text[off:], k)
		if i < 0 {
			return out
		}
		s, e := off+i, off+i+len(k)
		off = s + 1
		if (isAlnum(k[0]) && s > 0 && isBoundaryLetter(r.Text[s-1]) && isDigit(k[0]) == isDigit(r.Text[s-1])) ||
			(isAlnum(k[len(k)-1]) && e < len(r.Text) && isBoundaryLetter(r.Text[e]) && isDigit(k[len(k)-1]) == isDigit(r.Text[e])) {
			continue
		}
		inGold := false
		for _, g := range r.Spans {
			if s < g.End && g.Start < e {
				inGold = true
			}
		}
		if !inGold {
			out = append(out, [2]int{s, e})
		}
	}
}

func scoreCorpus(e *Engine, recs []goldRecord) corpusScore {
	var sc corpusScore
	for _, r := range recs {
		pred := e.Detect(r.Text)
		ok := true
		for _, g := range r.Spans {
			if g.Disputed != "" {
				continue
			}
			found := false
			for _, p := range pred {
				if p.Type == g.Type && p.Start < g.End && g.Start < p.End {
					found = true
				}
			}
			x := &sc.structured
			if g.Type == "PERSON" || g.Type == "ADDRESS" || g.Type == "DATE_OF_BIRTH" {
				x = &sc.soft
			}
			x.n++
			if found {
				x.hit++
			} else {
				ok = false
				sc.misses = append(sc.misses, r.ID+" "+g.Type) // ids only, never values
			}
		}
		for _, k := range r.Keep {
			occ := keepOccurrences(r, k)
			if len(occ) == 0 {
				continue
			}
			sc.keep.n++
			touched := false
			for _, o := range occ {
				for _, p := range pred {
					overlapsDisputed := false
					for _, g := range r.Spans {
						if g.Disputed != "" && p.Start < g.End && g.Start < p.End {
							overlapsDisputed = true
						}
					}
					if !overlapsDisputed && p.Start < o[1] && o[0] < p.End {
						touched = true
					}
				}
			}
			if !touched {
				sc.keep.hit++
			} else {
				ok = false
				sc.misses = append(sc.misses, r.ID+" keep")
			}
		}
		sc.records.n++
		if ok {
			sc.records.hit++
		}
	}
	return sc
}

func checkCorpus(t *testing.T, name string, sc corpusScore, presidio bool) {
	t.Helper()
	t.Logf("%s: structured recall %.4f (%d), person/address/dob recall %.4f (%d), keep %.4f (%d), records right %.4f (%d)",
		name, sc.structured.rate(), sc.structured.n, sc.soft.rate(), sc.soft.n, sc.keep.rate(), sc.keep.n, sc.records.rate(), sc.records.n)
	fail := false
	if presidio {
		fail = sc.records.rate() < 0.98
	} else {
		fail = sc.structured.rate() < 0.995 || sc.soft.rate() < 0.95 || sc.keep.rate() < 0.98
	}
	if fail {
		if len(sc.misses) > 30 {
			sc.misses = sc.misses[:30]
		}
		t.Errorf("%s below target; first misses: %v", name, sc.misses)
	}
}

func TestLabelledSubset(t *testing.T) {
	e := Default()
	checkCorpus(t, "synthetic subset", scoreCorpus(e, readGold(t, testutil.Testdata(t, "anonymize", "synthetic_subset.jsonl"))), false)
	checkCorpus(t, "presidio subset", scoreCorpus(e, readGold(t, testutil.Testdata(t, "anonymize", "presidio_subset.jsonl"))), true)
}

func TestSharedCorpus(t *testing.T) {
	dev := testutil.Shared(t, "pii", "synthetic_dev.jsonl")
	pre := testutil.Shared(t, "pii", "presidio_cases.jsonl")
	e := Default()
	checkCorpus(t, "synthetic_dev", scoreCorpus(e, readGold(t, dev)), false)
	checkCorpus(t, "presidio_cases", scoreCorpus(e, readGold(t, pre)), true)
}
