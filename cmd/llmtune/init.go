package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/llmtune/llmtune/internal/atomicfile"
	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/pipeline"
)

func init() {
	var path string
	var force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented llmtune.yaml with every setting and its default",
		Example: `  llmtune init                      # writes ./llmtune.yaml
  llmtune init --out /etc/llmtune/clinic.yaml`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := os.Stat(path); err == nil && !force {
				return cli.Usagef("%s exists; use --force to overwrite it", path)
			}
			if err := atomicfile.WriteFile(path, pipeline.Template, 0o600); err != nil {
				return err
			}
			return output(cmd).Result(map[string]string{"config": path}, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s; edit prepare.inputs, then: llmtune run --config %s\n", path, path)
			})
		},
	}
	cmd.Flags().StringVar(&path, "out", "llmtune.yaml", "where to write the configuration")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	rootCmd.AddCommand(cmd)
}
