//go:build !openblas || !cgo

package blas

import (
	"runtime"

	"gonum.org/v1/gonum/blas/gonum"
)

var impl = gonum.Implementation{}

const backend = "gonum"

// Threads reports the parallelism of gonum's BLAS, which uses GOMAXPROCS.
func Threads() int { return runtime.GOMAXPROCS(0) }

// SetThreads is a no-op for gonum, which follows GOMAXPROCS.
func SetThreads(n int) {}
