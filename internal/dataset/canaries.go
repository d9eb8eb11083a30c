package dataset

import (
	"fmt"

	"github.com/llmtune/llmtune/internal/canary"
)

// AddCanaries plants canaries for the privacy audit: spec is "N" or
// "N,repeats". Each canary becomes `repeats` records of the training split
// only (never validation or test), and Prepare writes the list to
// canaries.json (0600) beside manifest.json. The seed is the split seed.
func AddCanaries(o *PrepareOptions, spec string) error {
	if spec == "" {
		return nil
	}
	n, repeats, err := canary.ParseSpec(spec)
	if err != nil {
		return err
	}
	o.Canaries = canary.Generate(n, repeats, o.Seed)
	for _, c := range o.Canaries {
		for r := 0; r < c.Repeats; r++ {
			o.ExtraTrain = append(o.ExtraTrain, Record{ID: fmt.Sprintf("%s-%d", c.ID, r), Text: c.Text, Source: "canary"})
		}
	}
	return nil
}
