// Package version holds the build's identity, set by the Makefile via -ldflags.
package version

var (
	Version = "dev"
	Commit  = "unknown"
)
