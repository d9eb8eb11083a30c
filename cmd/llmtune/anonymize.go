package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/llmtune/llmtune/internal/anonymize"
	"github.com/llmtune/llmtune/internal/atomicfile"
	"github.com/llmtune/llmtune/internal/cli"
)

type anonymizeOptions struct {
	input, out, policy, report, format string
	fields                             []string
	spans                              bool
	workers                            int
}

func init() {
	var o anonymizeOptions
	cmd := &cobra.Command{
		Use:   "anonymize --input F.jsonl|- --out F.jsonl|-",
		Short: "Find and replace personal data in JSONL or plain text",
		Long: `anonymize replaces names, phone numbers, Aadhaar, PAN, cards, addresses and
other personal data with tags (<PERSON_1>), masks or consistent pseudonyms, as a
policy file says. JSONL in, JSONL out; fields other than --field are kept.
--spans writes the detected spans ({"id","spans":[{"start","end","type"}]}, byte
offsets) instead of replacing. --report writes counts by type, never values.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAnonymize(cmd.Context(), o, cmd.InOrStdin(), output(cmd))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.input, "input", "-", "input file, or - for stdin")
	f.StringVar(&o.out, "out", "-", "output file, or - for stdout (written atomically, mode 0600)")
	f.StringSliceVar(&o.fields, "field", []string{"text"}, "JSON field(s) to anonymize (strings, or lists of {\"content\"} messages)")
	f.StringVar(&o.policy, "policy", "", "policy file (YAML or JSON): operators per type, allow/deny lists, custom recognizers")
	f.StringVar(&o.report, "report", "", "write entity counts by type (JSON, no values) to this file")
	f.StringVar(&o.format, "format", "jsonl", "input format: jsonl or text (the whole input is one document)")
	f.BoolVar(&o.spans, "spans", false, "write detected spans instead of anonymized text")
	f.IntVar(&o.workers, "workers", 0, "parallel workers (default: all cores)")
	rootCmd.AddCommand(cmd)
}

func runAnonymize(ctx context.Context, o anonymizeOptions, stdin io.Reader, out *cli.Output) error {
	if o.format != "jsonl" && o.format != "text" {
		return cli.Usagef("--format must be jsonl or text, not %q", o.format)
	}
	eng, err := anonymize.ForPolicyFile(o.policy)
	if err != nil {
		return cli.WithCode(cli.ExitUsage, err)
	}
	var in io.Reader = stdin
	if o.input != "-" {
		fh, err := os.Open(o.input)
		if err != nil {
			return fmt.Errorf("opening input: %w", err)
		}
		defer fh.Close()
		in = fh
	}
	var rep *anonymize.Report
	write := func(w io.Writer) error {
		var err error
		if o.format == "text" {
			rep, err = anonymizeText(eng, in, w, o.spans)
		} else {
			rep, err = eng.Stream(ctx, in, w, anonymize.StreamOptions{Fields: o.fields, Spans: o.spans, Workers: o.workers})
		}
		return err
	}
	if o.out == "-" {
		err = write(out.Stdout)
	} else {
		err = atomicfile.WriteWith(o.out, 0o600, write)
	}
	if err != nil {
		return err
	}
	if o.report != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := atomicfile.WriteFile(o.report, append(b, '\n'), 0o600); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
	}
	var sb strings.Builder
	for _, t := range rep.Types() {
		fmt.Fprintf(&sb, " %s=%d", t, rep.Entities[t])
	}
	out.Infof("anonymize: %d records, %d changed, %d entities:%s", rep.Records, rep.Changed, rep.Total, sb.String())
	return nil
}

func anonymizeText(eng *anonymize.Engine, in io.Reader, w io.Writer, spans bool) (*anonymize.Report, error) {
	b, err := io.ReadAll(in)
	if err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	rep := &anonymize.Report{Records: 1, Entities: map[string]int{}}
	text, sp := eng.Anonymize(string(b))
	for _, s := range sp {
		rep.Entities[s.Type]++
		rep.Total++
	}
	if len(sp) > 0 {
		rep.Changed = 1
	}
	if spans {
		if sp == nil {
			sp = []anonymize.Span{}
		}
		enc := json.NewEncoder(w)
		return rep, enc.Encode(map[string]any{"spans": sp})
	}
	_, err = io.WriteString(w, text)
	return rep, err
}
