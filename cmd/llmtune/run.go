package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/pipeline"
)

func init() {
	var path, workdir string
	var sets []string
	cmd := &cobra.Command{
		Use:   "run --config llmtune.yaml",
		Short: "Prepare, train and evaluate in one incremental, locked pipeline (for cron)",
		Long: `run executes prepare, train and eval as one pipeline configured by a YAML file
(write a commented one with 'llmtune init'). Each stage records the hashes of its
inputs and settings and is skipped when they have not changed; when nothing changed,
run exits with code 3 so cron stays quiet. A lock keeps two runs from overlapping
(exit code 4). A new model replaces the current one (the 'current' link in
WORKDIR/runs) only when it passes the gates; otherwise the run is kept for
inspection and run exits with code 5. A killed run resumes training from its last
checkpoint next time. WORKDIR/log.jsonl records every stage with its figures.`,
		Example: `  llmtune init && llmtune run --config llmtune.yaml
  llmtune run --config llmtune.yaml --set train.steps=500 --set prepare.canaries=10,20
  # crontab: retrain every Sunday at 02:00, quiet unless something happened
  0 2 * * 0  cd /srv/llmtune && llmtune run --config llmtune.yaml -q`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := pipeline.Load(path)
			if err != nil {
				return cli.Usagef("%v", err)
			}
			for _, s := range sets {
				if err := cfg.Set(s); err != nil {
					return cli.Usagef("--set: %v", err)
				}
			}
			if workdir != "" {
				cfg.Workdir = workdir
			}
			if err := cfg.Validate(); err != nil {
				return cli.Usagef("%v", err)
			}
			out := output(cmd)
			r := &pipeline.Runner{Config: cfg, Stages: pipeline.Real{Out: out}}
			if !out.Quiet && !out.JSON {
				r.Log = cmd.ErrOrStderr()
			}
			res, err := r.Run(cmd.Context())
			if errors.Is(err, pipeline.ErrLocked) {
				return cli.WithCode(cli.ExitLocked, err)
			}
			if err != nil {
				return err
			}
			if rerr := out.Result(res, func(w io.Writer) { describeRun(w, res, cfg) }); rerr != nil {
				return rerr
			}
			switch {
			case res.NothingToDo:
				return cli.WithCode(cli.ExitNothingToDo, errors.New("nothing to do: inputs and settings are unchanged since the last run"))
			case len(res.GateFailures) > 0:
				return cli.WithCode(cli.ExitNotPromoted, fmt.Errorf("run %s was not promoted: %s", res.Run, strings.Join(res.GateFailures, "; ")))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "config", "llmtune.yaml", "pipeline configuration (llmtune init writes one)")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a setting, e.g. --set train.steps=500 (repeatable)")
	cmd.Flags().StringVar(&workdir, "workdir", "", "override the configuration's workdir")
	rootCmd.AddCommand(cmd)
}

func describeRun(w io.Writer, res pipeline.Outcome, cfg pipeline.Config) {
	if res.NothingToDo {
		fmt.Fprintf(w, "nothing to do; the current model is run %s\n", res.Current)
		return
	}
	for _, s := range res.Stages {
		fmt.Fprintf(w, "%-8s %-16s %s\n", s.Stage, s.Outcome, s.End.Sub(s.Start).Round(1e8))
	}
	if e := res.Eval; e != nil {
		fmt.Fprintf(w, "test perplexity %.2f", e.Perplexity)
		if e.CurrentPerplexity > 0 {
			fmt.Fprintf(w, " (current model %.2f)", e.CurrentPerplexity)
		}
		fmt.Fprintf(w, "; max canary exposure %.2f bits; %.0f%% of samples verbatim; %d PII entities regurgitated\n",
			e.MaxExposure, 100*e.VerbatimShare, e.PIIRegurgitated)
		if e.Report != "" {
			fmt.Fprintf(w, "report: %s\n", e.Report)
		}
	}
	if res.Promoted {
		fmt.Fprintf(w, "promoted run %s: %s/runs/current now points to it\n", res.Run, cfg.Workdir)
	} else if len(res.GateFailures) > 0 {
		fmt.Fprintf(w, "not promoted (kept for inspection in %s/runs/%s):\n", cfg.Workdir, res.Run)
		for _, g := range res.GateFailures {
			fmt.Fprintf(w, "  - %s\n", g)
		}
	}
}
