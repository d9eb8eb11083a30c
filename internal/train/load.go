package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/dataset"
	"github.com/llmtune/llmtune/internal/model"
	"github.com/llmtune/llmtune/internal/tokenize"
)

// Run trains a model as o says: `llmtune train` and the `llmtune run`
// pipeline both call it. out may be nil (diagnostics to stderr).
func Run(ctx context.Context, o Options, out *cli.Output) (Summary, error) {
	if out == nil {
		out = &cli.Output{}
	}
	if err := o.resolve(); err != nil {
		return Summary{}, err
	}
	if st, err := os.Stat(o.Data); err != nil || !st.IsDir() {
		return Summary{}, cli.Usagef("--data %s is not a directory; give the output directory of 'llmtune prepare'", o.Data)
	}
	m, tok, err := loadModel(o)
	if err != nil {
		return Summary{}, err
	}
	if o.Seq > m.Config.NPositions {
		return Summary{}, cli.Usagef("--seq %d is longer than the model's n_positions %d; use --seq %d or less", o.Seq, m.Config.NPositions, m.Config.NPositions)
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return Summary{}, fmt.Errorf("the tokenizer has %d tokens but the model's vocab_size is %d: they do not belong together (check the tokenizer files in %s)",
			tok.VocabSize(), m.Config.VocabSize, o.Model)
	}
	trainBlocks, valBlocks, err := loadBlocks(o, tok, out)
	if err != nil {
		return Summary{}, err
	}
	to := model.TrainOptions{Batch: o.Batch, Seq: o.Seq, Dropout: !o.NoDropout, Seed: o.Seed}
	if o.DP() && o.LoRARank == 0 {
		to.Batch = 1 // per-record gradients of full fine-tuning: one record per pass
	}
	if o.LoRARank > 0 {
		to.LoRA = &model.LoRAConfig{Rank: o.LoRARank, Alpha: o.LoRAAlpha, Dropout: o.LoRADropout, Targets: o.LoRATargets}
	}
	tr, err := model.NewTrainer(m, to)
	if err != nil {
		return Summary{}, err
	}
	if o.DP() && o.LoRARank > 0 {
		// LoRA's per-record gradients come out of one batched backward.
		if err := tr.EnablePerExample(); err != nil {
			return Summary{}, err
		}
	}
	s := session{net: tr, train: trainBlocks, val: valBlocks}
	base := o.Model
	if base == "" {
		base = o.Init
	}
	if o.LoRARank > 0 {
		lw := loraWeights{tr: tr, cfg: *to.LoRA, base: base}
		s.w = lw
		s.final = func(run runDir) (string, string, error) {
			adapter := run.path("adapter")
			if err := lw.write(adapter); err != nil {
				return "", "", err
			}
			if !o.Merge {
				return "", adapter, nil
			}
			tr.MergeLoRA()
			return run.path("final"), adapter, m.Save(run.path("final"), tok)
		}
	} else {
		s.w = fullWeights{m: m, tok: tok}
		s.final = func(run runDir) (string, string, error) {
			return run.path("final"), "", m.Save(run.path("final"), tok)
		}
	}
	return trainSession(ctx, o, s, out)
}

// loadModel opens --model DIR with its tokenizer, or initialises --init
// PRESET with GPT-2's tokenizer (embedded) from the seed.
func loadModel(o Options) (*model.Model, *tokenize.Tokenizer, error) {
	if o.Init != "" {
		cfg, err := model.Preset(o.Init)
		if err != nil {
			return nil, nil, cli.Usagef("--init: %v", err)
		}
		tok, err := tokenize.GPT2()
		if err != nil {
			return nil, nil, err
		}
		return model.Init(cfg, o.Seed), tok, nil
	}
	if st, err := os.Stat(o.Model); err != nil || !st.IsDir() {
		return nil, nil, cli.Usagef("--model %s is not a directory; give a Hugging Face GPT-2 model directory (config.json, model.safetensors, tokenizer files)", o.Model)
	}
	m, err := model.Load(o.Model)
	if err != nil {
		return nil, nil, err
	}
	tok, err := tokenize.Load(o.Model)
	if err != nil {
		return nil, nil, err
	}
	return m, tok, nil
}

