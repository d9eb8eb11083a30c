// Package tokenize turns text into token ids and back with GPT-2's byte-level
// BPE, exactly as the reference tokenizer (tiktoken r50k_base) does, and packs
// tokenized examples into fixed-length training blocks with loss masks.
//
// Text from user data is always encoded as plain text: "<|endoftext|>" in a
// document is split into ordinary tokens, so no document can inject a control
// token. EOS is added only by Pack.
package tokenize

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"
)

// EndOfText is GPT-2's end-of-text marker, used as EOS (and as the separator
// between packed documents).
const EndOfText = "<|endoftext|>"

// Tokenizer is an immutable byte-level BPE vocabulary with its merge rules.
// It is safe for concurrent use.
type Tokenizer struct {
	vocab  map[string]int32 // byte-level string (bytes mapped to runes) -> id
	tokens [][]byte         // id -> raw bytes; nil where no token has the id
	byteID [256]int32       // the single-byte tokens every word starts from
	merges map[uint64]merge // (left id, right id) -> rank and merged id
	pairs  pairTable        // the same, for the merge loop
	eos    int32
	size   int

	pre preTokenizer

	files map[string][]byte // the files it was loaded from, for WriteFiles

	encoders sync.Pool // *encoder: per-goroutine scratch and word cache
}

type merge struct{ rank, id int32 }

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// VocabSize is one more than the largest token id.
func (t *Tokenizer) VocabSize() int { return t.size }

// EOS is the end-of-text token id.
func (t *Tokenizer) EOS() int32 { return t.eos }

// TokenBytes returns the raw bytes of one token (nil for an unknown id). A
// token may hold part of a UTF-8 character; streaming output should buffer
// until the bytes form whole characters.
func (t *Tokenizer) TokenBytes(id int32) []byte {
	if id < 0 || int(id) >= len(t.tokens) {
		return nil
	}
	return t.tokens[id]
}

