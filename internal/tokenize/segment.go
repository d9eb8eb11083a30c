package tokenize

// Segment is a piece of one training example. Packing tokenizes segments in
// order; only tokens of segments with Train set count towards the loss
// (completion and assistant turns), unless training on prompts is asked for.
type Segment struct {
	Text  string
	Train bool
}
