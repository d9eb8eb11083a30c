package gguf

import (
	"fmt"
	"path/filepath"
	"strings"
)

// ModelfileOptions describe the Ollama Modelfile written beside a GGUF file.
type ModelfileOptions struct {
	GGUF     string // the GGUF file; FROM names it relative to the Modelfile
	Template string // "chat" (the plain chat format training uses) or "completion" (raw text)
	Context  int    // the model's n_positions: GPT-2 cannot attend further
	EOS      string // the end-of-text token's text, e.g. <|endoftext|>
}

// Ollama's Go templates for the two prompt formats. The chat one renders
// each message as "<role>: <content>\n" and leaves the model to continue
// after "assistant: ", exactly as dataset.Record.Segments renders a chat
// record for training.
const (
	ollamaChatTemplate       = "{{ range .Messages }}{{ .Role }}: {{ .Content }}\n{{ end }}assistant: "
	ollamaCompletionTemplate = "{{ .Prompt }}"
)

// Modelfile returns the text of an Ollama Modelfile for the GGUF file, so
// that `ollama create NAME -f Modelfile` works from that directory.
func Modelfile(o ModelfileOptions) (string, error) {
	var tmpl string
	stops := []string{o.EOS}
	switch o.Template {
	case "", "chat":
		tmpl = ollamaChatTemplate
		// The model would go on to write the next user turn itself.
		stops = append(stops, "user:")
	case "completion":
		tmpl = ollamaCompletionTemplate
	default:
		return "", fmt.Errorf("template %q: use chat or completion", o.Template)
	}
	if o.Context <= 0 {
		return "", fmt.Errorf("context length %d must be positive", o.Context)
	}
	if o.EOS == "" || strings.ContainsAny(o.EOS, "\"\n") {
		return "", fmt.Errorf("end-of-text token %q cannot be a stop string", o.EOS)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by llmtune export. Create the Ollama model from this directory with:\n")
	fmt.Fprintf(&b, "#   ollama create NAME -f Modelfile\n")
	fmt.Fprintf(&b, "FROM ./%s\n", filepath.Base(o.GGUF))
	fmt.Fprintf(&b, "TEMPLATE \"\"\"%s\"\"\"\n", tmpl)
	for _, s := range stops {
		fmt.Fprintf(&b, "PARAMETER stop %q\n", s)
	}
	// GPT-2 has learned positions: a longer context than n_positions fails.
	fmt.Fprintf(&b, "PARAMETER num_ctx %d\n", o.Context)
	fmt.Fprintf(&b, "PARAMETER num_predict %d\n", min(256, o.Context/2))
	b.WriteString("PARAMETER temperature 0.7\nPARAMETER top_p 0.9\nPARAMETER repeat_penalty 1.1\n")
	return b.String(), nil
}
