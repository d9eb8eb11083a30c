package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/llmtune/llmtune/internal/blas"
	"github.com/llmtune/llmtune/internal/version"
)

func init() {
	rootCmd.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print version, commit, Go version, BLAS backend and thread count",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := struct {
				Version    string `json:"version"`
				Commit     string `json:"commit"`
				Go         string `json:"go"`
				BLAS       string `json:"blas"`
				BLASThread int    `json:"blas_threads"`
				GoMaxProcs int    `json:"gomaxprocs"`
			}{version.Version, version.Commit, runtime.Version(), blas.Backend(), blas.Threads(), runtime.GOMAXPROCS(0)}
			return output(cmd).Result(v, func(w io.Writer) {
				fmt.Fprintf(w, "llmtune %s (commit %s)\n%s, BLAS %s with %d threads, GOMAXPROCS %d\n",
					v.Version, v.Commit, v.Go, v.BLAS, v.BLASThread, v.GoMaxProcs)
			})
		},
	})
}
