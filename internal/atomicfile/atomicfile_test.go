package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileReplacesWholeWithMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.json")
	if err := WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(b) != "new" || st.Mode().Perm() != 0o600 {
		t.Fatalf("got %q mode %v", b, st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temp files left: %v", ents)
	}
}

func TestAbortLeavesOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a")
	WriteFile(p, []byte("old"), 0o600)
	f, err := Create(p, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("partial"))
	f.Abort()
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("got %q", b)
	}
}

func TestReplaceDir(t *testing.T) {
	parent := t.TempDir()
	final := filepath.Join(parent, "out")
	write := func(content string) error {
		return ReplaceDir(final, 0o700, func(tmp string) error {
			return os.WriteFile(filepath.Join(tmp, "f"), []byte(content), 0o600)
		})
	}
	if err := write("one"); err != nil {
		t.Fatal(err)
	}
	if err := write("two"); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := ReplaceDir(final, 0o700, func(tmp string) error {
		os.WriteFile(filepath.Join(tmp, "f"), []byte("three"), 0o600)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(final, "f"))
	st, _ := os.Stat(final)
	if string(b) != "two" || st.Mode().Perm() != 0o700 {
		t.Fatalf("got %q mode %v", b, st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 {
		t.Fatalf("leftovers: %v", ents)
	}
}