// loadBlocks reads the prepared splits and packs them into blocks of Seq
// tokens. A missing val.parquet means no validation.
func loadBlocks(o Options, tok *tokenize.Tokenizer, out *cli.Output) (train, val []Block, err error) {
	// With DP-SGD a record is the privacy unit, so no sequence may hold two.
	po := tokenize.PackOptions{Seq: o.Seq, TrainOnPrompt: o.TrainOnPrompt, OneExamplePerBlock: o.DP()}
	pack := func(split string) ([]Block, error) {
		recs, err := dataset.ReadSplit(o.Data, split)
		if err != nil {
			return nil, err
		}
		blocks, st := dataset.Pack(tok, recs, po)
		out.Infof("%s: %d records, %d tokens (%d trained) in %d blocks of %d", split, st.Examples, st.Tokens, st.TrainedTokens, st.Blocks, o.Seq)
		if st.Truncated > 0 {
			out.Warnf("%s: %d records are longer than --seq %d and were cut short", split, st.Truncated, o.Seq)
		}
		bs := make([]Block, len(blocks))
		for i, b := range blocks {
			bs[i] = Block(b)
		}
		return bs, nil
	}
	if _, err := os.Stat(filepath.Join(o.Data, "train.parquet")); err != nil {
		return nil, nil, cli.Usagef("%s has no train.parquet; run 'llmtune prepare' into it first", o.Data)
	}
	if train, err = pack("train"); err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(filepath.Join(o.Data, "val.parquet")); errors.Is(err, os.ErrNotExist) {
		out.Infof("%s has no val.parquet: training without validation", o.Data)
		return train, nil, nil
	}
	if val, err = pack("val"); err != nil {
		return nil, nil, err
	}
	return train, val, nil
}

// fullWeights writes a checkpoint's weights as a Hugging Face model directory.
type fullWeights struct {
	m   *model.Model
	tok *tokenize.Tokenizer
}

func (w fullWeights) save(dir string) error { return w.m.WriteFiles(dir, w.tok) }

func (w fullWeights) restore(dir string) error {
	dst := make(map[string][]float32, len(w.m.Layout.Tensors))
	for _, t := range w.m.Layout.Tensors {
		dst[t.Name] = t.Slice(w.m.Params)
	}
	return readTensorsInto(filepath.Join(dir, "model.safetensors"), dst)
}

// loraWeights writes a checkpoint's weights as a PEFT adapter in
// DIR/adapter; the frozen base is the run's --model or --init (re-created
// from the seed on resume).
type loraWeights struct {
	tr   *model.Trainer
	cfg  model.LoRAConfig
	base string
}

const peftPrefix = "base_model.model.transformer."

func (w loraWeights) write(dir string) error {
	buf := w.tr.Trainable()
	ts, shapes := map[string][]float32{}, map[string][]int{}
	for _, t := range w.tr.TrainableLayout().Tensors {
		ts[t.Name], shapes[t.Name] = t.Slice(buf), t.Shape
	}
	return model.WriteAdapter(dir, w.cfg, w.base, ts, shapes)
}

func (w loraWeights) save(dir string) error { return w.write(filepath.Join(dir, "adapter")) }

func (w loraWeights) restore(dir string) error {
	buf := w.tr.Trainable()
	dst := map[string][]float32{}
	for _, t := range w.tr.TrainableLayout().Tensors {
		dst[peftPrefix+t.Name] = t.Slice(buf)
	}
	return readTensorsInto(filepath.Join(dir, "adapter", "adapter_model.safetensors"), dst)
}
