package tokenize

import (
	"testing"

	"github.com/sugarme/tokenizer/pretokenizer"
)

// sugarme/tokenizer is used here, as an independent implementation of
// GPT-2's bytes_to_unicode table, and not in the product: every sugarme
// package with the table imports net/http (its hub download code), which the
// llmtune binary must not link.
func TestByteTableMatchesSugarme(t *testing.T) {
	if len(pretokenizer.BytesChar) != 256 {
		t.Fatalf("sugarme table has %d entries", len(pretokenizer.BytesChar))
	}
	for b := 0; b < 256; b++ {
		if got, want := string(byteRune[b]), pretokenizer.BytesChar[uint8(b)]; got != want {
			t.Errorf("byte 0x%02x -> %q, sugarme %q", b, got, want)
		}
	}
	// A spot check against GPT-2 itself: space is "Ġ", newline "Ċ".
	if byteRune[' '] != 'Ġ' || byteRune['\n'] != 'Ċ' {
		t.Fatal("space/newline mapping")
	}
}
