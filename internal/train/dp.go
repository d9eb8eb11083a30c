package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/privacy"
)

// DP-SGD as Opacus does it. Each step draws its records by Poisson sampling
// (each record independently with rate q = batch/records); each record's
// gradient (of its mean token loss) is clipped to norm C; Gaussian noise of
// standard deviation σC is added to the sum, which is divided by the
// expected batch size. The privacy unit is one record: packing keeps every
// record in its own sequence. With LoRA, every record's gradient comes out
// of one batched backward (the adapters' weight gradients split by
// example); with full fine-tuning the network runs one sequence at a time,
// which costs the same multiply-adds as the batched step but not its
// batching. The sample and the noise of step s are pure
// functions of (seed, s), so a resumed run continues exactly.
type dpState struct {
	n                  int
	q, sigma, c, delta float64
	target             float64   // ε budget; 0 = none (noise given directly)
	acc                []float32 // sum of clipped per-record gradients
	sampled            []int
	eps                float64   // spent after the last step
	perEx              []float32 // the network's per-example gradients (LoRA), or nil
}

// perExampleNetwork gives every row's own gradient from one batched
// backward (*model.Trainer with LoRA).
type perExampleNetwork interface {
	PerExampleGrads() []float32
}

const (
	dpSampleSalt = 0x5bd1e9955bd1e995
	dpNoiseSalt  = 0xc2b2ae3d27d4eb4f
)

// newDP checks the privacy settings against n records and returns the
// state and the number of steps of the run.
func newDP(o Options, n int) (*dpState, int, error) {
	if n == 0 {
		return nil, 0, cli.Usagef("DP-SGD: no training records")
	}
	d := &dpState{n: n, c: o.DPMaxGradNorm, target: o.DPEpsilon, delta: o.DPDelta, q: float64(o.Batch) / float64(n)}
	if d.q > 1 {
		return nil, 0, cli.Usagef("DP-SGD: --batch %d is larger than the %d training records", o.Batch, n)
	}
	if d.delta == 0 {
		d.delta = 0.1 / float64(n)
	}
	if d.delta >= 1/float64(n) {
		return nil, 0, cli.Usagef("--dp-delta %g is not below 1/records = %g: with that δ the guarantee allows publishing a whole record; use %g or less",
			d.delta, 1/float64(n), 0.1/float64(n))
	}
	steps := o.Steps
	if steps == 0 {
		steps = max(1, int(privacy.StepsForEpochs(o.Epochs, d.q)))
	}
	d.sigma = o.DPNoise
	if d.sigma == 0 {
		s, err := privacy.NoiseMultiplier(o.DPEpsilon, d.delta, d.q, int64(steps), privacy.DefaultTolerance)
		if err != nil {
			return nil, 0, cli.Usagef("DP-SGD: %v", err)
		}
		d.sigma = s
	}
	return d, steps, nil
}

// allows reports whether step (1-based count) stays within the budget.
func (d *dpState) allows(step int) bool {
	if d.target == 0 {
		return true
	}
	eps, _, err := privacy.EpsilonFor(d.sigma, d.q, int64(step), d.delta)
	return err == nil && eps <= d.target
}

// sample lists the records of step s (0-based).
func (d *dpState) sample(seed int64, s int) []int {
	r := rand.NewPCG(uint64(seed)^dpSampleSalt, uint64(s))
	d.sampled = d.sampled[:0]
	for i := 0; i < d.n; i++ {
		if float64(r.Uint64()>>11)/(1<<53) < d.q {
			d.sampled = append(d.sampled, i)
		}
	}
	return d.sampled
}

// addNoise adds N(0, (σC)²) to every coordinate of acc, drawn for step s.
func (d *dpState) addNoise(seed int64, s int, acc []float32) {
	if d.sigma == 0 {
		return
	}
	r := rand.New(rand.NewPCG(uint64(seed)^dpNoiseSalt, uint64(s)))
	std := d.sigma * d.c
	for i := range acc {
		acc[i] += float32(r.NormFloat64() * std)
	}
}

