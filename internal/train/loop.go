package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/model"
)

// Network is what the loop needs from the model: *model.Trainer in a real
// run, a small analytic model in tests.
type Network interface {
	// Step runs forward and backward on Batch*Seq positions and adds
	// scale * d(sum_i mask_i*CE_i)/dθ into Grads(). Dropout masks depend
	// only on the trainer's seed, dropoutKey and the position.
	Step(inputs, targets []int32, mask []float32, scale float32, dropoutKey uint64) (lossSum, count float64, err error)
	// Eval is Step without dropout and without gradients.
	Eval(inputs, targets []int32, mask []float32) (lossSum, count float64, err error)
	Trainable() []float32
	Grads() []float32
	ZeroGrads()
	TrainableLayout() *model.Layout
}

// weights writes the trained weights in their user-facing form: a Hugging
// Face model directory, or a PEFT adapter for LoRA. restore is the inverse
// for a checkpoint: it puts the checkpoint's weights into Trainable().
type weights interface {
	save(dir string) error
	restore(dir string) error
}

// loop is one training run in progress.
type loop struct {
	o          Options
	net        Network
	w          weights
	train, val []Block
	out        *cli.Output
	dir        runDir

	opt   *adamW
	sched schedule
	data  *stream
	st    State
	total int // steps of the whole run

	metrics *metricsLog
	dp      *dpState // nil unless DP-SGD
	rows    int      // sequences per network call: Batch, or 1 with DP-SGD
	// buffers for one micro-batch, allocated once
	inputs, targets []int32
	mask            []float32
	idx             []int

	timedTokens int64
	timedSecs   float64
	stepsHere   int  // steps run by this process
	zeroed      bool // Grads() holds zeros
	allTokens   int64
	allSecs     float64
	lastLoss    float64
}

// State is what a checkpoint's state.json holds besides the weights and
// optimizer moments: enough to continue exactly where the run stopped.
type State struct {
	Step        int      `json:"step"` // optimizer steps completed
	Cursor      cursor   `json:"cursor"`
	Seed        int64    `json:"seed"`        // data order and dropout masks derive from it
	DropoutKey  uint64   `json:"dropout_key"` // next micro-batch's key
	AdamSteps   int      `json:"adam_steps"`
	TotalSteps  int      `json:"total_steps"`
	LR          float64  `json:"lr"` // of the last step
	BestValLoss *float64 `json:"best_val_loss,omitempty"`
	BestStep    int      `json:"best_step,omitempty"`
	SinceBest   int      `json:"evals_since_best"`
	Stopped     bool     `json:"stopped_early,omitempty"`
	Tokens      int64    `json:"tokens"`
	TrainBlocks int      `json:"train_blocks"`
	LastLoss    float64  `json:"last_loss"`
}

func newLoop(o Options, net Network, w weights, train, val []Block, out *cli.Output, dir runDir) (*loop, error) {
	if len(train) == 0 {
		return nil, cli.Usagef("%s: the training split holds no tokens to train on", o.Data)
	}
	l := &loop{o: o, net: net, w: w, train: train, val: val, out: out, dir: dir}
	per := o.Batch * o.GradAccum
	l.rows = o.Batch
	l.total = o.Steps
	if o.DP() {
		l.rows = 1
		var err error
		if l.dp, l.total, err = newDP(o, len(train)); err != nil {
			return nil, err
		}
		if pe, ok := net.(perExampleNetwork); ok && pe.PerExampleGrads() != nil {
			l.rows, l.dp.perEx = o.Batch, pe.PerExampleGrads()
		}
	} else if l.total == 0 {
		l.total = int(math.Ceil(o.Epochs * float64(len(train)) / float64(per)))
	}
	var err error
	if l.sched, err = newSchedule(o.Schedule, o.LR, o.MinLR, o.Warmup, l.total); err != nil {
		return nil, cli.Usagef("%v", err)
	}
	lay := net.TrainableLayout()
	if lay.Total != len(net.Trainable()) || lay.Total != len(net.Grads()) {
		return nil, fmt.Errorf("network's trainable layout (%d) does not match its buffers (%d, %d)", lay.Total, len(net.Trainable()), len(net.Grads()))
	}
	l.opt = newAdamW(lay, o.Beta1, o.Beta2, o.Eps, o.WeightDecay)
	l.st = State{Seed: o.Seed, TotalSteps: l.total, TrainBlocks: len(train)}
	n := l.rows * o.Seq
	l.inputs, l.targets, l.mask = make([]int32, n), make([]int32, n), make([]float32, n)
	l.idx = make([]int, per)
	return l, nil
}

