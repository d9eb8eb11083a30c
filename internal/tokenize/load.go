package tokenize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llmtune/llmtune/internal/atomicfile"
)

// byteRune is GPT-2's bytes_to_unicode table: printable Latin-1 bytes stand
// for themselves, the rest are shifted to U+0100 onwards, so that every
// vocabulary entry is printable text. runeByte is its inverse.
var byteRune, runeByte = func() (br [256]rune, rb [324]int16) {
	for r := range rb {
		rb[r] = -1
	}
	n := 0
	for b := 0; b < 256; b++ {
		r := rune(b)
		if !(b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF) {
			r = rune(256 + n)
			n++
		}
		br[b] = r
		rb[r] = int16(b)
	}
	return br, rb
}()

// unicodeOf renders raw bytes in the vocabulary's byte-level alphabet.
func unicodeOf(raw []byte) string {
	var sb strings.Builder
	for _, b := range raw {
		sb.WriteRune(byteRune[b])
	}
	return sb.String()
}

// rawOf maps a byte-level vocabulary entry back to raw bytes.
func rawOf(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0 || int(r) >= len(runeByte) || runeByte[r] < 0 {
			return nil, false
		}
		out = append(out, byte(runeByte[r]))
	}
	return out, true
}

// newTokenizer builds the tables shared by both file formats. special lists
// added tokens that are not byte-level text (they are still ids of the
// vocabulary, decoded as their literal content).
func newTokenizer(vocabName string, vocab map[string]int, special map[string]int) (*Tokenizer, error) {

	initClasses()
	t := &Tokenizer{vocab: make(map[string]int32, len(vocab)), pre: gpt2PreTokenizer, eos: -1}
	maxID := -1
	for s, id := range vocab {
		if id < 0 || id > 1<<30 {
			return nil, fmt.Errorf("tokenizer: %s: token %q has id %d out of range", vocabName, s, id)
		}
		maxID = max(maxID, id)
	}
	for _, id := range special {
		maxID = max(maxID, id)
	}
	t.size = maxID + 1
	t.tokens = make([][]byte, t.size)
	for s, id := range vocab {
		raw, ok := rawOf(s)
		if !ok {
			if _, isSpecial := special[s]; isSpecial {
				continue
			}
			return nil, fmt.Errorf("tokenizer: %s: token %q (id %d) is not byte-level BPE text; only GPT-2-style byte-level tokenizers are supported", vocabName, s, id)
		}
		if t.tokens[id] != nil {
			return nil, fmt.Errorf("tokenizer: %s: id %d is used by two tokens", vocabName, id)
		}
		t.tokens[id] = raw
		t.vocab[s] = int32(id)
	}
	for s, id := range special {
		if t.tokens[id] == nil {
			t.tokens[id] = []byte(s)
		}
		if _, ok := t.vocab[s]; !ok {
			t.vocab[s] = int32(id)
		}
	}
	for b := 0; b < 256; b++ {
		id, ok := t.vocab[string(byteRune[b])]
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s has no token for byte 0x%02x; byte-level BPE needs all 256", vocabName, b)
		}
		t.byteID[b] = id
	}
	if id, ok := t.vocab[EndOfText]; ok {
		t.eos = id
	} else if id, ok := special[EndOfText]; ok {
		t.eos = int32(id)
	}
	return t, nil
}

// addMerge records the merge rule "left right" with the next rank.
func (t *Tokenizer) addMerge(where func() string, left, right string) error {
	a, ok := t.vocab[left]
	if !ok {
		return fmt.Errorf("tokenizer: %s: %q is not in the vocabulary; vocab and merges files do not belong together", where(), left)
	}
	b, ok := t.vocab[right]
	if !ok {
		return fmt.Errorf("tokenizer: %s: %q is not in the vocabulary; vocab and merges files do not belong together", where(), right)
	}
	id, ok := t.vocab[left+right]
	if !ok {
		return fmt.Errorf("tokenizer: %s: merged token %q is not in the vocabulary; vocab and merges files do not belong together", where(), left+right)
	}
	k := pairKey(a, b)
	if _, dup := t.merges[k]; dup {
		return nil // the first (higher-priority) rule wins, as in the reference
	}
	t.merges[k] = merge{rank: int32(len(t.merges)), id: id}
	return nil
}

func (t *Tokenizer) finish(where string) error {
	t.pairs = newPairTable(t.merges)
	if t.eos < 0 {
		return fmt.Errorf("tokenizer: %s has no %s token; packing needs an end-of-text token", where, EndOfText)
	}
	return nil
}

