package tokenize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/llmtune/llmtune/internal/testutil"
)

// U+0085 is White_Space and U+FEFF is not: the Python reference
// (../shared/ref/gpt2_tokenizer.py with the regex module, as OpenAI's GPT-2
// encoder and tiktoken do) gives these ids; js-tiktoken differs on them.
func TestUnicodeWhiteSpaceAsPythonReference(t *testing.T) {
	tok := testTokenizer(t)
	for _, c := range []goldenCase{
		{Text: "a \u0085b", IDs: []int32{64, 220, 126, 227, 65}},
		{Text: "a \ufeffb", IDs: []int32{64, 27332, 119, 123, 65}},
		{Text: "x\u0085 \u0085y", IDs: []int32{87, 126, 227, 220, 126, 227, 88}},
		{Text: "x \u0085 y\u0085", IDs: []int32{87, 1587, 227, 331, 126, 227}},
		{Text: "\ufeffHello \ufeff world", IDs: []int32{171, 119, 123, 15496, 27332, 119, 123, 995}},
		{Text: "a\x1c\x1db", IDs: []int32{64, 216, 217, 65}},
		{Text: "a\u3000\u3000b", IDs: []int32{64, 5099, 222, 5099, 222, 65}},
	} {
		if got := tok.Encode(c.Text); !slices.Equal(got, c.IDs) {
			t.Errorf("Encode(%q) = %v, want %v", c.Text, got, c.IDs)
		}
	}
}

// The parallel chunked path and the heap merge loop must give the ids of the
// reference too; force them on the golden corpus.
func TestGoldenCorpusParallelAndHeap(t *testing.T) {
	tok := testTokenizer(t)
	defer func(pm, cs, hm int) { parallelMin, chunkSize, heapMinWord = pm, cs, hm }(parallelMin, chunkSize, heapMinWord)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	parallelMin, chunkSize, heapMinWord = 1024, 300, 2
	cut := 0
	for _, c := range readGolden(t, "golden_corpus.jsonl.gz") {
		if len(c.Text) >= parallelMin {
			cut += len(tok.chunks(c.Text, chunkSize)) - 2
		}
		if got := tok.Encode(c.Text); !slices.Equal(got, c.IDs) {
			t.Fatalf("%s: Encode(%.100q...) differs from the reference", c.Kind, c.Text)
		}
	}
	if cut < 100 {
		t.Fatalf("only %d cuts: the parallel path was hardly exercised", cut)
	}
}

func TestLongWordsDoNotHang(t *testing.T) {
	tok := testTokenizer(t)
	for _, s := range []string{strings.Repeat("7", 1<<20), strings.Repeat(" ", 1<<20) + "x", strings.Repeat("ab", 1<<19)} {
		ids := tok.Encode(s)
		if tok.Decode(ids) != s {
			t.Fatalf("round trip failed for a %d-byte word", len(s))
		}
	}
}

func writeTokFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		b := []byte(src)
		if strings.HasPrefix(src, "@") {
			var err error
			if b, err = os.ReadFile(testutil.Testdata(t, "tokenizer", src[1:])); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // in the error
	}{
		{"empty dir", nil, "has neither tokenizer.json nor vocab.json + merges.txt"},
		{"vocab only", map[string]string{"vocab.json": "@vocab.json"}, "merges.txt"},
		{"merges only", map[string]string{"merges.txt": "@merges.txt"}, "vocab.json"},
		{"config too small", map[string]string{"vocab.json": "@vocab.json", "merges.txt": "@merges.txt", "config.json": `{"vocab_size": 50000}`},
			"vocab_size 50000 but the tokenizer has 50257 tokens"},
		{"bad eos", map[string]string{"vocab.json": "@vocab.json", "merges.txt": "@merges.txt", "config.json": `{"vocab_size": 50257, "eos_token_id": 60000}`},
			"eos_token_id 60000"},
		{"bad merge line", map[string]string{"vocab.json": "@vocab.json", "merges.txt": "#version: 0.2\nĠ t\nĠt\n"}, "merges.txt line 3"},
		{"foreign merge", map[string]string{"vocab.json": "@vocab.json", "merges.txt": "#version: 0.2\nĠ t\nzzzq x\n"}, `"zzzq" is not in the vocabulary`},
		{"bad vocab json", map[string]string{"vocab.json": "[1,2]", "merges.txt": "@merges.txt"}, "vocab.json"},
		{"no byte tokens", map[string]string{"vocab.json": `{"a": 0, "<|endoftext|>": 1}`, "merges.txt": ""}, "no token for byte"},
		{"tokenizer.json wordpiece", map[string]string{"tokenizer.json": `{"model": {"type": "WordPiece"}}`}, "not supported yet"},
		{"tokenizer.json broken", map[string]string{"tokenizer.json": `{"model": `}, "tokenizer.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTokFiles(t, dir, tc.files)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	// A padded embedding (50304 rows, as nanoGPT uses) is fine.
	writeTokFiles(t, dir, map[string]string{"vocab.json": "@vocab.json", "merges.txt": "@merges.txt", "config.json": `{"vocab_size": 50304, "eos_token_id": 50256}`})
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 50257 || tok.EOS() != 50256 {
		t.Fatalf("VocabSize %d EOS %d, want 50257 50256", tok.VocabSize(), tok.EOS())
	}
}

// hfTokenizerJSON builds a Hugging Face tokenizer.json from vocab.json and
// merges.txt as ../shared/gpt2-tokenizer/README.md describes (merges as pairs).
func hfTokenizerJSON(t *testing.T, pairs bool) []byte {
	vb, _ := os.ReadFile(testutil.Testdata(t, "tokenizer", "vocab.json"))
	mb, _ := os.ReadFile(testutil.Testdata(t, "tokenizer", "merges.txt"))
	var vocab map[string]int
	if err := json.Unmarshal(vb, &vocab); err != nil {
		t.Fatal(err)
	}
	var merges []any
	for _, l := range strings.Split(string(mb), "\n")[1:] {
		if a, b, ok := strings.Cut(l, " "); ok && pairs {
			merges = append(merges, [2]string{a, b})
		} else if ok {
			merges = append(merges, l) // the older "left right" form
		}
	}
	doc := map[string]any{
		"version":        "1.0",
		"added_tokens":   []map[string]any{{"id": 50256, "content": "<|endoftext|>", "special": true}},
		"normalizer":     nil,
		"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": nil,
		"decoder":        map[string]any{"type": "ByteLevel"},
		"model":          map[string]any{"type": "BPE", "vocab": vocab, "merges": merges, "dropout": nil, "unk_token": nil},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTokenizerJSONAndWriteFiles(t *testing.T) {
	dir := t.TempDir()
	writeTokFiles(t, dir, map[string]string{"tokenizer.json": string(hfTokenizerJSON(t, false))})
	tokStrings, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tj := hfTokenizerJSON(t, true)
	writeTokFiles(t, dir, map[string]string{"tokenizer.json": string(tj)})
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := tok.WriteFiles(out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "tokenizer.json")); !bytes.Equal(b, tj) {
		t.Fatal("tokenizer.json not written back byte for byte")
	}
	// The vocab.json + merges.txt it renders load into the same tokenizer.
	os.Remove(filepath.Join(out, "tokenizer.json"))
	tok2, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	gpt2, err := GPT2()
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range []*Tokenizer{tokStrings, tok, tok2, gpt2} {
		if tk.VocabSize() != 50257 || tk.EOS() != 50256 {
			t.Fatalf("VocabSize %d EOS %d", tk.VocabSize(), tk.EOS())
		}
		for _, c := range readGolden(t, "golden_r50k.jsonl") {
			if !c.Special && !slices.Equal(tk.Encode(c.Text), c.IDs) {
				t.Fatalf("Encode(%q) differs from the reference", c.Text)
			}
		}
	}
	// GPT-2's embedded files are written back unchanged.
	if err := gpt2.WriteFiles(out); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"vocab.json", "merges.txt"} {
		a, _ := os.ReadFile(filepath.Join(out, f))
		b, _ := os.ReadFile(testutil.Testdata(t, "tokenizer", f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s written by GPT2().WriteFiles differs from GPT-2's", f)
		}
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v", f, fi.Mode(), err)
		}
	}
}

func TestSpecialMarkersArePlainText(t *testing.T) {
	tok := testTokenizer(t)
	for _, s := range []string{"<|endoftext|>", "hello<|endoftext|>world", "<|endoftext|><|endoftext|>"} {
		for _, id := range tok.Encode(s) {
			if id == tok.EOS() {
				t.Fatalf("Encode(%q) produced the EOS id", s)
			}
		}
	}
}

func TestDecodeUnknownID(t *testing.T) {
	tok := testTokenizer(t)
	if got := tok.Decode([]int32{15496, -1, 99999, 995}); got != "Hello\uFFFD\uFFFD world" {
		t.Fatalf("Decode = %q", got)
	}
}

// FuzzEncode: any byte string round-trips, and the heap merge loop and
// chunked encoding agree with the plain path.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "Hello world", "a\n\nb", " \u00a0x", "it's 2000 ----", "\xff\xfe", "हिन्दी 中文 👍🏽", "x  \n\n y\r\n"} {
		f.Add(s)
	}
	tok, err := GPT2()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := tok.Encode(s)
		if got := tok.Decode(ids); got != s {
			t.Fatalf("Decode(Encode(%q)) = %q", s, got)
		}
		e := tok.getEncoder()
		defer tok.putEncoder(e)
		// chunked: encode ranges between boundaries separately
		var chunked []int32
		cuts := tok.chunks(s, 1)
		for k := 0; k+1 < len(cuts); k++ {
			chunked = e.encodeRange(chunked, s, cuts[k], cuts[k+1])
		}
		if !slices.Equal(chunked, ids) {
			t.Fatalf("chunked encoding of %q differs: %v vs %v", s, chunked, ids)
		}
		if a, b := split(s), refSplit(s); !slices.Equal(a, b) {
			t.Fatalf("pre-tokenizer on %q: %q, regexp reference %q", s, a, b)
		}
		// heap merge loop on every word
		for i := 0; i < len(s); {
			j := tok.pre.next(s, i)
			if j <= i {
				t.Fatalf("pre-tokenizer did not advance at %d in %q", i, s)
			}
			w := s[i:j]
			if a, b := e.bpe(nil, w), e.bpeHeap(nil, w); !slices.Equal(a, b) {
				t.Fatalf("merge loops differ on %q: %v vs %v", w, a, b)
			}
			i = j
		}
		if utf8.ValidString(s) && len(ids) > len(s) {
			t.Fatalf("%d ids for %d bytes", len(ids), len(s))
		}
	})
}