// run trains until the last step, early stopping or ctx's cancellation
// (which writes a checkpoint first).
func (l *loop) run(ctx context.Context) error {
	l.data = newStream(len(l.train), l.o.Seed, l.st.Cursor)
	prog := l.out.NewProgress("train", int64(l.total), "step")
	defer prog.Finish()
	prog.Set(int64(l.st.Step))
	lastCkpt := l.st.Step
	for l.st.Step < l.total && !l.st.Stopped {
		if ctx.Err() != nil {
			if l.st.Step > lastCkpt {
				if err := l.checkpoint(); err != nil {
					return err
				}
			}
			return fmt.Errorf("interrupted at step %d of %d; the newest checkpoint is in %s; continue with --resume: %w",
				l.st.Step, l.total, l.dir.checkpoints(), ctx.Err())
		}
		if l.dp != nil && !l.dp.allows(l.st.Step+1) {
			l.out.Infof("stopping at step %d: one more step would spend more than the privacy budget ε = %g", l.st.Step, l.o.DPEpsilon)
			break
		}
		step := l.step
		if l.dp != nil {
			step = l.dpStep
		}
		rec, err := step()
		if err != nil {
			return err
		}
		stepN := l.st.Step
		improved := false
		if l.o.ValEvery > 0 && stepN%l.o.ValEvery == 0 && stepN < l.total && len(l.val) > 0 {
			if improved, err = l.validate(&rec); err != nil {
				return err
			}
		}
		// The line goes out before any checkpoint of this step, so that a
		// resumed run's log has every step exactly once.
		if stepN%l.o.LogEvery == 0 || rec.ValLoss != nil {
			if err := l.metrics.add(rec); err != nil {
				return err
			}
		}
		prog.SetExtra(fmt.Sprintf("loss %.4f  %.0f tok/s", rec.Loss, rec.TokensPerS))
		prog.Set(int64(stepN))
		if improved || (l.o.CheckpointEvery > 0 && stepN%l.o.CheckpointEvery == 0) {
			if err := l.checkpoint(); err != nil {
				return err
			}
			lastCkpt = stepN
		}
	}
	finalBest := false
	if len(l.val) > 0 && !l.st.Stopped {
		rec := record{Step: l.st.Step, Epoch: l.progress(), Loss: l.lastLoss, LR: l.st.LR}
		var err error
		if finalBest, err = l.validate(&rec); err != nil {
			return err
		}
		rec.Final = true
		if err := l.metrics.add(rec); err != nil {
			return err
		}
	}
	if finalBest || l.st.Step > lastCkpt {
		return l.checkpoint()
	}
	return nil
}

// step runs one optimizer step: GradAccum micro-batches, clip, AdamW.
func (l *loop) step() (record, error) {
	start := time.Now()
	o := l.o
	l.data.next(l.idx)
	// The loss is the mean over every trained token of the whole step, so
	// each micro-batch's gradient is scaled by 1/(tokens in the step).
	var count float64
	for _, bi := range l.idx {
		for _, m := range l.train[bi].Mask {
			count += float64(m)
		}
	}
	scale := float32(1 / math.Max(count, 1))
	if !l.zeroed { // update leaves the gradients zeroed after the first step
		l.net.ZeroGrads()
		l.zeroed = true
	}
	var lossSum, seen float64
	for mb := 0; mb < o.GradAccum; mb++ {
		l.fill(l.train, l.idx[mb*o.Batch:(mb+1)*o.Batch])
		ls, c, err := l.net.Step(l.inputs, l.targets, l.mask, scale, l.st.DropoutKey)
		if err != nil {
			return record{}, fmt.Errorf("step %d: %w", l.st.Step+1, err)
		}
		l.st.DropoutKey++
		lossSum += ls
		seen += c
	}
	loss := lossSum / math.Max(seen, 1)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return record{}, fmt.Errorf("step %d: the loss is %v; lower --lr (now %g) or check the data", l.st.Step+1, loss, l.o.LR)
	}
	grads := l.net.Grads()
	norm := l.opt.norm(grads)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return record{}, fmt.Errorf("step %d: the gradient norm is %v; lower --lr (now %g)", l.st.Step+1, norm, l.o.LR)
	}
	lr := l.sched.at(l.st.Step)
	l.opt.update(l.net.Trainable(), grads, lr, clipScale(norm, o.ClipNorm))
	l.st.Step++
	l.st.AdamSteps = l.opt.t
	l.st.Cursor = l.data.at
	l.st.LR = lr
	l.st.LastLoss = loss
	tokens := int64(o.Batch * o.GradAccum * o.Seq)
	l.lastLoss = loss
	secs := time.Since(start).Seconds()
	l.countStep(tokens, secs)
	return record{Step: l.st.Step, Epoch: l.data.progress(), Loss: loss, LR: lr, GradNorm: norm,
		TokensPerS: float64(tokens) / secs}, nil
}