func parseVocabMerges(vocabName string, vocabJSON []byte, mergesName string, mergesTxt []byte) (*Tokenizer, error) {
	var vocab map[string]int
	if err := json.Unmarshal(vocabJSON, &vocab); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %v (expected a JSON object of token -> id)", vocabName, err)
	}
	t, err := newTokenizer(vocabName, vocab, nil)
	if err != nil {
		return nil, err
	}
	t.merges = make(map[uint64]merge, 50000)
	lineNo := 0
	for len(mergesTxt) > 0 {
		var line []byte
		line, mergesTxt, _ = bytes.Cut(mergesTxt, []byte{'\n'})
		lineNo++
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 || lineNo == 1 && bytes.HasPrefix(line, []byte("#version")) {
			continue
		}
		left, right, ok := strings.Cut(string(line), " ")
		if !ok || left == "" || right == "" || strings.Contains(right, " ") {
			return nil, fmt.Errorf("tokenizer: %s line %d: expected two tokens separated by one space", mergesName, lineNo)
		}
		where := func() string { return fmt.Sprintf("%s line %d", mergesName, lineNo) }
		if err := t.addMerge(where, left, right); err != nil {
			return nil, err
		}
	}
	if err := t.finish(vocabName); err != nil {
		return nil, err
	}
	return t, nil
}

// hfTokenizer is the part of Hugging Face's tokenizer.json a GPT-2-style
// tokenizer uses.
type hfTokenizer struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer *struct {
		Type           string `json:"type"`
		AddPrefixSpace bool   `json:"add_prefix_space"`
		UseRegex       *bool  `json:"use_regex"`
	} `json:"pre_tokenizer"`
	Model struct {
		Type         string            `json:"type"`
		Vocab        map[string]int    `json:"vocab"`
		Merges       []json.RawMessage `json:"merges"`
		IgnoreMerges bool              `json:"ignore_merges"`
		ByteFallback bool              `json:"byte_fallback"`
	} `json:"model"`
}

func parseTokenizerJSON(name string, b []byte) (*Tokenizer, error) {
	var hf hfTokenizer
	if err := json.Unmarshal(b, &hf); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %v", name, err)
	}
	unsupported := func(what string) error {
		return fmt.Errorf("tokenizer: %s: %s is not supported yet (GPT-2 byte-level BPE only); remove tokenizer.json to use vocab.json + merges.txt", name, what)
	}
	switch {
	case hf.Model.Type != "BPE":
		return nil, unsupported(fmt.Sprintf("model type %q", hf.Model.Type))
	case len(hf.Normalizer) > 0 && string(hf.Normalizer) != "null":
		return nil, unsupported("a normalizer")
	case hf.PreTokenizer == nil || hf.PreTokenizer.Type != "ByteLevel":
		return nil, unsupported("this pre_tokenizer (only ByteLevel with GPT-2's pattern)")
	case hf.PreTokenizer.AddPrefixSpace:
		return nil, unsupported("add_prefix_space")
	case hf.PreTokenizer.UseRegex != nil && !*hf.PreTokenizer.UseRegex:
		return nil, unsupported("use_regex false")
	case hf.Model.IgnoreMerges, hf.Model.ByteFallback:
		return nil, unsupported("ignore_merges/byte_fallback")
	}
	special := map[string]int{}
	for _, a := range hf.AddedTokens {
		special[a.Content] = a.ID
	}
	t, err := newTokenizer(name, hf.Model.Vocab, special)
	if err != nil {
		return nil, err
	}
	t.merges = make(map[uint64]merge, len(hf.Model.Merges))
	for i, raw := range hf.Model.Merges {
		where := func() string { return fmt.Sprintf("%s merge %d", name, i) }
		var left, right string
		var s string
		var pair []string
		switch {
		case json.Unmarshal(raw, &s) == nil:
			var ok bool
			left, right, ok = strings.Cut(s, " ")
			if !ok {
				return nil, fmt.Errorf("tokenizer: %s: expected \"left right\"", where())
			}
		case json.Unmarshal(raw, &pair) == nil && len(pair) == 2:
			left, right = pair[0], pair[1]
		default:
			return nil, fmt.Errorf("tokenizer: %s: expected \"left right\" or [left, right]", where())
		}
		if err := t.addMerge(where, left, right); err != nil {
			return nil, err
		}
	}
	if err := t.finish(name); err != nil {
		return nil, err
	}
	return t, nil
}

// writeFile writes a tokenizer file; model directories are private, so are
// their files.
func writeFile(path string, b []byte) error { return atomicfile.WriteFile(path, b, 0o600) }
