package anonymize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Policy says what to detect and how to replace it. It is read from YAML
// or JSON (LoadPolicy); the zero Policy is the built-in default: every
// recognizer on, threshold 0.5, every type tagged.
type Policy struct {
	// Threshold is the minimum score a detection needs (default 0.5).
	Threshold float64 `yaml:"threshold" json:"threshold"`
	// Disable lists built-in types to switch off.
	Disable []string `yaml:"disable" json:"disable"`
	// Operators maps a type (or "default") to its operator.
	Operators map[string]OperatorSpec `yaml:"operators" json:"operators"`
	// Allow lists exact strings (case-insensitive) never to be replaced.
	Allow []string `yaml:"allow" json:"allow"`
	// Deny lists strings always replaced, with the type to report.
	Deny []DenySpec `yaml:"deny" json:"deny"`
	// Recognizers adds custom pattern recognizers.
	Recognizers []CustomRecognizer `yaml:"recognizers" json:"recognizers"`
	// KeyFile is the pseudonym key (created 0600 on first use). Default:
	// $XDG_CONFIG_HOME/llmtune/pseudonym.key or ~/.config/llmtune/pseudonym.key.
	KeyFile string `yaml:"key_file" json:"key_file"`
}

// OperatorSpec is an operator name with its options. In the policy file it
// may be just the name ("mask") or a mapping ({operator: mask, keep_last: 4}).
type OperatorSpec struct {
	Operator string `yaml:"operator" json:"operator"` // tag, redact, mask, pseudonym, keep, replace
	KeepLast int    `yaml:"keep_last" json:"keep_last"`
	MaskChar string `yaml:"char" json:"char"`
	Value    string `yaml:"value" json:"value"` // for replace
}

// UnmarshalYAML accepts a bare operator name.
func (o *OperatorSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		o.Operator = n.Value
		return nil
	}
	type plain OperatorSpec
	return n.Decode((*plain)(o))
}

// UnmarshalJSON accepts a bare operator name.
func (o *OperatorSpec) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		o.Operator = s
		return nil
	}
	type plain OperatorSpec
	return json.Unmarshal(b, (*plain)(o))
}

// DenySpec is a string that is always personal data.
type DenySpec struct {
	Value string `yaml:"value" json:"value"`
	Type  string `yaml:"type" json:"type"`
}

// UnmarshalYAML accepts a bare string.
func (d *DenySpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		d.Value = n.Value
		return nil
	}
	type plain DenySpec
	return n.Decode((*plain)(d))
}

// UnmarshalJSON accepts a bare string.
func (d *DenySpec) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		d.Value = s
		return nil
	}
	type plain DenySpec
	return json.Unmarshal(b, (*plain)(d))
}

// CustomRecognizer is a policy-defined recognizer. Patterns are Go (RE2)
// regular expressions, which run in time linear in the input.
type CustomRecognizer struct {
	Name    string   `yaml:"name" json:"name"`
	Type    string   `yaml:"type" json:"type"`
	Pattern string   `yaml:"pattern" json:"pattern"`
	Score   float64  `yaml:"score" json:"score"`
	Context []string `yaml:"context" json:"context"` // words near the match that add 0.3
	// Validator optionally checks the digits of the match: luhn, verhoeff, mod97.
	Validator string `yaml:"validator" json:"validator"`
}

func (c CustomRecognizer) compile() (*recognizer, error) {
	if c.Type == "" || c.Pattern == "" {
		return nil, fmt.Errorf("needs type and pattern")
	}
	re, err := regexp.Compile(c.Pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern: %w", err)
	}
	score := c.Score
	if score == 0 {
		score = 0.8
	}
	var valid func(string) bool
	switch strings.ToLower(c.Validator) {
	case "":
	case "luhn":
		valid = func(s string) bool { return luhnOK(onlyDigits(s)) }
	case "verhoeff":
		valid = func(s string) bool { ds := onlyDigits(s); return len(ds) > 1 && verhoeffOK(ds) }
	case "mod97":
		valid = func(s string) bool { return ibanOK(bytes.ToUpper(onlyAlnum(s))) }
	default:
		return nil, fmt.Errorf("unknown validator %q (use luhn, verhoeff or mod97)", c.Validator)
	}
	ctx := make([]string, len(c.Context))
	for i, w := range c.Context {
		ctx[i] = strings.ToLower(w)
	}
	return &recognizer{
		Type: strings.ToUpper(c.Type), Context: ctx, Boost: 0.3, Window: 40,
		scan: func(d *doc, emit func(int, int, float64)) {
			for _, m := range re.FindAllStringIndex(d.text, -1) {
				if valid == nil || valid(d.text[m[0]:m[1]]) {
					emit(m[0], m[1], score)
				}
			}
		},
	}, nil
}

func onlyDigits(s string) []byte {
	var b []byte
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			b = append(b, s[i])
		}
	}
	return b
}

func onlyAlnum(s string) []byte {
	var b []byte
	for i := 0; i < len(s); i++ {
		if isAlnum(s[i]) {
			b = append(b, s[i])
		}
	}
	return b
}

// LoadPolicy reads a policy file (YAML, or JSON which YAML also accepts),
// rejecting unknown keys so that a typo does not silently weaken it.
func LoadPolicy(path string) (Policy, error) {
	var p Policy
	b, err := os.ReadFile(path)
	if err != nil {
		return p, fmt.Errorf("reading policy: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && err.Error() != "EOF" {
		return p, fmt.Errorf("policy %s: %w", path, err)
	}
	if p.KeyFile != "" && !filepath.IsAbs(p.KeyFile) {
		p.KeyFile = filepath.Join(filepath.Dir(path), p.KeyFile)
	}
	if _, err := New(p); err != nil {
		return p, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// ForPolicyFile returns the engine for a policy file, or the default engine
// when path is empty: the one way prepare, anonymize and run configure it.
func ForPolicyFile(path string) (*Engine, error) {
	if path == "" {
		return Default(), nil
	}
	p, err := LoadPolicy(path)
	if err != nil {
		return nil, err
	}
	return New(p)
}
