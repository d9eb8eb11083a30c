package tokenize

import (
	"runtime"
	"sync"
)

// Inputs at least this long are cut into chunks encoded in parallel.
var (
	parallelMin = 256 << 10
	chunkSize   = 128 << 10
)

// Encode returns the token ids of text. Special markers such as
// "<|endoftext|>" are plain text here. Any byte string is accepted: bytes that
// are not UTF-8 are encoded as single bytes, so Decode(Encode(s)) == s.
func (t *Tokenizer) Encode(text string) []int32 {
	workers := runtime.GOMAXPROCS(0)
	if len(text) < parallelMin || workers == 1 {
		e := t.getEncoder()
		ids := e.encodeRange(make([]int32, 0, len(text)/4+8), text, 0, len(text))
		t.putEncoder(e)
		return ids
	}
	cuts := t.chunks(text, chunkSize)
	parts := make([][]int32, len(cuts)-1)
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < min(workers, len(parts)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := t.getEncoder()
			defer t.putEncoder(e)
			for k := range work {
				a, b := cuts[k], cuts[k+1]
				parts[k] = e.encodeRange(make([]int32, 0, (b-a)/4+8), text, a, b)
			}
		}()
	}
	for k := range parts {
		work <- k
	}
	close(work)
	wg.Wait()
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	ids := make([]int32, 0, n)
	for _, p := range parts {
		ids = append(ids, p...)
	}
	return ids
}

// chunks returns cut points 0 = c0 < c1 < ... < cn = len(s), each a boundary
// of the pre-tokenizer, roughly size bytes apart. Text without boundaries
// (one endless word) stays one chunk.
func (t *Tokenizer) chunks(s string, size int) []int {
	cuts := []int{0}
	for p := size; p < len(s); p++ {
		if t.pre.boundary(s, p) {
			cuts = append(cuts, p)
			p += size - 1
		}
	}
	return append(cuts, len(s))
}
