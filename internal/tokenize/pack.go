package tokenize

import (
	"runtime"
	"strings"
	"sync"
)

// Block is one training sequence: Targets[i] is the token after Inputs[i],
// and Mask[i] is 1 when Targets[i] counts towards the loss. Padding has
// Mask 0 (its Inputs and Targets are EOS).
type Block struct {
	Inputs, Targets []int32
	Mask            []float32
}

// PackOptions says how examples become blocks.
type PackOptions struct {
	Seq                int  // tokens per block
	TrainOnPrompt      bool // also train on prompt and non-assistant tokens
	OneExamplePerBlock bool // never join examples, even plain documents
}

// PackStats counts what packing did. Tokens counts real (non-padding) target
// positions, TrainedTokens those with Mask 1, Truncated the examples cut to fit.
type PackStats struct {
	Examples, Blocks, Tokens, TrainedTokens, Truncated int
}

// Pack tokenizes examples and lays them out in blocks of o.Seq tokens.
//
// Every example is preceded by EOS, so its first token is predicted from a
// document start as GPT-2 was trained. Plain documents (every segment
// trained) are followed by EOS and concatenated into one stream cut into
// full blocks (the last one padded); a document longer than a block simply
// continues in the next. Examples with untrained segments (prompt/completion,
// chat) get a block of their own, padded, and truncated when longer, which is
// counted in Truncated. Their segments are encoded as one text, as a prompt
// is at inference, and a token is trained when any of its bytes comes from a
// trained segment; EOS after the last segment is trained when that segment is.
func (t *Tokenizer) Pack(examples [][]Segment, o PackOptions) ([]Block, PackStats) {
	st := PackStats{Examples: len(examples)}
	if o.Seq <= 0 {
		return nil, st
	}
	toks, masks := t.encodeExamples(examples, o.TrainOnPrompt)

	var blocks []Block
	ones := onesFor(o.Seq)
	var stream []int32 // tokens of joined documents not yet in a block, starting with the next block's first input
	emit := func(seq []int32, mask []float32) {
		// seq has up to Seq+1 tokens; mask[i] belongs to seq[i+1].
		b := Block{Inputs: make([]int32, o.Seq), Targets: make([]int32, o.Seq), Mask: make([]float32, o.Seq)}
		n := len(seq) - 1
		copy(b.Inputs, seq[:n])
		copy(b.Targets, seq[1:])
		copy(b.Mask, mask[:n])
		for i := n; i < o.Seq; i++ {
			b.Inputs[i], b.Targets[i] = t.eos, t.eos
		}
		if n <= 0 {
			return
		}
		for _, m := range b.Mask {
			st.TrainedTokens += int(m)
		}
		st.Tokens += n
		st.Blocks++
		blocks = append(blocks, b)
	}
	for i, ex := range examples {
		if len(toks[i]) <= 1 {
			continue // empty: nothing but the leading EOS
		}
		if !o.OneExamplePerBlock && allTrained(ex) {
			if len(stream) == 0 {
				stream = append(stream, toks[i]...)
			} else {
				stream = append(stream, toks[i][1:]...) // the previous document's EOS leads this one
			}
			at := 0
			for len(stream)-at >= o.Seq+1 {
				emit(stream[at:at+o.Seq+1], ones)
				at += o.Seq
			}
			stream = append(stream[:0], stream[at:]...)
			continue
		}
		seq, mask := toks[i], masks[i]
		if len(seq) > o.Seq+1 {
			seq, mask = seq[:o.Seq+1], mask[:o.Seq]
			st.Truncated++
		}
		emit(seq, mask)
	}
	if len(stream) > 1 {
		emit(stream, ones)
	}
	return blocks, st
}

func onesFor(n int) []float32 {
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	return ones
}

func allTrained(ex []Segment) bool {
	for _, s := range ex {
		if !s.Train {
			return false
		}
	}
	return true
}

// encodeExamples returns, per example, EOS + its tokens (+ EOS) and the loss
// mask of each token after the first (len(mask) == len(toks)-1), encoding
// examples in parallel.
func (t *Tokenizer) encodeExamples(examples [][]Segment, trainOnPrompt bool) (toks [][]int32, masks [][]float32) {
	toks = make([][]int32, len(examples))
	masks = make([][]float32, len(examples))
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), max(1, len(examples)/64))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := t.getEncoder()
			defer t.putEncoder(e)
			for i := w; i < len(examples); i += workers {
				toks[i], masks[i] = e.example(examples[i], trainOnPrompt)
			}
		}()
	}
	wg.Wait()
	return toks, masks
}

func (e *encoder) example(segs []Segment, trainOnPrompt bool) ([]int32, []float32) {
	t := e.t
	var sb strings.Builder
	for _, s := range segs {
		sb.WriteString(s.Text)
	}
	text := sb.String()
	if text == "" {
		return []int32{t.eos}, nil
	}
	var ids []int32
	if len(text) >= parallelMin {
		ids = append(append([]int32{t.eos}, t.Encode(text)...), t.eos) // one huge document: use all cores
	} else {
		ids = append(e.encodeRange([]int32{t.eos}, text, 0, len(text)), t.eos)
	}
	mask := make([]float32, len(ids)-1)
	// A token is trained when it overlaps a trained segment.
	starts, ends := make([]int, len(segs)), make([]int, len(segs))
	for k, off := 0, 0; k < len(segs); k++ {
		starts[k], off = off, off+len(segs[k].Text)
		ends[k] = off
	}
	trained := func(k int) bool { return trainOnPrompt || segs[k].Train }
	seg, off := 0, 0
	for k, id := range ids[1 : len(ids)-1] {
		end := off + len(t.tokens[id])
		for seg < len(segs)-1 && ends[seg] <= off {
			seg++
		}
		for s := seg; s < len(segs) && starts[s] < end; s++ {
			if ends[s] > starts[s] && trained(s) {
				mask[k] = 1
				break
			}
		}
		off = end
	}
	// EOS after the example is trained with its last non-empty segment.
	last := len(segs) - 1
	for last > 0 && segs[last].Text == "" {
		last--
	}
	if trained(last) {
		mask[len(mask)-1] = 1
	}
	return ids, mask
}
