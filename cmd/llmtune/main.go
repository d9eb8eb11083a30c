// Command llmtune fine-tunes language models on private text without any of
// it leaving the machine. Each subcommand lives in its own file and registers
// itself with the root command in init.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	_ "go4.org/unsafe/assume-no-moving-gc" // gorgonia panics at start on Go 1.26 without it

	"github.com/llmtune/llmtune/internal/cli"
)

// globals are the flags every subcommand shares.
var globals struct {
	json    bool
	quiet   bool
	verbose bool
}

var rootCmd = &cobra.Command{
	Use:   "llmtune",
	Short: "Fine-tune language models on private text, entirely on this machine",
	Long: `llmtune prepares private text (removing personal data), fine-tunes a GPT-2
family model on it, evaluates it and audits what it memorised, without any
byte leaving the machine: no network access, no telemetry, no downloads.`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

func init() {
	pf := rootCmd.PersistentFlags()
	pf.BoolVar(&globals.json, "json", false, "print one machine-readable JSON result on stdout")
	pf.BoolVarP(&globals.quiet, "quiet", "q", false, "print only warnings and errors on stderr")
	pf.BoolVarP(&globals.verbose, "verbose", "v", false, "print debugging detail on stderr")
	rootCmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.Usagef("%v", err) })
}

// output returns the shared Output configured from the global flags.
func output(cmd *cobra.Command) *cli.Output {
	return &cli.Output{
		Stdout:  cmd.OutOrStdout(),
		Stderr:  cmd.ErrOrStderr(),
		JSON:    globals.json,
		Quiet:   globals.quiet,
		Verbose: globals.verbose,
	}
}

// exactArgs is cobra.ExactArgs with a usage exit code.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return cli.Usagef("%v", err)
		}
		return nil
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rootCmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return cli.Usagef("unknown command %q; see 'llmtune --help'", args[0])
		}
		return cmd.Help()
	}
	rootCmd.Args = cobra.ArbitraryArgs
	err := rootCmd.ExecuteContext(ctx)
	if err != nil {
		if isCobraUsage(err) {
			err = cli.Usagef("%v", err)
		}
		fmt.Fprintf(os.Stderr, "llmtune: %v\n", err)
	}
	os.Exit(cli.CodeOf(err))
}

// isCobraUsage recognises cobra's own argument errors (unknown command).
func isCobraUsage(err error) bool {
	var e *cli.ExitError
	if errors.As(err, &e) {
		return false
	}
	msg := err.Error()
	return len(msg) > 16 && (msg[:16] == "unknown command " || msg[:15] == "unknown flag: -")
}
