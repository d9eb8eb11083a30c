package train

import (
	"fmt"
	"math"
)

// schedule maps a 0-based step to its learning rate. Warm-up rises
// linearly so that step warmup-1 reaches the peak (unlike Hugging Face's,
// whose first step has learning rate 0 and so wastes a step); after it the
// rate stays constant or decays linearly or along a half cosine towards the
// floor, which it reaches just after the last step (as Hugging Face's
// schedules do, so that no step runs at a zero rate).
type schedule struct {
	kind          string
	peak, floor   float64
	warmup, total int
}

func newSchedule(kind string, peak, floor float64, warmup, total int) (schedule, error) {
	switch kind {
	case "constant", "linear", "cosine":
	default:
		return schedule{}, fmt.Errorf("unknown schedule %q (constant, linear, cosine)", kind)
	}
	return schedule{kind: kind, peak: peak, floor: floor, warmup: warmup, total: total}, nil
}

func (s schedule) at(step int) float64 {
	if step < s.warmup {
		return s.peak * float64(step+1) / float64(s.warmup)
	}
	if s.kind == "constant" {
		return s.peak
	}
	span := s.total - s.warmup
	if span <= 0 {
		return s.peak
	}
	p := math.Min(1, float64(step-s.warmup)/float64(span))
	if s.kind == "linear" {
		return s.floor + (s.peak-s.floor)*(1-p)
	}
	return s.floor + (s.peak-s.floor)*0.5*(1+math.Cos(math.Pi*p))
}
