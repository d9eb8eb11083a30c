package canary

import (
	"path/filepath"
	"testing"
)

func TestVerhoeff(t *testing.T) {
	// Published Verhoeff examples: 236 -> check digit 3; 12345 -> 1.
	if VerhoeffCheck("236") != 3 || VerhoeffCheck("12345") != 1 {
		t.Fatal("check digit")
	}
	if !VerhoeffValid("2363") || VerhoeffValid("2364") || !VerhoeffValid("123451") {
		t.Fatal("validation")
	}
}

func TestGenerate(t *testing.T) {
	cs := Generate(9, 4, 1)
	again := Generate(9, 4, 1)
	seen := map[string]bool{}
	for i, c := range cs {
		if c != again[i] {
			t.Fatal("not deterministic")
		}
		f, ok := FormatByName(c.Format)
		if !ok || c.Text != f.Prefix+c.Secret+"." || c.Repeats != 4 {
			t.Fatalf("%+v", c)
		}
		if c.Format == "aadhaar" && (len(c.Secret) != 12 || c.Secret[0] < '2' || !VerhoeffValid(c.Secret)) {
			t.Fatalf("aadhaar canary %s is not a valid Aadhaar number", c.Secret)
		}
		seen[c.Format] = true
	}
	if len(seen) != 3 {
		t.Fatalf("formats %v", seen)
	}
	p := filepath.Join(t.TempDir(), File)
	if err := Write(p, cs); err != nil {
		t.Fatal(err)
	}
	back, err := Read(p)
	if err != nil || len(back) != 9 || back[3] != cs[3] {
		t.Fatalf("%v %v", back, err)
	}
	if n, r, err := ParseSpec("5,10"); n != 5 || r != 10 || err != nil {
		t.Fatal("spec")
	}
	if _, _, err := ParseSpec("x"); err == nil {
		t.Fatal("bad spec accepted")
	}
}
