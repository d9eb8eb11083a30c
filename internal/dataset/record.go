// Package dataset reads raw text, JSONL, CSV and Parquet into records,
// de-duplicates them, assigns each a stable split and writes Parquet splits
// with a manifest.
package dataset

import "github.com/llmtune/llmtune/internal/tokenize"

// Message is one turn of a chat record.
type Message struct {
	Role    string `json:"role" parquet:"role"`
	Content string `json:"content" parquet:"content"`
}

// Kind says which fields of a Record carry its content.
type Kind int

const (
	KindText             Kind = iota // Text
	KindPromptCompletion             // Prompt + Completion
	KindChat                         // Messages
)

// Record is one unit of data: a document, an instruction pair or a chat.
// Source and Line locate it in the input for error messages and manifests
// (never its content).
type Record struct {
	ID         string
	Text       string
	Prompt     string
	Completion string
	Messages   []Message
	Group      string // --group-by key, empty when not grouped
	Source     string
	Line       int64
}

// Kind reports which content fields are in use.
func (r Record) Kind() Kind {
	switch {
	case len(r.Messages) > 0:
		return KindChat
	case r.Prompt != "" || r.Completion != "":
		return KindPromptCompletion
	default:
		return KindText
	}
}

// Segments renders the record for training: a text record is one trained
// segment; a prompt/completion record trains only on the completion; a chat
// renders each turn as "<role>: content\n" and trains only on assistant
// turns. GPT-2 has no chat template, so this plain one is used by training,
// evaluation and export (the Ollama Modelfile) alike.
func (r Record) Segments() []tokenize.Segment {
	switch r.Kind() {
	case KindPromptCompletion:
		return []tokenize.Segment{{Text: r.Prompt}, {Text: r.Completion, Train: true}}
	case KindChat:
		segs := make([]tokenize.Segment, 0, 2*len(r.Messages))
		for _, m := range r.Messages {
			assistant := m.Role == "assistant"
			segs = append(segs, tokenize.Segment{Text: m.Role + ": "})
			segs = append(segs, tokenize.Segment{Text: m.Content + "\n", Train: assistant})
		}
		return segs
	default:
		return []tokenize.Segment{{Text: r.Text, Train: true}}
	}
}

// Pack renders records with Segments and packs them into blocks: the one
// path from records to training tokens, shared by training and evaluation.
func Pack(tok *tokenize.Tokenizer, recs []Record, o tokenize.PackOptions) ([]tokenize.Block, tokenize.PackStats) {
	ex := make([][]tokenize.Segment, len(recs))
	for i, r := range recs {
		ex[i] = r.Segments()
	}
	return tok.Pack(ex, o)
}
