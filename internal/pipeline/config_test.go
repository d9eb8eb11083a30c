package pipeline

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTemplateIsTheDefault(t *testing.T) {
	c := Config{}
	if err := parseInto(&c, Template, "template"); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("template and Default() differ:\n%+v\n%+v", c, Default())
	}
	for _, k := range Keys() {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(string(Template), leaf+":") {
			t.Errorf("template does not show key %s", k)
		}
	}
}

func TestUnknownKeySuggests(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("train:\n  step: 5\n"), 0o600)
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), `"train.step"`) || !strings.Contains(err.Error(), `"train.steps"`) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v", err)
	}
}

func TestSetOverrides(t *testing.T) {
	c := Default()
	for _, s := range []string{"train.steps=7", "prepare.anonymize=false", "train.lr=0.5", "prepare.inputs=a,b"} {
		if err := c.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if c.Train.Steps != 7 || c.Prepare.Anonymize || c.Train.LR != 0.5 || len(c.Prepare.Inputs) != 2 {
		t.Fatalf("%+v", c)
	}
	if err := c.Set("train.stpes=1"); err == nil || !strings.Contains(err.Error(), "train.steps") {
		t.Fatalf("err = %v", err)
	}
}
