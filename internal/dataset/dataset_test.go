package dataset

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/llmtune/llmtune/internal/anonymize"
	"github.com/llmtune/llmtune/internal/canary"
	"github.com/llmtune/llmtune/internal/testutil"
)

func readAll(t *testing.T, path string, o ReadOptions) ([]Record, []BadRecord, error) {
	t.Helper()
	var recs []Record
	var bad []BadRecord
	var in Input
	err := ReadFile(context.Background(), path, o, &in, func(r Record) error {
		recs = append(recs, r)
		return nil
	}, func(b BadRecord) error {
		bad = append(bad, b)
		return nil
	})
	return recs, bad, err
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReaders(t *testing.T) {
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"text":"zipped"}` + "\n"))
	zw.Close()
	os.WriteFile(filepath.Join(dir, "z.jsonl.gz"), gz.Bytes(), 0o600)
	cases := []struct {
		name, file, content string
		o                   ReadOptions
		want                []string // texts, or prompt|completion, or role:content;...
		bad                 int
	}{
		{name: "jsonl", file: "a.jsonl", content: "{\"id\":\"x\",\"text\":\"one\"}\n\n{\"text\":\"two\"}\n{\"text\": truncated\n{\"text\":\"\xff\"}\n", want: []string{"one", "two"}, bad: 2},
		{name: "jsonl escapes", file: "e2.jsonl", content: `{"text":"a\"b\\n\u00e9"}` + "\n" + `{"text":"plain é"}` + "\n", want: []string{"a\"b\\n\u00e9", "plain é"}},
		{name: "jsonl no trailing newline", file: "b.jsonl", content: `{"text":"last"}`, want: []string{"last"}},
		{name: "jsonl prompt", file: "c.jsonl", content: `{"q":"2+2?","a":"4"}` + "\n", o: ReadOptions{PromptField: "q", CompletionField: "a"}, want: []string{"2+2?|4"}},
		{name: "jsonl chat", file: "d.jsonl", content: `{"m":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}` + "\n" + `{"m":"nope"}` + "\n", o: ReadOptions{MessagesField: "m"}, want: []string{"user:hi;assistant:hello"}, bad: 1},
		{name: "csv", file: "e.csv", content: "id,text\n1,\"multi\nline\"\n2,plain\n3,too,many\n4,after\n", want: []string{"multi\nline", "plain", "after"}, bad: 1},
		{name: "csv unbalanced quote", file: "f.csv", content: "id,text\n1,ok\n2,\"never closed\n3,lost\n", want: []string{"ok"}, bad: 1},
		{name: "txt whole", file: "g.txt", content: "para one\n\npara two\n", want: []string{"para one\n\npara two\n"}},
		{name: "txt paragraphs", file: "h.txt", content: "para one\nstill one\n\n\npara two\n", o: ReadOptions{Paragraphs: true}, want: []string{"para one\nstill one", "para two"}},
		{name: "empty", file: "i.jsonl", content: "", want: nil},
		{name: "gzip", file: "z.jsonl.gz", want: []string{"zipped"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.file)
			if c.content != "" || !strings.HasSuffix(c.file, ".gz") {
				write(t, dir, c.file, c.content)
			}
			recs, bad, err := readAll(t, p, c.o)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				switch r.Kind() {
				case KindPromptCompletion:
					got = append(got, r.Prompt+"|"+r.Completion)
				case KindChat:
					var parts []string
					for _, m := range r.Messages {
						parts = append(parts, m.Role+":"+m.Content)
					}
					got = append(got, strings.Join(parts, ";"))
				default:
					got = append(got, r.Text)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) || len(bad) != c.bad {
				t.Fatalf("got %q bad %v, want %q and %d bad", got, bad, c.want, c.bad)
			}
			for _, b := range bad {
				if b.Line == 0 || b.File == "" {
					t.Fatalf("bad record without location: %+v", b)
				}
			}
		})
	}
}

func TestMissingFieldNamesFileLineAndFields(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "x.jsonl", `{"body":"hello","date":"2024"}`+"\n")
	_, _, err := readAll(t, p, ReadOptions{})
	var fe *FieldError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "x.jsonl line 1") || !strings.Contains(err.Error(), "body, date") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "hello") {
		t.Fatal("error message contains record content")
	}
	csvp := write(t, dir, "y.csv", "body\nhello\n")
	if _, _, err := readAll(t, csvp, ReadOptions{}); !errors.As(err, &fe) {
		t.Fatalf("csv err = %v", err)
	}
}

func TestParquetInputWithoutField(t *testing.T) {
	dir := t.TempDir()
	type row struct {
		Body string `parquet:"body"`
	}
	f, _ := os.Create(filepath.Join(dir, "p.parquet"))
	w := parquet.NewGenericWriter[row](f)
	w.Write([]row{{"a"}, {"b"}})
	w.Close()
	f.Close()
	_, _, err := readAll(t, filepath.Join(dir, "p.parquet"), ReadOptions{})
	if err == nil || !strings.Contains(err.Error(), `"text" not found`) || !strings.Contains(err.Error(), "body") {
		t.Fatalf("err = %v", err)
	}
	recs, _, err := readAll(t, filepath.Join(dir, "p.parquet"), ReadOptions{TextField: "body"})
	if err != nil || len(recs) != 2 || recs[1].Text != "b" {
		t.Fatalf("%v %v", recs, err)
	}
}

func TestLongLine(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 10<<20)
	p := write(t, dir, "l.jsonl", `{"text":"`+long+`"}`+"\n"+`{"text":"short"}`+"\n")
	recs, _, err := readAll(t, p, ReadOptions{})
	if err != nil || len(recs) != 2 || len(recs[0].Text) != len(long) || recs[1].Line != 2 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
}

func prepare(t *testing.T, inputs []string, out string, mod func(*PrepareOptions)) *Manifest {
	t.Helper()
	o := PrepareOptions{Inputs: inputs, Out: out, Val: 0.2, Test: 0.2, Seed: 3, Anonymize: true}
	if mod != nil {
		mod(&o)
	}
	m, err := Prepare(context.Background(), o, anonymize.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func splitOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range Splits {
		recs, err := ReadSplit(dir, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			out[r.ID] = s
		}
	}
	return out
}

func TestSplitsStableUnderAppendAndReruns(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := 0; i < 300; i++ {
		lines = append(lines, fmt.Sprintf(`{"id":"r%d","text":"record number %d about topic %d"}`, i, i, i%7))
	}
	in := write(t, dir, "in.jsonl", strings.Join(lines[:200], "\n")+"\n")
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	m := prepare(t, []string{in}, a, nil)
	prepare(t, []string{in}, b, nil)
	for _, f := range []string{"train.parquet", "val.parquet", "test.parquet", "manifest.json", "anonymization.json"} {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, _ := os.ReadFile(filepath.Join(b, f))
		if !bytes.Equal(x, y) {
			t.Fatalf("%s differs between identical runs", f)
		}
	}
	if m.Counts["val"] < 20 || m.Counts["test"] < 20 || m.Counts["train"] < 90 {
		t.Fatalf("implausible split counts %v", m.Counts)
	}
	before := splitOf(t, a)
	write(t, dir, "in.jsonl", strings.Join(lines, "\n")+"\n")
	prepare(t, []string{in}, a, nil)
	after := splitOf(t, a)
	if len(after) != 300 {
		t.Fatalf("%d records after append", len(after))
	}
	for id, s := range before {
		if after[id] != s {
			t.Fatalf("record %s moved from %s to %s after an append", id, s, after[id])
		}
	}
	st, _ := os.Stat(a)
	fst, _ := os.Stat(filepath.Join(a, "train.parquet"))
	if st.Mode().Perm() != 0o700 || fst.Mode().Perm() != 0o600 {
		t.Fatalf("modes %v %v", st.Mode().Perm(), fst.Mode().Perm())
	}
}

func TestGroupByKeepsGroupsTogether(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := 0; i < 200; i++ {
		lines = append(lines, fmt.Sprintf(`{"id":"r%d","patient":"p%d","text":"visit %d"}`, i, i%25, i))
	}
	in := write(t, dir, "in.jsonl", strings.Join(lines, "\n")+"\n")
	out := filepath.Join(dir, "out")
	prepare(t, []string{in}, out, func(o *PrepareOptions) { o.Read.GroupBy = "patient" })
	group := map[string]string{}
	for _, s := range Splits {
		recs, _ := ReadSplit(out, s)
		for _, r := range recs {
			if prev, ok := group[r.Group]; ok && prev != s {
				t.Fatalf("group %s in %s and %s", r.Group, prev, s)
			}
			group[r.Group] = s
		}
	}
	if len(group) != 25 {
		t.Fatalf("%d groups", len(group))
	}
}

func TestDedupAndAnonymizationReport(t *testing.T) {
	dir := t.TempDir()
	in := write(t, dir, "in.jsonl", `{"text":"Mail me at someone@example.com  please"}`+"\n"+`{"text":"mail ME at someone@example.com please"}`+"\n"+`{"text":"other"}`+"\n")
	out := filepath.Join(dir, "out")
	m := prepare(t, []string{in}, out, nil)
	if m.Duplicates != 1 || m.Records != 2 {
		t.Fatalf("dups %d records %d", m.Duplicates, m.Records)
	}
	rep, _ := os.ReadFile(filepath.Join(out, "anonymization.json"))
	man, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	if !strings.Contains(string(rep), `"EMAIL": 1`) {
		t.Fatalf("report %s", rep)
	}
	all := string(rep) + string(man)
	for _, s := range Splits {
		b, _ := os.ReadFile(filepath.Join(out, s+".parquet"))
		all += string(b)
	}
	if strings.Contains(all, "someone@example.com") {
		t.Fatal("an e-mail address survived into the outputs")
	}
}

func TestFailedPrepareLeavesOldOutput(t *testing.T) {
	dir := t.TempDir()
	in := write(t, dir, "in.jsonl", `{"text":"a"}`+"\n")
	out := filepath.Join(dir, "out")
	prepare(t, []string{in}, out, nil)
	old, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	write(t, dir, "in.jsonl", `{"text":"a"}`+"\n"+`{"broken`+"\n")
	_, err := Prepare(context.Background(), PrepareOptions{Inputs: []string{in}, Out: out, OnBadRecord: "fail", Val: 0.1, Test: 0.1}, anonymize.Default(), nil)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v", err)
	}
	now, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	if !bytes.Equal(old, now) {
		t.Fatal("a failed prepare changed the previous output")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("temporary directories left: %v", ents)
	}
}

