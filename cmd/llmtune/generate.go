package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/model"
	"github.com/llmtune/llmtune/internal/tokenize"
)

type generateOptions struct {
	model, init, adapter string
	prompt, input        string
	maxTokens, topK      int
	temperature, topP    float64
	repetitionPenalty    float64
	seed                 int64
	in                   io.Reader
}

func init() {
	var o generateOptions
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Continue prompts with a model (KV-cached decoding on this machine)",
		Long: `generate continues each prompt with up to --max-tokens tokens and prints the
continuation as it is produced. Prompts come from --prompt, from --input (a
JSONL file whose lines hold "prompt" or "text", and optionally "id"), or else
one per line on stdin.

Decoding is greedy at --temperature 0 (the default, reproducible); above 0 it
samples, optionally restricted by --top-k and --top-p, with --seed fixing the
draws. --repetition-penalty > 1 discourages tokens already seen (Hugging
Face's rule). Generation stops at <|endoftext|> or after --max-tokens.

With --json each prompt gives one JSON line:
{"id":..,"completion":..,"tokens":N,"stopped":"eos"|"max_tokens"|"context"}.`,
		Example: `  llmtune generate --model runs/clinic/final --prompt "Patient presents with"
  llmtune generate --init gpt2-tiny --prompt "Hello" --max-tokens 8
  llmtune generate --model runs/clinic/final --input prompts.jsonl --json --temperature 0.7 --seed 1
  llmtune generate --model gpt2-dir --adapter runs/lora/adapter < prompts.txt`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.in = cmd.InOrStdin()
			return runGenerate(cmd.Context(), o, output(cmd))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "Hugging Face GPT-2 model directory")
	f.StringVar(&o.init, "init", "", "use a freshly initialised model instead: gpt2-tiny, gpt2-small or gpt2-124m")
	f.StringVar(&o.adapter, "adapter", "", "LoRA adapter directory (PEFT format) to merge into the model")
	f.StringVar(&o.prompt, "prompt", "", "the prompt (else --input, else one prompt per line on stdin)")
	f.StringVar(&o.input, "input", "", `JSONL file of prompts: {"prompt": "..."} or {"text": "..."}, optional "id"`)
	f.IntVar(&o.maxTokens, "max-tokens", 64, "most tokens to generate per prompt")
	f.Float64Var(&o.temperature, "temperature", 0, "sampling temperature; 0 is greedy")
	f.IntVar(&o.topK, "top-k", 0, "sample only among the k most likely tokens (0: all)")
	f.Float64Var(&o.topP, "top-p", 1, "sample only among the most likely tokens whose probabilities sum to p")
	f.Float64Var(&o.repetitionPenalty, "repetition-penalty", 1, "penalty > 1 for tokens already in the prompt or output")
	f.Int64Var(&o.seed, "seed", 0, "random seed for sampling (and for --init)")
	rootCmd.AddCommand(cmd)
}

// genPrompt is one prompt with its id (for --json output).
type genPrompt struct {
	ID   string
	Text string
	Line int
}

type genResult struct {
	ID         string `json:"id"`
	Completion string `json:"completion"`
	Tokens     int    `json:"tokens"`
	Stopped    string `json:"stopped"`
}

func runGenerate(ctx context.Context, o generateOptions, out *cli.Output) error {
	switch {
	case (o.model == "") == (o.init == ""):
		return cli.Usagef("give exactly one of --model DIR or --init gpt2-tiny|gpt2-small|gpt2-124m")
	case o.prompt != "" && o.input != "":
		return cli.Usagef("give --prompt or --input, not both")
	case o.maxTokens < 1:
		return cli.Usagef("--max-tokens must be at least 1")
	case o.temperature < 0 || o.topK < 0 || o.topP <= 0 || o.topP > 1 || o.repetitionPenalty <= 0:
		return cli.Usagef("--temperature and --top-k must be >= 0, --top-p in (0,1], --repetition-penalty > 0")
	}
	m, tok, err := loadForGenerate(o)
	if err != nil {
		return err
	}
	opts := model.GenerateOptions{MaxTokens: o.maxTokens, Temperature: o.temperature, TopK: o.topK, TopP: o.topP,
		RepetitionPenalty: o.repetitionPenalty, Seed: o.seed, EOS: tok.EOS()}
	return eachPrompt(o, func(p genPrompt) error {
		return generateOne(ctx, m, tok, p, opts, out)
	})
}

