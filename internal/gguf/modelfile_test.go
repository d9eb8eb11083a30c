package gguf

import (
	"regexp"
	"strings"
	"testing"
	"text/template"

	"github.com/llmtune/llmtune/internal/dataset"
)

// Ollama renders TEMPLATE with Go's text/template; rendering the chat
// template over a conversation must give exactly the text training saw
// (dataset.Record.Segments) up to where the assistant's reply starts.
func TestModelfileChatTemplateMatchesTraining(t *testing.T) {
	mf, err := Modelfile(ModelfileOptions{GGUF: "/x/model-q8_0.gguf", Template: "chat", Context: 1024, EOS: "<|endoftext|>"})
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)TEMPLATE """(.*?)"""`).FindStringSubmatch(mf)
	if m == nil {
		t.Fatalf("no TEMPLATE in\n%s", mf)
	}
	tmpl := template.Must(template.New("t").Parse(m[1]))
	msgs := []dataset.Message{
		{Role: "system", Content: "You are a billing assistant."},
		{Role: "user", Content: "Why was I charged twice?"},
		{Role: "assistant", Content: "The second charge is a hold; it drops in 3 days."},
		{Role: "user", Content: "Thanks"},
		{Role: "assistant", Content: "You're welcome."},
	}
	for k, msg := range msgs {
		if msg.Role != "assistant" {
			continue
		}
		var training strings.Builder
		for _, s := range (dataset.Record{Messages: msgs[:k+1]}).Segments() {
			training.WriteString(s.Text)
		}
		var rendered strings.Builder
		if err := tmpl.Execute(&rendered, struct{ Messages []dataset.Message }{msgs[:k]}); err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(training.String(), msg.Content+"\n")
		if rendered.String() != want {
			t.Errorf("turn %d: Ollama prompt\n%q\ntraining text before the reply\n%q", k, rendered.String(), want)
		}
	}
	for _, line := range []string{"FROM ./model-q8_0.gguf\n", "PARAMETER stop \"<|endoftext|>\"\n", "PARAMETER stop \"user:\"\n", "PARAMETER num_ctx 1024\n"} {
		if !strings.Contains(mf, line) {
			t.Errorf("Modelfile lacks %q:\n%s", line, mf)
		}
	}
}

func TestModelfileCompletion(t *testing.T) {
	mf, err := Modelfile(ModelfileOptions{GGUF: "m.gguf", Template: "completion", Context: 128, EOS: "<|endoftext|>"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mf, `TEMPLATE """{{ .Prompt }}"""`) || strings.Contains(mf, "user:") || !strings.Contains(mf, "num_predict 64\n") {
		t.Errorf("%s", mf)
	}
	for _, o := range []ModelfileOptions{{GGUF: "m", Template: "alpaca", Context: 1, EOS: "x"}, {GGUF: "m", Context: 0, EOS: "x"}, {GGUF: "m", Context: 1, EOS: "a\"b"}} {
		if _, err := Modelfile(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