// Every GPT-2 token's bytes merge back into that token: a check of the merge
// loop against the vocabulary itself.
func TestEveryTokenEncodesToItself(t *testing.T) {
	tok := testTokenizer(t)
	e := tok.getEncoder()
	defer tok.putEncoder(e)
	for id, raw := range tok.tokens {
		if int32(id) == tok.EOS() {
			continue
		}
		if got := e.bpe(nil, string(raw)); len(got) != 1 || got[0] != int32(id) {
			t.Fatalf("token %d %q merges to %v", id, raw, got)
		}
	}
}

func TestTextStream(t *testing.T) {
	tok := testTokenizer(t)
	n := 0
	for _, c := range readGolden(t, "golden_r50k.jsonl") {
		if c.Special || !utf8.ValidString(c.Text) {
			continue
		}
		s := tok.NewTextStream()
		var sb strings.Builder
		for _, id := range c.IDs {
			piece := s.Add(id)
			if !utf8.ValidString(piece) {
				t.Fatalf("%q: piece %q is not whole UTF-8", c.Text, piece)
			}
			if len(piece) < len(tok.TokenBytes(id)) {
				n++ // a character was split across tokens
			}
			sb.WriteString(piece)
		}
		sb.WriteString(s.Flush())
		if sb.String() != c.Text {
			t.Fatalf("stream gave %q, want %q", sb.String(), c.Text)
		}
	}
	if n == 0 {
		t.Fatal("no case split a character across tokens")
	}
}

func TestConcurrentEncode(t *testing.T) {
	tok := testTokenizer(t)
	cases := readGolden(t, "golden_corpus.jsonl.gz")
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for i := g; i < len(cases); i += 2 {
				if !slices.Equal(tok.Encode(cases[i].Text), cases[i].IDs) {
					errs <- fmt.Errorf("case %d differs under concurrency", i)
					return
				}
			}
			errs <- nil
		}(g)
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
