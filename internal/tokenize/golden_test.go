package tokenize

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/llmtune/llmtune/internal/testutil"
)

type goldenCase struct {
	Text    string  `json:"text"`
	IDs     []int32 `json:"ids"`
	Special bool    `json:"special"`
	Kind    string  `json:"kind"`
}

func readGolden(t *testing.T, name string) []goldenCase {
	t.Helper()
	f, err := os.Open(testutil.Testdata(t, "tokenizer", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	var cases []goldenCase
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var c goldenCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s: no cases", name)
	}
	return cases
}

// testTokenizer loads GPT-2 from the testdata copy of its files.
func testTokenizer(t testing.TB) *Tokenizer {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"vocab.json", "merges.txt"} {
		b, err := os.ReadFile(testutil.Testdata(t, "tokenizer", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestGoldenEdgeCases(t *testing.T) {
	tok := testTokenizer(t)
	n := 0
	for _, c := range readGolden(t, "golden_r50k.jsonl") {
		if c.Special {
			// the reference was asked to honour "<|endoftext|>"; we never do
			continue
		}
		n++
		if got := tok.Encode(c.Text); !slices.Equal(got, c.IDs) {
			t.Errorf("Encode(%q)\n got %v\nwant %v", c.Text, got, c.IDs)
		}
		if got := tok.Decode(c.IDs); got != c.Text {
			t.Errorf("Decode(%v) = %q, want %q", c.IDs, got, c.Text)
		}
	}
	if n < 100 {
		t.Fatalf("only %d cases", n)
	}
}

// TestGoldenCorpus: lines, paragraphs, 16 KB chunks and random stress texts
// with ids from js-tiktoken r50k_base (see gen_golden.mjs).
func TestGoldenCorpus(t *testing.T) {
	tok := testTokenizer(t)
	kinds := map[string]int{}
	bad := 0
	for _, c := range readGolden(t, "golden_corpus.jsonl.gz") {
		kinds[c.Kind]++
		got := tok.Encode(c.Text)
		if !slices.Equal(got, c.IDs) {
			bad++
			if bad <= 10 {
				t.Errorf("%s: Encode(%.200q)\n got %v\nwant %v", c.Kind, c.Text, got, c.IDs)
			}
		}
		if d := tok.Decode(c.IDs); d != c.Text {
			t.Errorf("%s: Decode differs for %.80q", c.Kind, c.Text)
		}
	}
	if bad > 0 {
		t.Errorf("%d cases differ", bad)
	}
	for _, k := range []string{"line", "para", "chunk", "stress"} {
		if kinds[k] == 0 {
			t.Errorf("no %s cases", k)
		}
	}
}

// TestGoldenWholeCorpus encodes the golden texts joined into one ~300 KB
// document (the parallel path): js-tiktoken gives 123612 ids whose
// comma-joined decimal form has this sha256.
func TestGoldenWholeCorpus(t *testing.T) {
	tok := testTokenizer(t)
	var sb strings.Builder
	for _, c := range readGolden(t, "golden_corpus.jsonl.gz") {
		sb.WriteString(c.Text + "\n\n")
	}
	ids := tok.Encode(sb.String())
	var s strings.Builder
	for i, id := range ids {
		if i > 0 {
			s.WriteByte(',')
		}
		s.WriteString(strconv.Itoa(int(id)))
	}
	sum := sha256.Sum256([]byte(s.String()))
	if len(ids) != 123612 || hex.EncodeToString(sum[:]) != "47736c9bfa4979b124eb5baa441681cfd591de14a10a5382feb96d3ebdd65073" {
		t.Fatalf("%d ids, sha256 %x; want 123612 ids as js-tiktoken", len(ids), sum)
	}
}