// fill copies the blocks idx into the micro-batch buffers.
func (l *loop) fill(blocks []Block, idx []int) {
	T := l.o.Seq
	for r := 0; r < l.rows; r++ {
		in, tg, m := l.inputs[r*T:(r+1)*T], l.targets[r*T:(r+1)*T], l.mask[r*T:(r+1)*T]
		if r >= len(idx) { // a short final validation batch: padding that counts for nothing
			clear(in)
			clear(tg)
			clear(m)
			continue
		}
		b := blocks[idx[r]]
		copy(in, b.Inputs)
		copy(tg, b.Targets)
		copy(m, b.Mask)
	}
}

// validate computes the validation loss into rec and updates the early
// stopping state; it reports whether the loss is the best so far.
func (l *loop) validate(rec *record) (bool, error) {
	loss, err := l.evaluate()
	if err != nil {
		return false, err
	}
	ppl := math.Exp(loss)
	rec.ValLoss, rec.ValPerplexity = &loss, &ppl
	l.out.Debugf("step %d: validation loss %.4f, perplexity %.2f", l.st.Step, loss, ppl)
	if l.st.BestValLoss == nil || loss < *l.st.BestValLoss {
		l.st.BestValLoss = &loss
		l.st.BestStep = l.st.Step
		l.st.SinceBest = 0
		return true, nil
	}
	l.st.SinceBest++
	if l.o.Patience > 0 && l.st.SinceBest >= l.o.Patience {
		l.st.Stopped = true
		l.out.Infof("stopping early at step %d: validation loss has not improved for %d evaluations (best %.4f at step %d)",
			l.st.Step, l.st.SinceBest, *l.st.BestValLoss, l.st.BestStep)
	}
	return false, nil
}

// evaluate is the mean loss per trained token over the validation blocks
// (in their stored order, the first ValBatches batches when set).
func (l *loop) evaluate() (float64, error) {
	n := len(l.val)
	if l.o.ValBatches > 0 {
		n = min(n, l.o.ValBatches*l.o.Batch)
	}
	idx := make([]int, 0, l.rows)
	var sum, count float64
	for lo := 0; lo < n; lo += l.rows {
		idx = idx[:0]
		for i := lo; i < min(lo+l.rows, n); i++ {
			idx = append(idx, i)
		}
		l.fill(l.val, idx)
		s, c, err := l.net.Eval(l.inputs, l.targets, l.mask)
		if err != nil {
			return 0, fmt.Errorf("validation at step %d: %w", l.st.Step, err)
		}
		sum += s
		count += c
	}
	if count == 0 {
		return 0, errors.New("the validation split has no trained tokens")
	}
	return sum / count, nil
}

// progress is the number of epochs trained, fractional.
func (l *loop) progress() float64 {
	if l.dp != nil {
		return float64(l.st.Step) * l.dp.q
	}
	return l.data.progress()
}

// tokensPerSecond is the steady-state rate of this process (over all its
// steps when it ran fewer than three).
func (l *loop) tokensPerSecond() float64 {
	if l.timedSecs > 0 {
		return float64(l.timedTokens) / l.timedSecs
	}
	if l.allSecs > 0 {
		return float64(l.allTokens) / l.allSecs
	}
	return 0
}

// countStep adds a finished step's tokens and time to the run's figures.
// Steady state leaves out the first two steps of a process, which warm
// caches and pools.
func (l *loop) countStep(tokens int64, secs float64) {
	l.st.Tokens += tokens
	l.stepsHere++
	l.allTokens += tokens
	l.allSecs += secs
	if l.stepsHere > 2 {
		l.timedTokens += tokens
		l.timedSecs += secs
	}
}
