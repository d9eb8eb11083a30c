package model

import "testing"

func TestLayoutCounts124M(t *testing.T) {
	c, err := Preset("gpt2-124m")
	if err != nil {
		t.Fatal(err)
	}
	if got := NewLayout(c).Total; got != 124439808 {
		t.Fatalf("124m parameters = %d, want 124439808 (HF gpt2)", got)
	}
	tiny, _ := Preset("gpt2-tiny")
	if got := NewLayout(tiny).Total; got != 3324736 {
		t.Fatalf("tiny parameters = %d, want 3324736", got)
	}
}

func TestParseConfigRejects(t *testing.T) {
	for _, js := range []string{
		`{"model_type":"llama","vocab_size":10,"n_positions":8,"n_embd":8,"n_layer":1,"n_head":2}`,
		`{"model_type":"gpt2","vocab_size":10,"n_positions":8,"n_embd":9,"n_layer":1,"n_head":2}`,
		`{"model_type":"gpt2",`,
	} {
		if _, err := ParseConfig([]byte(js)); err == nil {
			t.Errorf("accepted %s", js)
		}
	}
	c, err := ParseConfig([]byte(`{"model_type":"gpt2","vocab_size":10,"n_positions":8,"n_embd":8,"n_layer":1,"n_head":2,"foo":[1]}`))
	if err != nil || c.LayerNormEpsilon != 1e-5 || string(c.Extra["foo"]) != "[1]" {
		t.Fatalf("defaults/extra: %+v %v", c, err)
	}
}