// Decode concatenates the bytes of the tokens. For ids produced by Encode it
// returns the encoded text exactly. Unknown ids decode to U+FFFD.
func (t *Tokenizer) Decode(ids []int32) string {
	n := 0
	for _, id := range ids {
		if b := t.TokenBytes(id); b != nil {
			n += len(b)
		} else {
			n += utf8.RuneLen(utf8.RuneError)
		}
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, id := range ids {
		if b := t.TokenBytes(id); b != nil {
			sb.Write(b)
		} else {
			sb.WriteRune(utf8.RuneError)
		}
	}
	return sb.String()
}

// File names inside a model directory.
const (
	vocabFile     = "vocab.json"
	mergesFile    = "merges.txt"
	tokenizerFile = "tokenizer.json"
	configFile    = "config.json"
)

// Load reads the tokenizer of a Hugging Face model directory: tokenizer.json
// when present, else vocab.json + merges.txt. When the directory has a
// config.json, its vocab_size must have room for every token id and its
// eos_token_id (if any) names the EOS token.
func Load(dir string) (*Tokenizer, error) {
	var (
		t   *Tokenizer
		err error
	)
	tj := filepath.Join(dir, tokenizerFile)
	if b, rerr := os.ReadFile(tj); rerr == nil {
		t, err = parseTokenizerJSON(tj, b)
		if err != nil {
			return nil, err
		}
		t.files = map[string][]byte{tokenizerFile: b}
	} else if !errors.Is(rerr, fs.ErrNotExist) {
		return nil, fmt.Errorf("tokenizer: %w", rerr)
	} else {
		vp, mp := filepath.Join(dir, vocabFile), filepath.Join(dir, mergesFile)
		vb, verr := os.ReadFile(vp)
		mb, merr := os.ReadFile(mp)
		if errors.Is(verr, fs.ErrNotExist) && errors.Is(merr, fs.ErrNotExist) {
			return nil, fmt.Errorf("tokenizer: %s has neither %s nor %s + %s; copy the tokenizer files of the base model into it",
				dir, tokenizerFile, vocabFile, mergesFile)
		}
		if verr != nil {
			return nil, fmt.Errorf("tokenizer: %w (merges.txt needs the vocab.json it was made with)", verr)
		}
		if merr != nil {
			return nil, fmt.Errorf("tokenizer: %w (vocab.json needs the merges.txt it was made with)", merr)
		}
		t, err = parseVocabMerges(vp, vb, mp, mb)
		if err != nil {
			return nil, err
		}
		t.files = map[string][]byte{vocabFile: vb, mergesFile: mb}
	}
	if err := t.checkConfig(filepath.Join(dir, configFile)); err != nil {
		return nil, err
	}
	return t, nil
}

// checkConfig reconciles the tokenizer with the model's config.json. The
// model package imports this one, so only the two keys needed are read here.
func (t *Tokenizer) checkConfig(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	var cfg struct {
		VocabSize *int            `json:"vocab_size"`
		EOS       json.RawMessage `json:"eos_token_id"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("tokenizer: %s: %v", path, err)
	}
	if cfg.VocabSize != nil && *cfg.VocabSize < t.size {
		return fmt.Errorf("tokenizer: %s says vocab_size %d but the tokenizer has %d tokens; the tokenizer files do not belong to this model",
			path, *cfg.VocabSize, t.size)
	}
	var eos int
	if len(cfg.EOS) > 0 && json.Unmarshal(cfg.EOS, &eos) == nil {
		if eos < 0 || eos >= t.size || t.tokens[eos] == nil {
			return fmt.Errorf("tokenizer: %s: eos_token_id %d is not a token of the tokenizer (%d tokens)", path, eos, t.size)
		}
		t.eos = int32(eos)
	}
	return nil
}

// WriteFiles writes the files the tokenizer was loaded from into dir
// (vocab.json + merges.txt, or tokenizer.json), byte for byte; a tokenizer
// loaded from tokenizer.json also gets vocab.json + merges.txt, which GGUF
// export and older tools read.
func (t *Tokenizer) WriteFiles(dir string) error {
	files := map[string][]byte{}
	for k, v := range t.files {
		files[k] = v
	}
	if files[vocabFile] == nil || files[mergesFile] == nil {
		vb, mb, err := t.vocabMergesFiles()
		if err != nil {
			return err
		}
		files[vocabFile], files[mergesFile] = vb, mb
	}
	for _, name := range []string{vocabFile, mergesFile, tokenizerFile} {
		if b, ok := files[name]; ok {
			if err := writeFile(filepath.Join(dir, name), b); err != nil {
				return fmt.Errorf("tokenizer: %w", err)
			}
		}
	}
	return nil
}

// vocabMergesFiles renders vocab.json and merges.txt from the loaded tables.
func (t *Tokenizer) vocabMergesFiles() (vocab, merges []byte, err error) {
	v := make(map[string]int, len(t.vocab))
	for s, id := range t.vocab {
		v[s] = int(id)
	}
	var vb bytes.Buffer
	enc := json.NewEncoder(&vb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, nil, err
	}
	rules := make([]string, len(t.merges))
	for k, m := range t.merges {
		a, b := int32(k>>32), int32(uint32(k))
		rules[m.rank] = unicodeOf(t.tokens[a]) + " " + unicodeOf(t.tokens[b])
	}
	var mb strings.Builder
	mb.WriteString("#version: 0.2\n")
	for _, r := range rules {
		mb.WriteString(r)
		mb.WriteByte('\n')
	}
	return vb.Bytes(), []byte(mb.String()), nil
}

//go:embed gpt2/vocab.json.gz
var gpt2VocabGz []byte

//go:embed gpt2/merges.txt.gz
var gpt2MergesGz []byte

var gpt2Once = sync.OnceValues(func() (*Tokenizer, error) {
	vb, err := gunzip(gpt2VocabGz)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: embedded GPT-2 vocab: %w", err)
	}
	mb, err := gunzip(gpt2MergesGz)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: embedded GPT-2 merges: %w", err)
	}
	t, err := parseVocabMerges("gpt2/"+vocabFile, vb, "gpt2/"+mergesFile, mb)
	if err != nil {
		return nil, err
	}
	t.files = map[string][]byte{vocabFile: vb, mergesFile: mb}
	return t, nil
})

// GPT2 returns GPT-2's tokenizer, built into the binary so that a freshly
// initialised model needs no download. All calls share one instance.
func GPT2() (*Tokenizer, error) { return gpt2Once() }

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