// dpStep is one DP-SGD step.
func (l *loop) dpStep() (record, error) {
	start := time.Now()
	d := l.dp
	if d.acc == nil {
		d.acc = make([]float32, len(l.opt.m))
	}
	grads := l.net.Grads()
	var lossSum, seen float64
	tokens := int64(0)
	one := l.idx[:1]
	sampled := d.sample(l.o.Seed, l.st.Step)
	if d.perEx != nil {
		var err error
		if lossSum, seen, tokens, err = l.dpBatched(sampled); err != nil {
			return record{}, err
		}
		sampled = nil
	}
	for _, bi := range sampled {
		var count float64
		for _, m := range l.train[bi].Mask {
			count += float64(m)
		}
		one[0] = bi
		l.fill(l.train, one)
		l.net.ZeroGrads()
		ls, c, err := l.net.Step(l.inputs, l.targets, l.mask, float32(1/math.Max(count, 1)), l.st.DropoutKey)
		if err != nil {
			return record{}, fmt.Errorf("step %d: %w", l.st.Step+1, err)
		}
		l.st.DropoutKey++
		lossSum += ls
		seen += c
		tokens += int64(l.o.Seq)
		f := clipScale(l.opt.norm(grads), d.c)
		parallel(len(l.opt.work), func(i int) {
			s := l.opt.work[i]
			a, g := d.acc[s.lo:s.hi], grads[s.lo:s.hi]
			for j := range a {
				a[j] += f * g[j]
			}
		})
	}
	d.addNoise(l.o.Seed, l.st.Step, d.acc)
	expected := d.q * float64(d.n)
	norm := l.opt.norm(d.acc) / expected
	lr := l.sched.at(l.st.Step)
	l.opt.update(l.net.Trainable(), d.acc, lr, float32(1/expected)) // leaves acc zeroed
	l.st.Step++
	eps, _, err := privacy.EpsilonFor(d.sigma, d.q, int64(l.st.Step), d.delta)
	if err != nil {
		return record{}, err
	}
	d.eps = eps
	loss := lossSum / math.Max(seen, 1)
	l.st.AdamSteps, l.st.LR, l.st.LastLoss = l.opt.t, lr, loss
	l.lastLoss = loss
	secs := time.Since(start).Seconds()
	l.countStep(tokens, secs)
	return record{Step: l.st.Step, Epoch: float64(l.st.Step) * d.q, Loss: loss, LR: lr, GradNorm: norm,
		TokensPerS: float64(tokens) / secs, Epsilon: &eps}, nil
}

// PrivacyStatement is the guarantee of a DP-SGD run (RUN/privacy.json and
// the summary), in figures and in words.
type PrivacyStatement struct {
	Epsilon     float64 `json:"epsilon"`
	Delta       float64 `json:"delta"`
	Noise       float64 `json:"noise_multiplier"`
	MaxGradNorm float64 `json:"max_grad_norm"`
	SampleRate  float64 `json:"sample_rate"`
	Steps       int     `json:"steps"`
	Records     int     `json:"records"`
	Unit        string  `json:"privacy_unit"`
	Accountant  string  `json:"accountant"`
	Statement   string  `json:"statement"`
}

func (d *dpState) statement(steps int) *PrivacyStatement {
	eps, _, _ := privacy.EpsilonFor(d.sigma, d.q, int64(steps), d.delta)
	return &PrivacyStatement{Epsilon: eps, Delta: d.delta, Noise: d.sigma, MaxGradNorm: d.c, SampleRate: d.q,
		Steps: steps, Records: d.n, Unit: "one training record",
		Accountant: "Rényi DP of the sampled Gaussian mechanism (Mironov, Talwar, Zhang 2019), Opacus's orders, converted as Balle et al. 2020",
		Statement: fmt.Sprintf("This model was trained with differential privacy (DP-SGD): (ε = %.3g, δ = %.2g) for each training record. "+
			"Adding or removing any one record changes the probability of any outcome of training by at most a factor e^%.3g, "+
			"except with probability %.2g. A person with several records is protected less: roughly k·ε for k records.",
			eps, d.delta, eps, d.delta),
	}
}

// dpBatched accumulates the clipped gradients of the sampled records in
// chunks of l.rows: each row's mask is divided by its token count, so one
// batched backward gives every record the gradient of its own mean loss.
// It returns the sum of the records' mean losses, the number of records with
// trained tokens (so the step's loss is the mean over records) and the
// positions processed.
func (l *loop) dpBatched(sampled []int) (lossSum, seen float64, tokens int64, err error) {
	d, T := l.dp, l.o.Seq
	G := len(d.acc)
	for lo := 0; lo < len(sampled); lo += l.rows {
		chunk := sampled[lo:min(lo+l.rows, len(sampled))]
		l.fill(l.train, chunk)
		for r := range chunk {
			m := l.mask[r*T : (r+1)*T]
			var count float64
			for _, v := range m {
				count += float64(v)
			}
			if count > 0 {
				for j := range m {
					m[j] /= float32(count)
				}
			}
		}
		clear(d.perEx)
		l.net.ZeroGrads()
		ls, c, err := l.net.Step(l.inputs, l.targets, l.mask, 1, l.st.DropoutKey)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("step %d: %w", l.st.Step+1, err)
		}
		lossSum += ls // the records' mean losses
		seen += c     // the records with trained tokens
		l.st.DropoutKey++
		tokens += int64(len(chunk) * T)
		for r := range chunk {
			g := d.perEx[r*G : (r+1)*G]
			f := clipScale(l.opt.norm(g), d.c)
			parallel(len(l.opt.work), func(i int) {
				s := l.opt.work[i]
				a, x := d.acc[s.lo:s.hi], g[s.lo:s.hi]
				for j := range a {
					a[j] += f * x[j]
				}
			})
		}
	}
	return lossSum, seen, tokens, nil
}
