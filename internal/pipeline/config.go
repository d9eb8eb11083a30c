// Package pipeline runs prepare, train and eval as one incremental job for
// cron: it skips stages whose inputs have not changed, holds a lock so runs
// never overlap, promotes a model only when it passes the gates, and keeps a
// JSON-lines log with figures, never record text.
package pipeline

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is llmtune.yaml. Every key has a default (see Default and the
// commented file that `llmtune init` writes).
type Config struct {
	Workdir  string        `yaml:"workdir"`
	KeepRuns int           `yaml:"keep_runs"`
	Prepare  PrepareConfig `yaml:"prepare"`
	Train    TrainConfig   `yaml:"train"`
	Eval     EvalConfig    `yaml:"eval"`
	Gates    GatesConfig   `yaml:"gates"`
}

type PrepareConfig struct {
	Inputs          []string `yaml:"inputs"`
	TextField       string   `yaml:"text_field"`
	PromptField     string   `yaml:"prompt_field"`
	CompletionField string   `yaml:"completion_field"`
	MessagesField   string   `yaml:"messages_field"`
	GroupBy         string   `yaml:"group_by"`
	Val             float64  `yaml:"val"`
	Test            float64  `yaml:"test"`
	Seed            int64    `yaml:"seed"`
	Anonymize       bool     `yaml:"anonymize"`
	Policy          string   `yaml:"policy"`
	Canaries        string   `yaml:"canaries"`
}

type TrainConfig struct {
	Base            string  `yaml:"base"`
	Init            string  `yaml:"init"`
	StartFrom       string  `yaml:"start_from"`
	Steps           int     `yaml:"steps"`
	Epochs          int     `yaml:"epochs"`
	Batch           int     `yaml:"batch"`
	Seq             int     `yaml:"seq"`
	LR              float64 `yaml:"lr"`
	Schedule        string  `yaml:"schedule"`
	Warmup          int     `yaml:"warmup"`
	Seed            int64   `yaml:"seed"`
	LoRARank        int     `yaml:"lora_rank"`
	LoRAAlpha       float64 `yaml:"lora_alpha"`
	CheckpointEvery int     `yaml:"checkpoint_every"`
	ValEvery        int     `yaml:"val_every"`
}

type EvalConfig struct {
	Split      string `yaml:"split"`
	Samples    int    `yaml:"samples"`
	Audit      bool   `yaml:"audit"`
	Candidates int    `yaml:"candidates"`
}

type GatesConfig struct {
	MaxPerplexityIncrease float64 `yaml:"max_perplexity_increase"`
	MaxExposure           float64 `yaml:"max_exposure"`
	MaxVerbatimShare      float64 `yaml:"max_verbatim_share"`
	MaxPIIRegurgitated    int     `yaml:"max_pii_regurgitated"`
}

// Default is the configuration `llmtune init` writes.
func Default() Config {
	return Config{
		Workdir:  "llmtune-work",
		KeepRuns: 5,
		Prepare: PrepareConfig{Inputs: []string{"data"}, TextField: "text", Val: 0.1, Test: 0.1, Seed: 1,
			Anonymize: true},
		Train: TrainConfig{Init: "gpt2-tiny", StartFrom: "base", Steps: 200, Batch: 8, Seq: 64, LR: 1e-3,
			Schedule: "cosine", Warmup: 10, Seed: 1, LoRAAlpha: 16, CheckpointEvery: 50, ValEvery: 50},
		Eval:  EvalConfig{Split: "test", Samples: 8, Audit: true, Candidates: 10000},
		Gates: GatesConfig{MaxPerplexityIncrease: 0.02, MaxExposure: 20, MaxVerbatimShare: 0.5, MaxPIIRegurgitated: -1},
	}
}

// Load reads a YAML config over the defaults. Unknown keys are errors that
// name the key and suggest the nearest valid one.
func Load(path string) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := parseInto(&c, b, path); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func parseInto(c *Config, b []byte, path string) error {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(root.Content) == 0 {
		return nil
	}
	if err := checkKeys(root.Content[0], reflect.TypeOf(*c), "", path); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func checkKeys(n *yaml.Node, t reflect.Type, prefix, path string) error {
	if n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return nil
	}
	fields := map[string]reflect.Type{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		fields[tag] = t.Field(i).Type
		names = append(names, prefix+tag)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ft, ok := fields[k.Value]
		if !ok {
			return fmt.Errorf("%s line %d: unknown key %q; did you mean %q?", path, k.Line, prefix+k.Value, nearest(prefix+k.Value, names))
		}
		if err := checkKeys(n.Content[i+1], ft, prefix+k.Value+".", path); err != nil {
			return err
		}
	}
	return nil
}

// Keys lists every dotted key, for suggestions and --set.
func Keys() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if t.Field(i).Type.Kind() == reflect.Struct {
				walk(t.Field(i).Type, prefix+tag+".")
				continue
			}
			out = append(out, prefix+tag)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	sort.Strings(out)
	return out
}

// Set overrides one dotted key from the command line (--set train.steps=50).
func (c *Config) Set(assignment string) error {
	key, val, ok := strings.Cut(assignment, "=")
	if !ok {
		return fmt.Errorf("--set %q: want key=value", assignment)
	}
	v := reflect.ValueOf(c).Elem()
	parts := strings.Split(key, ".")
	for i, p := range parts {
		t := v.Type()
		found := false
		for j := 0; j < t.NumField(); j++ {
			if strings.Split(t.Field(j).Tag.Get("yaml"), ",")[0] == p {
				v = v.Field(j)
				found = true
				break
			}
		}
		if !found || (i < len(parts)-1 && v.Kind() != reflect.Struct) {
			return fmt.Errorf("unknown key %q; did you mean %q?", key, nearest(key, Keys()))
		}
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(val)
	case reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		v.SetFloat(f)
	case reflect.Slice:
		v.Set(reflect.ValueOf(strings.Split(val, ",")))
	default:
		return fmt.Errorf("%s cannot be set from the command line", key)
	}
	return nil
}

// Validate checks values that no stage could run with.
func (c Config) Validate() error {
	switch {
	case len(c.Prepare.Inputs) == 0:
		return fmt.Errorf("prepare.inputs is empty: list the files or folders to learn from")
	case c.Train.Base == "" && c.Train.Init == "":
		return fmt.Errorf("train.base or train.init must be set")
	case c.Train.StartFrom != "base" && c.Train.StartFrom != "promoted":
		return fmt.Errorf("train.start_from must be \"base\" or \"promoted\", not %q", c.Train.StartFrom)
	case c.KeepRuns < 1:
		return fmt.Errorf("keep_runs must be at least 1")
	}
	return nil
}

// nearest returns the candidate with the smallest edit distance to s.
func nearest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