// A prepare killed with SIGKILL while writing leaves the previous output.
func TestKilledPrepareLeavesOldOutput(t *testing.T) {
	bin := testutil.Binary(t)
	dir := t.TempDir()
	small := write(t, dir, "small.jsonl", `{"text":"old"}`+"\n")
	out := filepath.Join(dir, "out")
	if o, err := exec.Command(bin, "prepare", "--input", small, "--out", out, "--no-anonymize", "-q").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, o)
	}
	old, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	var big bytes.Buffer
	for i := 0; big.Len() < 60<<20; i++ {
		fmt.Fprintf(&big, `{"text":"record %d with some words to make it longer than a few bytes"}`+"\n", i)
	}
	bigp := write(t, dir, "big.jsonl", big.String())
	cmd := exec.Command(bin, "prepare", "--input", bigp, "--out", out, "--no-anonymize", "-q")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once it has started writing its temporary directory.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(dir, ".out.tmp-*", "train.parquet"))
		if len(m) > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	now, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil || !bytes.Equal(old, now) {
		t.Fatalf("output changed or lost after kill: %v", err)
	}
	if recs, err := ReadSplit(out, "train"); err != nil || len(recs)+len(mustSplit(t, out, "val"))+len(mustSplit(t, out, "test")) != 1 {
		t.Fatalf("old output unreadable: %v", err)
	}
}

