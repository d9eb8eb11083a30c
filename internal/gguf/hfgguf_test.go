package gguf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/llmtune/llmtune/internal/dataset"
)

// Hugging Face's GGUF parser (an independent implementation of the format)
// reads every key, type and tensor of an exported file as this package's
// reader does, and the GGUF's Jinja chat template renders conversations
// exactly as training formats them.
func TestHuggingFaceParserAgrees(t *testing.T) {
	nm := nodeModules(t)
	dir := tinyDir(t)
	path := exportTo(t, dir, Q8_0)
	f, closer, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()

	msgs := []dataset.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Balance of account ••1234?"}}
	mj, _ := json.Marshal(msgs)
	script, _ := filepath.Abs(filepath.Join("testdata", "hfgguf.mjs"))
	cmd := exec.Command("node", script, nm, path, string(mj))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("@huggingface/gguf: %v\n%s", err, stderr.String())
	}
	var hf struct {
		Version     int `json:"version"`
		TensorCount int `json:"tensor_count"`
		KVCount     int `json:"kv_count"`
		Metadata    map[string]struct {
			Type    int             `json:"type"`
			SubType *int            `json:"subType"`
			Value   json.RawMessage `json:"value"`
			Length  int             `json:"length"`
			First   json.RawMessage `json:"first"`
			Last    json.RawMessage `json:"last"`
		} `json:"metadata"`
		Tensors []struct {
			Name   string   `json:"name"`
			Shape  []uint64 `json:"shape"`
			Dtype  int      `json:"dtype"`
			Offset uint64   `json:"offset"`
		} `json:"tensors"`
		DataOffset int64  `json:"data_offset"`
		Chat       string `json:"chat"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &hf); err != nil {
		t.Fatalf("%v: %.500s", err, stdout.String())
	}
	if hf.Version != 3 || hf.TensorCount != len(f.Tensors) || hf.KVCount != len(f.KV) || hf.DataOffset != f.DataOffset {
		t.Errorf("HF parser: version %d, %d tensors, %d keys, data at %d; ours %d, %d, %d, %d",
			hf.Version, hf.TensorCount, hf.KVCount, hf.DataOffset, f.Version, len(f.Tensors), len(f.KV), f.DataOffset)
	}
	asJSON := func(v any) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
		return strings.TrimSuffix(b.String(), "\n")
	}
	for _, kv := range f.KV {
		h, ok := hf.Metadata[kv.Key]
		if !ok {
			t.Errorf("HF parser has no %s", kv.Key)
			continue
		}
		rv := reflect.ValueOf(kv.Value)
		if rv.Kind() == reflect.Slice {
			if h.Type != int(TypeArray) || h.Length != rv.Len() || h.SubType == nil {
				t.Errorf("%s: HF type %d length %d, ours array of %d", kv.Key, h.Type, h.Length, rv.Len())
				continue
			}
			elem := valueTypeOf(rv.Index(0).Interface())
			first, last := asJSON(rv.Index(0).Interface()), asJSON(rv.Index(rv.Len()-1).Interface())
			if *h.SubType != int(elem) || string(h.First) != first || string(h.Last) != last {
				t.Errorf("%s: HF [%d] %s..%s, ours [%d] %s..%s", kv.Key, *h.SubType, h.First, h.Last, elem, first, last)
			}
			continue
		}
		want := asJSON(kv.Value)
		if f32, ok := kv.Value.(float32); ok {
			want = asJSON(float64(f32)) // JS numbers are doubles
		}
		if h.Type != int(valueTypeOf(kv.Value)) || string(h.Value) != want {
			t.Errorf("%s: HF %d %s, ours %d %s", kv.Key, h.Type, h.Value, valueTypeOf(kv.Value), want)
		}
	}
	for i, ti := range f.Tensors {
		h := hf.Tensors[i]
		if h.Name != ti.Name || !reflect.DeepEqual(h.Shape, ti.Dims) || h.Dtype != int(ti.Type) || h.Offset != ti.Offset {
			t.Errorf("tensor %d: HF %+v, ours %+v", i, h, ti)
		}
	}
	var training strings.Builder
	for _, s := range (dataset.Record{Messages: msgs}).Segments() {
		training.WriteString(s.Text)
	}
	if want := training.String() + "assistant: "; hf.Chat != want {
		t.Errorf("chat template renders %q, training text is %q", hf.Chat, want)
	}
}

// valueTypeOf is the GGUF type Write uses for a Go value.
func valueTypeOf(v any) ValueType {
	switch v.(type) {
	case uint8:
		return TypeUint8
	case int8:
		return TypeInt8
	case uint16:
		return TypeUint16
	case int16:
		return TypeInt16
	case uint32:
		return TypeUint32
	case int32:
		return TypeInt32
	case float32:
		return TypeFloat32
	case bool:
		return TypeBool
	case string:
		return TypeString
	case uint64:
		return TypeUint64
	case int64:
		return TypeInt64
	case float64:
		return TypeFloat64
	}
	panic(fmt.Sprintf("no GGUF type for %T", v))
}
