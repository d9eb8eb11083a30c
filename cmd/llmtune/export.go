package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/llmtune/llmtune/internal/atomicfile"
	"github.com/llmtune/llmtune/internal/cli"
	"github.com/llmtune/llmtune/internal/gguf"
	"github.com/llmtune/llmtune/internal/model"
	"github.com/llmtune/llmtune/internal/tokenize"
)

// exportOptions are the flags of `llmtune export`.
type exportOptions struct {
	model    string
	base     string
	out      string
	typ      string
	name     string
	ollama   bool
	template string
}

func init() {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write a model as a GGUF file for llama.cpp and Ollama",
		Long: `Writes a GPT-2 model directory (a trained model, or a LoRA adapter merged into
its base) as one GGUF file that llama.cpp and Ollama load, laid out as
llama.cpp's own converter writes it. With --ollama a Modelfile is written
beside it: run 'ollama create NAME -f Modelfile' in that directory.

The file holds the fine-tuned weights, which may have memorised training
data: it is written with mode 0600; treat it like the data.`,
		Example: `  llmtune export --model runs/support/model --out support.gguf
  llmtune export --model runs/support/model --out out/support-q8.gguf --type q8_0 --ollama`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExport(cmd.Context(), o, output(cmd))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model directory (config.json + safetensors + tokenizer), or a LoRA adapter directory")
	f.StringVar(&o.base, "base", "", "base model directory of a LoRA adapter (default: the adapter's base_model_name_or_path)")
	f.StringVar(&o.out, "out", "", "GGUF file to write")
	f.StringVar(&o.typ, "type", "f16", "type of the weight matrices: f32, f16 or q8_0 (vectors stay f32)")
	f.StringVar(&o.name, "name", "", "general.name in the file (default: the model directory's name)")
	f.BoolVar(&o.ollama, "ollama", false, "also write an Ollama Modelfile beside the GGUF file")
	f.StringVar(&o.template, "template", "chat", "Modelfile prompt format: chat (\"role: text\" turns, as training formats chat records) or completion (raw prompt)")
	rootCmd.AddCommand(cmd)
}

type exportResult struct {
	Out       string `json:"out"`
	Type      string `json:"type"`
	Bytes     int64  `json:"bytes"`
	Tensors   int    `json:"tensors"`
	Params    int    `json:"params"`
	LoRA      bool   `json:"lora_merged"`
	Modelfile string `json:"modelfile,omitempty"`
}

func runExport(ctx context.Context, o exportOptions, out *cli.Output) error {
	if o.model == "" || o.out == "" {
		return cli.Usagef("--model DIR and --out FILE are required")
	}
	typ, err := gguf.ParseTensorType(o.typ)
	if err != nil {
		return cli.Usagef("--type: %v", err)
	}
	if o.ollama && o.template != "chat" && o.template != "completion" {
		return cli.Usagef("--template %q: use chat or completion", o.template)
	}
	m, tokDir, merged, err := loadForExport(o)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The tokenizer must be the one llmtune itself uses with this model, and
	// its end-of-text token begins and ends every training example.
	tok, err := tokenize.Load(tokDir)
	if err != nil {
		return err
	}
	eos := int(tok.EOS())
	v, err := gguf.ReadVocab(tokDir, m.Config.VocabSize, eos, eos)
	if err != nil {
		return err
	}
	name := o.name
	if name == "" {
		name = filepath.Base(filepath.Clean(o.model))
	}
	if dir := filepath.Dir(o.out); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	out.Infof("exporting %s (%d parameters) as %s to %s", o.model, len(m.Params), typ, o.out)
	if err := gguf.ExportFile(o.out, m.Config, m.Layout, m.Params, v, gguf.ExportOptions{Type: typ, Name: name}); err != nil {
		return fmt.Errorf("export %s: %w", o.out, err)
	}
	st, err := os.Stat(o.out)
	if err != nil {
		return err
	}
	res := exportResult{Out: o.out, Type: typ.String(), Bytes: st.Size(), Tensors: len(m.Layout.Tensors) + 1, Params: len(m.Params), LoRA: merged}
	if o.ollama {
		text, err := gguf.Modelfile(gguf.ModelfileOptions{GGUF: o.out, Template: o.template, Context: m.Config.NPositions, EOS: v.Tokens[v.EOS]})
		if err != nil {
			return err
		}
		res.Modelfile = filepath.Join(filepath.Dir(o.out), "Modelfile")
		if err := atomicfile.WriteFile(res.Modelfile, []byte(text), 0o600); err != nil {
			return err
		}
	}
	return out.Result(res, func(w io.Writer) {
		fmt.Fprintf(w, "wrote %s (%s, %.1f MB)\n", res.Out, res.Type, float64(res.Bytes)/1e6)
		if res.Modelfile != "" {
			fmt.Fprintf(w, "wrote %s: cd %s && ollama create %s -f Modelfile\n", res.Modelfile, filepath.Dir(res.Modelfile), name)
		}
	})
}

// loadForExport loads a model directory, or a LoRA adapter directory
// merged into its base. It returns the model, the directory whose tokenizer
// goes with it, and whether an adapter was merged.
func loadForExport(o exportOptions) (*model.Model, string, bool, error) {
	if _, err := os.Stat(filepath.Join(o.model, "adapter_config.json")); err != nil {
		m, err := model.Load(o.model)
		return m, o.model, false, err
	}
	base := o.base
	if base == "" {
		b, err := adapterBase(o.model)
		if err != nil {
			return nil, "", false, err
		}
		base = b
	}
	m, err := model.Load(base)
	if err != nil {
		return nil, "", false, fmt.Errorf("base model of the adapter in %s: %w (give it with --base DIR)", o.model, err)
	}
	cfg, tensors, _, err := model.ReadAdapter(o.model)
	if err != nil {
		return nil, "", false, err
	}
	if err := model.ApplyAdapter(m, cfg, tensors); err != nil {
		return nil, "", false, fmt.Errorf("merge the adapter in %s into %s: %w", o.model, base, err)
	}
	tokDir := base
	if _, err := tokenize.Load(o.model); err == nil {
		tokDir = o.model
	}
	return m, tokDir, true, nil
}

// adapterBase reads the base model path a PEFT adapter names; a relative
// path is tried as given, then relative to the adapter directory.
func adapterBase(dir string) (string, error) {
	p := filepath.Join(dir, "adapter_config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	var ac struct {
		Base string `json:"base_model_name_or_path"`
	}
	if err := json.Unmarshal(b, &ac); err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	if ac.Base == "" {
		return "", fmt.Errorf("%s names no base model: give it with --base DIR", p)
	}
	if _, err := os.Stat(ac.Base); err == nil || filepath.IsAbs(ac.Base) {
		return ac.Base, nil
	}
	return filepath.Join(dir, ac.Base), nil
}