func mustSplit(t *testing.T, dir, s string) []Record {
	r, err := ReadSplit(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The binary prepares the embedded sample inside a network namespace with
// no interfaces: it needs no network at all.
func TestPrepareSampleWithoutNetwork(t *testing.T) {
	bin := testutil.Binary(t)
	prefix := testutil.NoNetwork(t)
	out := filepath.Join(t.TempDir(), "prepared")
	args := append(prefix[1:], bin, "prepare", "--input", testutil.Testdata(t, "sample"), "--out", out, "--json")
	o, err := exec.Command(prefix[0], args...).Output()
	if err != nil {
		t.Fatalf("%v %s", err, o)
	}
	if !strings.Contains(string(o), `"records":401`) || !strings.Contains(string(o), `"duplicates_dropped":2`) {
		t.Fatalf("result %s", o)
	}
	train, _ := os.ReadFile(filepath.Join(out, "train.parquet"))
	recs := mustSplit(t, out, "train")
	for _, r := range recs {
		for _, leak := range []string{"@gmail.com", "Aadhaar: 2", "Aadhaar: 3"} {
			if strings.Contains(r.Text, leak) {
				t.Fatalf("record %s still contains %q", r.ID, leak)
			}
		}
	}
	if len(train) == 0 {
		t.Fatal("empty train split")
	}
}

// The sample's plain-text file is one document by default and six letters
// (the generator's count) in paragraph mode.
func TestSampleText(t *testing.T) {
	path := testutil.Testdata(t, "sample", "referral_letters.txt")
	for _, c := range []struct {
		paragraphs bool
		want       int
	}{{false, 1}, {true, 6}} {
		var got []Record
		err := ReadInputs(context.Background(), []string{path}, ReadOptions{Paragraphs: c.paragraphs}, func(r Record) error {
			got = append(got, r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != c.want {
			t.Fatalf("paragraphs=%v: %d records, want %d", c.paragraphs, len(got), c.want)
		}
		if c.paragraphs && (!strings.HasPrefix(got[5].Text, "Referral 6.") || got[5].Line <= got[4].Line) {
			t.Fatalf("sixth paragraph %s line %d", got[5].ID, got[5].Line)
		}
	}
}

// ReadInputs has no skip policy: a malformed record stops it with the file
// and line, and nothing of the record's content.
func TestReadInputsBadRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.jsonl")
	if err := os.WriteFile(path, []byte(`{"text":"ok"}`+"\n"+`{"text":"Aadhaar 2345`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := ReadInputs(context.Background(), []string{path}, ReadOptions{}, func(Record) error { n++; return nil })
	var be *BadRecordError
	if !errors.As(err, &be) || be.Line != 2 || be.File != path || be.Reason != "malformed JSON: truncated" || strings.Contains(err.Error(), "2345") || n != 1 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

func FuzzJSONL(f *testing.F) {
	f.Add([]byte(`{"text":"a"}` + "\n" + `{"text":`))
	f.Add([]byte("\xff\n{}\n"))
	f.Add([]byte(`{"id":1,"text":"x","m":[{"role":"user","content":"c"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, o := range []ReadOptions{{}, {MessagesField: "m"}} {
			readJSONL(context.Background(), "f.jsonl", bytes.NewReader(data), o, func(r Record) error {
				if r.Source != "f.jsonl" || r.Line < 1 {
					t.Fatalf("record without location %+v", r)
				}
				return nil
			}, func(b BadRecord) error {
				if strings.ContainsAny(b.Reason, "{}") {
					t.Fatalf("reason quotes input: %q", b.Reason)
				}
				return nil
			})
		}
	})
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("id,text\n1,a\n2,\"b\n"))
	f.Add([]byte("text\n\"\"\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		readCSV(context.Background(), "f.csv", bytes.NewReader(data), ReadOptions{}, func(r Record) error {
			if r.Line < 1 {
				t.Fatalf("record without line %+v", r)
			}
			return nil
		}, func(BadRecord) error { return nil })
	})
}

// splitObject must agree with encoding/json whenever it accepts a line.
func FuzzSplitObject(f *testing.F) {
	for _, s := range []string{`{"id":"a","text":"x y"}`, ` { "a" : 1 , "b":[1,{"c":"]"}], "d":null} ` + "\n", `{"t":"a\"b\u00e9"}`,
		`{}`, `{"a":"b",}`, `{"a":01}`, `{"a":tru}`, `{"a":[1,,2]}`, `{"a":"x"} x`, `{"a\n":1}`, `{"a":"\t"}`, `{"a":"b","a":"c"}`, `[1]`, `{"a":-1.5e3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := splitObject(data)
		if !ok {
			return
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("splitObject accepted what encoding/json rejects: %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d fields, encoding/json %d", len(got), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("field %q: %q, encoding/json %q", k, got[k], v)
			}
		}
	})
}

// Canaries go to the training split only, each as often as asked, and
// their list is written 0600 beside the manifest.
func TestCanariesTrainOnly(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := 0; i < 50; i++ {
		lines = append(lines, fmt.Sprintf(`{"text":"record number %d"}`, i))
	}
	in := write(t, dir, "in.jsonl", strings.Join(lines, "\n")+"\n")
	out := filepath.Join(dir, "out")
	o := PrepareOptions{Inputs: []string{in}, Out: out, Val: 0.2, Test: 0.2, Seed: 3}
	if err := AddCanaries(&o, "3,2"); err != nil {
		t.Fatal(err)
	}
	m, err := Prepare(context.Background(), o, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	perSplit := map[string]int{}
	for _, s := range Splits {
		for _, r := range mustSplit(t, out, s) {
			if r.Source == "canary" {
				perSplit[s]++
			}
		}
	}
	if perSplit["train"] != 6 || perSplit["val"]+perSplit["test"] != 0 || m.Records != 50 {
		t.Fatalf("canary records per split %v, records %d", perSplit, m.Records)
	}
	st, err := os.Stat(filepath.Join(out, canary.File))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("canaries.json: %v %v", st, err)
	}
	cs, err := canary.Read(filepath.Join(out, canary.File))
	if err != nil || len(cs) != 3 {
		t.Fatalf("%d canaries, %v", len(cs), err)
	}
}

// "-" reads stdin in the format asked for; a directory is walked in name
// order, skipping hidden files and files of other formats.
func TestStdinAndDirectory(t *testing.T) {
	var got []string
	collect := func(r Record) error { got = append(got, r.Source+"|"+r.Text); return nil }
	o := ReadOptions{Stdin: strings.NewReader("id,text\n1,from stdin\n"), StdinFormat: "csv"}
	if err := ReadInputs(context.Background(), []string{"-"}, o, collect); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write(t, dir, "b.txt", "second")
	write(t, dir, "a.jsonl", `{"text":"first"}`+"\n")
	write(t, dir, ".hidden.jsonl", `{"text":"hidden"}`+"\n")
	write(t, dir, "notes.docx", "ignored")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "sub"), "c.csv", "text\nthird\n")
	if err := ReadInputs(context.Background(), []string{dir}, ReadOptions{}, collect); err != nil {
		t.Fatal(err)
	}
	want := []string{"<stdin>|from stdin", filepath.Join(dir, "a.jsonl") + "|first", filepath.Join(dir, "b.txt") + "|second",
		filepath.Join(dir, "sub", "c.csv") + "|third"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
