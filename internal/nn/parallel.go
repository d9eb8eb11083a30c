package nn

import (
	"runtime"
	"sync"
)

// minChunk is the least work (in rows times columns) worth a goroutine.
const minChunk = 1 << 14

// Parallel runs fn over [0,n) split into contiguous ranges, one per core,
// when the work (n*cost elements) is big enough to pay for the goroutines.
func Parallel(n, cost int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 || n*cost < minChunk {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		lo, hi := n*w/workers, n*(w+1)/workers
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, n/workers)
	wg.Wait()
}
