package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/tokenize"
)

type tokenizeOptions struct {
	model string
	count bool
	in    io.Reader
}

func init() {
	var o tokenizeOptions
	cmd := &cobra.Command{
		Use:   "tokenize",
		Short: "Print the token ids (or counts) of each line of stdin",
		Long: `tokenize reads text on stdin and prints one line per input line: the
line's token ids separated by spaces, or with --count the number of tokens.
With --json each output line is a JSON object: {"ids":[...]} or {"count":N}.
The line ending is not part of the line. Special markers such as
<|endoftext|> are encoded as plain text, as in training.

--model is a model directory (tokenizer.json, or vocab.json + merges.txt);
without it GPT-2's tokenizer, built into llmtune, is used.`,
		Example: `  echo "Hello world" | llmtune tokenize            # 15496 995
  llmtune tokenize --model runs/base --count < notes.txt`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.in = cmd.InOrStdin()
			return runTokenize(cmd.Context(), o, output(cmd))
		},
	}
	cmd.Flags().StringVar(&o.model, "model", "", "model directory whose tokenizer to use (default: built-in GPT-2)")
	cmd.Flags().BoolVar(&o.count, "count", false, "print the number of tokens per line instead of the ids")
	rootCmd.AddCommand(cmd)
}

func runTokenize(ctx context.Context, o tokenizeOptions, out *cli.Output) error {
	var (
		tok *tokenize.Tokenizer
		err error
	)
	if o.model == "" {
		out.Debugf("using the built-in GPT-2 tokenizer")
		tok, err = tokenize.GPT2()
	} else {
		tok, err = tokenize.Load(o.model)
	}
	if err != nil {
		return err
	}
	stdout := out.Stdout
	if stdout == nil {
		stdout = os.Stdout
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	var buf []byte
	start := time.Now()
	st, err := tok.EncodeLines(ctx, o.in, func(ids []int32) error {
		buf = formatIDs(buf[:0], ids, o.count, out.JSON)
		_, err := w.Write(buf)
		return err
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("tokenize: %w", err)
	}
	secs := time.Since(start).Seconds()
	out.Infof("%d lines, %d bytes, %d tokens (%.1f MB/s)", st.Lines, st.Bytes, st.Tokens, float64(st.Bytes)/1e6/max(secs, 1e-9))
	return nil
}

func formatIDs(buf []byte, ids []int32, count, asJSON bool) []byte {
	switch {
	case count && asJSON:
		buf = append(buf, `{"count":`...)
		buf = strconv.AppendInt(buf, int64(len(ids)), 10)
		buf = append(buf, '}')
	case count:
		buf = strconv.AppendInt(buf, int64(len(ids)), 10)
	case asJSON:
		buf = append(buf, `{"ids":[`...)
		for i, id := range ids {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendInt(buf, int64(id), 10)
		}
		buf = append(buf, "]}"...)
	default:
		for i, id := range ids {
			if i > 0 {
				buf = append(buf, ' ')
			}
			buf = strconv.AppendInt(buf, int64(id), 10)
		}
	}
	return append(buf, '\n')
}