func loadForGenerate(o generateOptions) (*model.Model, *tokenize.Tokenizer, error) {
	var (
		m   *model.Model
		tok *tokenize.Tokenizer
		err error
	)
	if o.init != "" {
		cfg, err := model.Preset(o.init)
		if err != nil {
			return nil, nil, cli.Usagef("--init: %v", err)
		}
		m = model.Init(cfg, o.seed)
		if tok, err = tokenize.GPT2(); err != nil {
			return nil, nil, err
		}
	} else {
		if m, err = model.Load(o.model); err != nil {
			return nil, nil, err
		}
		if tok, err = tokenize.Load(o.model); err != nil {
			return nil, nil, err
		}
	}
	if o.adapter != "" {
		cfg, tensors, _, err := model.ReadAdapter(o.adapter)
		if err != nil {
			return nil, nil, err
		}
		if err := model.ApplyAdapter(m, cfg, tensors); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", o.adapter, err)
		}
	}
	return m, tok, nil
}

// eachPrompt calls fn for --prompt, each line of --input, or each line of stdin.
func eachPrompt(o generateOptions, fn func(genPrompt) error) error {
	if o.prompt != "" {
		return fn(genPrompt{ID: "1", Text: o.prompt, Line: 1})
	}
	r, name := o.in, "stdin"
	if o.input != "" {
		f, err := os.Open(o.input)
		if err != nil {
			return cli.Usagef("--input: %v", err)
		}
		defer f.Close()
		r, name = f, o.input
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		p := genPrompt{ID: fmt.Sprint(line), Text: text, Line: line}
		if o.input != "" {
			if strings.TrimSpace(text) == "" {
				continue
			}
			var rec struct {
				ID     any    `json:"id"`
				Prompt string `json:"prompt"`
				Text   string `json:"text"`
			}
			if err := json.Unmarshal([]byte(text), &rec); err != nil {
				return fmt.Errorf("%s line %d: not a JSON object (%v); each line must be {\"prompt\": \"...\"}", name, line, genJSONErrKind(err))
			}
			p.Text = rec.Prompt
			if p.Text == "" {
				p.Text = rec.Text
			}
			if p.Text == "" {
				return fmt.Errorf("%s line %d: no \"prompt\" or \"text\" field", name, line)
			}
			if rec.ID != nil {
				p.ID = fmt.Sprint(rec.ID)
			}
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s line %d: %w", name, line+1, err)
	}
	return nil
}

// genJSONErrKind describes a JSON error without quoting the input (it may be private).
func genJSONErrKind(err error) string {
	switch err.(type) {
	case *json.SyntaxError:
		return "syntax error"
	case *json.UnmarshalTypeError:
		return "a field has the wrong type"
	}
	return "invalid JSON"
}

func generateOne(ctx context.Context, m *model.Model, tok *tokenize.Tokenizer, p genPrompt, opts model.GenerateOptions, out *cli.Output) error {
	// Every training example starts with <|endoftext|> (tokenize.Pack), and
	// the GGUF export tells llama.cpp to add it too: prompts start the same way.
	ids := tok.Encode(p.Text)
	if room := m.Config.NPositions - 2; len(ids) > room {
		out.Warnf("prompt %s: %d tokens; keeping the last %d (n_positions %d)", p.ID, len(ids), room, m.Config.NPositions)
		ids = ids[len(ids)-room:]
	}
	ids = append([]int32{tok.EOS()}, ids...)
	var pending []byte // bytes of an incomplete UTF-8 character
	var text strings.Builder
	w := out.Stdout
	emit := func(t int32) error {
		pending = append(pending, tok.TokenBytes(t)...)
		n := genValidPrefix(pending)
		if n == 0 {
			return nil
		}
		text.Write(pending[:n])
		if !out.JSON && w != nil {
			if _, err := w.Write(pending[:n]); err != nil {
				return err
			}
		}
		pending = append(pending[:0], pending[n:]...)
		return nil
	}
	gen, err := model.Generate(ctx, m, ids, opts, emit)
	if err != nil {
		return fmt.Errorf("prompt %s (line %d): %w", p.ID, p.Line, err)
	}
	if len(pending) > 0 {
		text.WriteString(strings.ToValidUTF8(string(pending), "\uFFFD"))
		if !out.JSON && w != nil {
			io.WriteString(w, strings.ToValidUTF8(string(pending), "\uFFFD"))
		}
	}
	stopped := "eos"
	switch {
	case len(gen) == opts.MaxTokens:
		stopped = "max_tokens"
	case len(ids)+len(gen) >= m.Config.NPositions:
		stopped = "context"
	}
	res := genResult{ID: p.ID, Completion: text.String(), Tokens: len(gen), Stopped: stopped}
	return out.Result(res, func(w io.Writer) { io.WriteString(w, "\n") })
}

// genValidPrefix is the length of b without a trailing incomplete UTF-8
// character (a token may end inside one; the next token completes it).
func genValidPrefix(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if !utf8.RuneStart(b[i]) {
			continue
		}
		if utf8.FullRune(b[i:]) {
			return len(b)
		}
		return i
	}
	return len(b)
}
