package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/llmtune/llmtune/internal/atomicfile"
	"github.com/llmtune/llmtune/internal/safetensors"
)

// adapterConfig is PEFT's adapter_config.json for a LoRA on GPT-2's Conv1D
// layers (fan_in_fan_out, since Conv1D stores weights [in, out]).
type adapterConfig struct {
	PeftType            string   `json:"peft_type"`
	TaskType            string   `json:"task_type"`
	R                   int      `json:"r"`
	LoraAlpha           float64  `json:"lora_alpha"`
	LoraDropout         float64  `json:"lora_dropout"`
	TargetModules       []string `json:"target_modules"`
	FanInFanOut         bool     `json:"fan_in_fan_out"`
	Bias                string   `json:"bias"`
	ModulesToSave       []string `json:"modules_to_save"`
	InferenceMode       bool     `json:"inference_mode"`
	InitLoraWeights     bool     `json:"init_lora_weights"`
	BaseModelNameOrPath string   `json:"base_model_name_or_path"`
}

// WriteAdapter writes a LoRA adapter as Hugging Face PEFT does, so that
// PeftModel.from_pretrained loads it: adapter_config.json and
// adapter_model.safetensors with names
// base_model.model.transformer.h.{i}.attn.c_attn.lora_{A,B}.weight
// (A [r, in], B [out, r]). tensors and shapes are keyed by those names or by
// their short form (h.{i}...). The directory is replaced atomically.
func WriteAdapter(dir string, cfg LoRAConfig, base string, tensors map[string][]float32, shapes map[string][]int) error {
	targets := cfg.Targets
	if len(targets) == 0 {
		targets = []string{"c_attn"}
	}
	ac := adapterConfig{PeftType: "LORA", TaskType: "CAUSAL_LM", R: cfg.Rank, LoraAlpha: cfg.Alpha,
		LoraDropout: cfg.Dropout, TargetModules: targets, FanInFanOut: true, Bias: "none",
		InferenceMode: true, InitLoraWeights: true, BaseModelNameOrPath: base}
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	list := make([]safetensors.Tensor, 0, len(names))
	for _, n := range names {
		full := n
		if len(full) < 2 || full[:2] == "h." {
			full = "base_model.model.transformer." + n
		}
		list = append(list, safetensors.Tensor{Name: full, Shape: shapes[n], Data: tensors[n]})
	}
	return atomicfile.ReplaceDir(dir, 0o700, func(tmp string) error {
		b, _ := json.MarshalIndent(ac, "", "  ")
		if err := os.WriteFile(filepath.Join(tmp, "adapter_config.json"), append(b, '\n'), 0o600); err != nil {
			return err
		}
		return safetensors.Write(filepath.Join(tmp, "adapter_model.safetensors"), 0o600, list, map[string]string{"format": "pt"})
	})
}

// ReadAdapter reads a PEFT LoRA adapter directory.
func ReadAdapter(dir string) (LoRAConfig, map[string][]float32, map[string][]int, error) {
	p := filepath.Join(dir, "adapter_config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return LoRAConfig{}, nil, nil, err
	}
	// PEFT writes target_modules as a list or a single string and
	// init_lora_weights as a bool or a method name, so those are read loosely.
	var ac struct {
		PeftType      string          `json:"peft_type"`
		R             int             `json:"r"`
		LoraAlpha     float64         `json:"lora_alpha"`
		LoraDropout   float64         `json:"lora_dropout"`
		TargetModules json.RawMessage `json:"target_modules"`
		Bias          string          `json:"bias"`
		UseRSLoRA     bool            `json:"use_rslora"`
		UseDoRA       bool            `json:"use_dora"`
	}
	if err := json.Unmarshal(b, &ac); err != nil {
		return LoRAConfig{}, nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	if ac.PeftType != "LORA" || ac.R <= 0 {
		return LoRAConfig{}, nil, nil, fmt.Errorf("%s: peft_type %q r %d: only LoRA adapters with r > 0 are supported", p, ac.PeftType, ac.R)
	}
	switch {
	case ac.UseRSLoRA || ac.UseDoRA:
		return LoRAConfig{}, nil, nil, fmt.Errorf("%s: use_rslora / use_dora adapters are not supported (plain LoRA, scaling lora_alpha/r)", p)
	case ac.Bias != "" && ac.Bias != "none":
		return LoRAConfig{}, nil, nil, fmt.Errorf("%s: bias %q: adapters that train biases are not supported (bias \"none\")", p, ac.Bias)
	}
	var targets []string
	if len(ac.TargetModules) > 0 && string(ac.TargetModules) != "null" {
		var one string
		if json.Unmarshal(ac.TargetModules, &one) == nil {
			targets = []string{one}
		} else if err := json.Unmarshal(ac.TargetModules, &targets); err != nil {
			return LoRAConfig{}, nil, nil, fmt.Errorf("%s: target_modules must be a string or a list of strings", p)
		}
	}
	ts, _, err := safetensors.ReadAll(filepath.Join(dir, "adapter_model.safetensors"))
	if err != nil {
		return LoRAConfig{}, nil, nil, err
	}
	data := make(map[string][]float32, len(ts))
	shapes := make(map[string][]int, len(ts))
	for n, t := range ts {
		data[n], shapes[n] = t.Data, t.Shape
	}
	return LoRAConfig{Rank: ac.R, Alpha: ac.LoraAlpha, Dropout: ac.LoraDropout, Targets: targets}, data, shapes, nil
}
