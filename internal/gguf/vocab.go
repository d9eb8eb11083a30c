package gguf

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Token types of llama.cpp (llama_token_type).
const (
	TokenNormal      int32 = 1
	TokenControl     int32 = 3
	TokenUserDefined int32 = 4
	TokenUnused      int32 = 5
)

// Vocab is a byte-level BPE tokenizer as GGUF stores it: the token strings
// in id order (GPT-2's byte-to-unicode alphabet, e.g. "Ġthe"), their types,
// and the merges as "left right" lines in rank order.
type Vocab struct {
	Tokens []string
	Types  []int32
	Merges []string
	BOS    int
	EOS    int
}

// specialLooking matches GPT-2 style special tokens such as <|endoftext|>.
var specialLooking = regexp.MustCompile(`^<\|[^|]*\|>$`)

// ReadVocab reads a GPT-2 tokenizer from dir: vocab.json and merges.txt,
// or else tokenizer.json. vocabSize is the model's vocab_size: ids the
// tokenizer lacks become unused "[PADn]" tokens (as llama.cpp's converter
// does), and a tokenizer larger than the model is an error. bos and eos are
// the model's ids; they and anything that looks like <|...|> or is marked
// special in tokenizer.json are control tokens (without that type llama.cpp
// treats <|endoftext|> as ordinary text).
func ReadVocab(dir string, vocabSize, bos, eos int) (Vocab, error) {
	var (
		ids     map[string]int
		merges  []string
		special = map[int]bool{}
		err     error
	)
	vj, mt := filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt")
	if fileExists(vj) && fileExists(mt) {
		if ids, err = readVocabJSON(vj); err != nil {
			return Vocab{}, err
		}
		if merges, err = readMergesTxt(mt); err != nil {
			return Vocab{}, err
		}
	} else if tj := filepath.Join(dir, "tokenizer.json"); fileExists(tj) {
		if ids, merges, special, err = readTokenizerJSON(tj); err != nil {
			return Vocab{}, err
		}
	} else {
		return Vocab{}, fmt.Errorf("%s has no tokenizer (vocab.json and merges.txt, or tokenizer.json)", dir)
	}
	return buildVocab(ids, merges, special, vocabSize, bos, eos, dir)
}

func buildVocab(ids map[string]int, merges []string, special map[int]bool, vocabSize, bos, eos int, where string) (Vocab, error) {
	if vocabSize <= 0 {
		return Vocab{}, fmt.Errorf("vocab_size %d must be positive", vocabSize)
	}
	v := Vocab{Tokens: make([]string, vocabSize), Types: make([]int32, vocabSize), Merges: merges, BOS: bos, EOS: eos}
	for tok, id := range ids {
		if id < 0 || id >= vocabSize {
			return Vocab{}, fmt.Errorf("%s: token id %d is outside the model's vocab_size %d: the tokenizer does not belong to this model", where, id, vocabSize)
		}
		if v.Types[id] != 0 {
			return Vocab{}, fmt.Errorf("%s: token id %d is used twice", where, id)
		}
		v.Tokens[id] = tok
		v.Types[id] = TokenNormal
		if special[id] || id == bos || id == eos || specialLooking.MatchString(tok) {
			v.Types[id] = TokenControl
		}
	}
	for id := range v.Tokens {
		if v.Types[id] == 0 {
			v.Tokens[id] = fmt.Sprintf("[PAD%d]", id)
			v.Types[id] = TokenUnused
		}
	}
	for _, id := range []int{bos, eos} {
		if id < 0 || id >= vocabSize || v.Types[id] == TokenUnused {
			return Vocab{}, fmt.Errorf("%s: bos/eos token id %d is not in the tokenizer", where, id)
		}
	}
	return v, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func readVocabJSON(path string) (map[string]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ids map[string]int
	if err := json.Unmarshal(b, &ids); err != nil {
		return nil, fmt.Errorf("%s: %w (expected a JSON object of token to id)", path, err)
	}
	return ids, nil
}

// readMergesTxt reads merges.txt: an optional "#version" line, then one
// "left right" merge per line.
func readMergesTxt(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseMergesTxt(path, b)
}

func parseMergesTxt(path string, b []byte) ([]string, error) {
	var merges []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := sc.Text()
		if line == 1 && strings.HasPrefix(s, "#version") {
			continue
		}
		if s == "" {
			continue
		}
		if len(strings.Split(s, " ")) != 2 {
			return nil, fmt.Errorf("%s:%d: a merge must be two symbols separated by one space", path, line)
		}
		merges = append(merges, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return merges, nil
}

// readTokenizerJSON reads the BPE model of a Hugging Face tokenizer.json.
// Merges are either "a b" strings or ["a", "b"] pairs (newer files).
func readTokenizerJSON(path string) (map[string]int, []string, map[int]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, err
	}
	return parseTokenizerJSON(path, b)
}

func parseTokenizerJSON(path string, b []byte) (map[string]int, []string, map[int]bool, error) {
	var tj struct {
		Model struct {
			Type   string            `json:"type"`
			Vocab  map[string]int    `json:"vocab"`
			Merges []json.RawMessage `json:"merges"`
		} `json:"model"`
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens"`
	}
	if err := json.Unmarshal(b, &tj); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if tj.Model.Type != "BPE" {
		return nil, nil, nil, fmt.Errorf("%s: tokenizer model %q is not BPE", path, tj.Model.Type)
	}
	merges := make([]string, 0, len(tj.Model.Merges))
	for i, raw := range tj.Model.Merges {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			merges = append(merges, s)
			continue
		}
		var pair []string
		if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
			return nil, nil, nil, fmt.Errorf("%s: merge %d is neither \"a b\" nor [\"a\", \"b\"]", path, i)
		}
		merges = append(merges, pair[0]+" "+pair[1])
	}
	ids := tj.Model.Vocab
	if ids == nil {
		ids = map[string]int{}
	}
	special := map[int]bool{}
	for _, at := range tj.AddedTokens {
		if _, ok := ids[at.Content]; !ok {
			ids[at.Content] = at.ID
		}
		if at.Special {
			special[at.ID] = true
		}
	}
	return ids, merges, special, nil
}
