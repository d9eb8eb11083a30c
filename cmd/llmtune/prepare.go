package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/llmtune/llmtune/internal/anonymize"
	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/dataset"
)

type prepareOpts struct {
	dataset.PrepareOptions
	noAnonymize bool
	canaries    string
}

func init() {
	var o prepareOpts
	cmd := &cobra.Command{
		Use:   "prepare --input PATH [--input PATH ...] --out DIR",
		Short: "Read raw text, remove personal data, de-duplicate and split into Parquet",
		Long: `prepare reads plain text, JSONL, CSV or Parquet (a file, a directory of them, or - for
stdin; .gz is read transparently), removes personal data, drops exact duplicates
(after normalising whitespace and case), and splits the records into train, val and
test. A record's split depends only on the seed and the record (or its --group-by
value), so re-running gives byte-identical output and appending records never moves
an old one to another split. DIR is replaced atomically (mode 0700, files 0600).`,
		Example: `  llmtune prepare --input notes/ --out prepared/
  llmtune prepare --input chats.jsonl --messages-field messages --group-by customer_id --out prepared/
  llmtune prepare --input qa.csv --prompt-field question --completion-field answer --val 0.05 --test 0.05 --out prepared/
  zcat export.jsonl.gz | llmtune prepare --input - --out prepared/`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPrepare(cmd.Context(), o, output(cmd))
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Inputs, "input", nil, "input file or directory (.txt, .jsonl, .csv, .parquet, .gz), or - for stdin; repeatable")
	f.StringVar(&o.Out, "out", "", "output directory (replaced atomically)")
	f.StringVar(&o.Read.TextField, "text-field", "text", "field holding the text")
	f.StringVar(&o.Read.PromptField, "prompt-field", "", "field holding the prompt (instruction data; needs --completion-field)")
	f.StringVar(&o.Read.CompletionField, "completion-field", "", "field holding the completion")
	f.StringVar(&o.Read.MessagesField, "messages-field", "", "field holding a chat as a list of {role, content}")
	f.StringVar(&o.Read.IDField, "id-field", "id", "field holding a record id (else file:line)")
	f.StringVar(&o.Read.GroupBy, "group-by", "", "keep all records with the same value of this field in one split")
	f.BoolVar(&o.Read.Paragraphs, "paragraphs", false, ".txt: one record per blank-line-separated paragraph instead of per file")
	f.StringVar(&o.Read.StdinFormat, "stdin-format", "jsonl", "format of --input -: jsonl, csv or txt")
	f.Float64Var(&o.Val, "val", 0.1, "fraction of records for validation")
	f.Float64Var(&o.Test, "test", 0.1, "fraction of records for test")
	f.Int64Var(&o.Seed, "seed", 1, "split seed")
	f.StringVar(&o.OnBadRecord, "on-bad-record", "skip", "skip (count in the manifest) or fail on a malformed record")
	f.BoolVar(&o.noAnonymize, "no-anonymize", false, "keep personal data (only for data that has none)")
	f.StringVar(&o.Policy, "policy", "", "anonymization policy file (operators, allow and deny lists)")
	f.StringVar(&o.canaries, "canaries", "", "plant N random secrets (N or N,repeats) in the training split for 'eval --audit'")
	rootCmd.AddCommand(cmd)
}

func runPrepare(ctx context.Context, o prepareOpts, out *cli.Output) error {
	if len(o.Inputs) == 0 || o.Out == "" {
		return cli.Usagef("prepare needs --input and --out")
	}
	if err := o.Read.Validate(); err != nil {
		return cli.Usagef("%v", err)
	}
	o.Anonymize = !o.noAnonymize
	var eng *anonymize.Engine
	if o.Anonymize {
		var err error
		eng, err = anonymize.ForPolicyFile(o.Policy)
		if err != nil {
			return err
		}
	} else {
		out.Warnf("anonymization is off: personal data in the inputs will reach the prepared splits")
	}
	var total int64
	if files, err := dataset.ExpandInputs(o.Inputs); err == nil {
		for _, f := range files {
			if st, err := os.Stat(f); err == nil {
				total += st.Size()
			}
		}
	}
	if err := dataset.AddCanaries(&o.PrepareOptions, o.canaries); err != nil {
		return cli.Usagef("%v", err)
	}
	bar := out.NewProgress("prepare", total, "B")
	m, err := dataset.Prepare(ctx, o.PrepareOptions, eng, func(n int64) { bar.Set(n) })
	bar.Finish()
	if err != nil {
		var fe *dataset.FieldError
		if errors.As(err, &fe) {
			return cli.WithCode(cli.ExitFailure, err)
		}
		return err
	}
	return out.Result(m, func(w io.Writer) {
		fmt.Fprintf(w, "prepared %d records from %d inputs into %s: train %d, val %d, test %d\n",
			m.Records, len(m.Inputs), o.Out, m.Counts["train"], m.Counts["val"], m.Counts["test"])
		fmt.Fprintf(w, "dropped %d duplicates, skipped %d bad records", m.Duplicates, m.BadRecords)
		if m.Anonymized {
			var n int64
			for _, v := range m.Entities {
				n += v
			}
			fmt.Fprintf(w, ", replaced %d personal-data entities", n)
		}
		fmt.Fprintln(w)
	})
}
