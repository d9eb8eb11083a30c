package gguf

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"testing"
)

func sampleKVs() []KV {
	return []KV{
		{"general.architecture", "gpt2"},
		{"t.u8", uint8(200)}, {"t.i8", int8(-100)}, {"t.u16", uint16(60000)}, {"t.i16", int16(-30000)},
		{"t.u32", uint32(4000000000)}, {"t.i32", int32(-2000000000)}, {"t.f32", float32(1e-5)},
		{"t.bool", true}, {"t.false", false}, {"t.str", "héllo <|endoftext|>"}, {"t.empty", ""},
		{"t.u64", uint64(1) << 60}, {"t.i64", int64(-1) << 60}, {"t.f64", math.Pi},
		{"t.strs", []string{"Ġthe", "", "a b"}}, {"t.i32s", []int32{1, 3, -4}}, {"t.f32s", []float32{0.5, -2}},
		{"t.u8s", []uint8{}}, {"t.bools", []bool{true, false}}, {"t.u64s", []uint64{7}},
	}
}

func sampleTensors() []Tensor {
	mk := func(n int, scale float32) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i%13-6) * scale
		}
		return x
	}
	return []Tensor{
		{Name: "a.weight", Shape: []int{3, 64}, Type: F32, Data: mk(192, 0.25)},
		{Name: "b.bias", Shape: []int{5}, Type: F32, Data: mk(5, 1)},
		{Name: "c.weight", Shape: []int{2, 32}, Type: F16, Data: mk(64, 0.125)},
		{Name: "d.weight", Shape: []int{4, 64}, Type: Q8_0, Data: mk(256, 0.01)},
		{Name: "e.weight", Shape: []int{2, 3, 4}, Type: F32, Data: mk(24, 1)},
	}
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	kvs, tensors := sampleKVs(), sampleTensors()
	if err := Write(&buf, kvs, tensors); err != nil {
		t.Fatal(err)
	}
	f, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || f.Alignment != 32 {
		t.Errorf("version %d alignment %d", f.Version, f.Alignment)
	}
	if len(f.KV) != len(kvs) {
		t.Fatalf("%d keys read, %d written", len(f.KV), len(kvs))
	}
	for i, kv := range kvs {
		got := f.KV[i]
		if got.Key != kv.Key || !reflect.DeepEqual(got.Value, kv.Value) {
			t.Errorf("key %d: %q=%#v, wrote %q=%#v", i, got.Key, got.Value, kv.Key, kv.Value)
		}
	}
	if f.DataOffset%32 != 0 {
		t.Errorf("data starts at %d, not 32-aligned", f.DataOffset)
	}
	for i, want := range tensors {
		info := f.Tensors[i]
		if info.Name != want.Name || info.Type != want.Type || !reflect.DeepEqual(info.Shape(), want.Shape) {
			t.Errorf("tensor %d: %+v, wrote %s %v %v", i, info, want.Name, want.Shape, want.Type)
		}
		if info.Offset%32 != 0 {
			t.Errorf("tensor %s at offset %d, not 32-aligned", info.Name, info.Offset)
		}
		got, err := f.ReadTensor(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		for j := range got {
			tol := 0.0
			switch want.Type {
			case F16:
				tol = math.Abs(float64(want.Data[j])) / 2048
			case Q8_0:
				tol = 0.06 * 0.6 / 127 * 1.1
			}
			if d := math.Abs(float64(got[j] - want.Data[j])); d > tol {
				t.Errorf("%s[%d] = %g, wrote %g", want.Name, j, got[j], want.Data[j])
				break
			}
		}
	}
	// The dims are stored innermost first (ggml's ne[]).
	if info, _ := f.Tensor("e.weight"); !reflect.DeepEqual(info.Dims, []uint64{4, 3, 2}) {
		t.Errorf("dims %v, want [4 3 2]", info.Dims)
	}
}

// The header bytes of a minimal file, written out by hand from the GGUF
// specification.
func TestHeaderBytes(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, []KV{{"k", uint32(7)}}, []Tensor{{Name: "w", Shape: []int{2}, Type: F32, Data: []float32{1, -2}}})
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	le := func(v any) { binary.Write(&want, binary.LittleEndian, v) }
	want.WriteString("GGUF")
	le(uint32(3))
	le(uint64(1)) // tensors
	le(uint64(1)) // kvs
	le(uint64(1))
	want.WriteString("k")
	le(uint32(4))
	le(uint32(7))
	le(uint64(1))
	want.WriteString("w")
	le(uint32(1))
	le(uint64(2))
	le(uint32(0))
	le(uint64(0))
	for want.Len()%32 != 0 {
		want.WriteByte(0)
	}
	le(float32(1))
	le(float32(-2))
	for want.Len()%32 != 0 {
		want.WriteByte(0)
	}
	if !bytes.Equal(buf.Bytes(), want.Bytes()) {
		t.Errorf("file bytes\n%x\nwant\n%x", buf.Bytes(), want.Bytes())
	}
}

func TestWriteRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		kvs     []KV
		tensors []Tensor
	}{
		"duplicate key":    {kvs: []KV{{"a", uint8(1)}, {"a", uint8(2)}}},
		"bad value":        {kvs: []KV{{"a", struct{}{}}}},
		"empty key":        {kvs: []KV{{"", uint8(1)}}},
		"bad alignment":    {kvs: []KV{{"general.alignment", uint32(12)}}},
		"shape mismatch":   {tensors: []Tensor{{Name: "x", Shape: []int{2, 2}, Type: F32, Data: make([]float32, 3)}}},
		"q8 row":           {tensors: []Tensor{{Name: "x", Shape: []int{2, 16}, Type: Q8_0, Data: make([]float32, 32)}}},
		"duplicate tensor": {tensors: []Tensor{{Name: "x", Shape: []int{1}, Data: []float32{1}}, {Name: "x", Shape: []int{1}, Data: []float32{1}}}},
		"bad type":         {tensors: []Tensor{{Name: "x", Shape: []int{1}, Type: 99, Data: []float32{1}}}},
		"5 dims":           {tensors: []Tensor{{Name: "x", Shape: []int{1, 1, 1, 1, 1}, Data: []float32{1}}}},
	} {
		if err := Write(&bytes.Buffer{}, tc.kvs, tc.tensors); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestReadRejects(t *testing.T) {
	var good bytes.Buffer
	if err := Write(&good, sampleKVs(), sampleTensors()); err != nil {
		t.Fatal(err)
	}
	b := good.Bytes()
	for name, mutate := range map[string]func([]byte) []byte{
		"magic":     func(b []byte) []byte { b[0] = 'X'; return b },
		"version":   func(b []byte) []byte { b[4] = 9; return b },
		"truncated": func(b []byte) []byte { return b[:len(b)/3] },
		"no data":   func(b []byte) []byte { return b[:len(b)-40] },
		"kv count":  func(b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], 1<<40); return b },
		"key len":   func(b []byte) []byte { binary.LittleEndian.PutUint64(b[24:], 1<<50); return b },
	} {
		c := mutate(append([]byte(nil), b...))
		if _, err := Read(bytes.NewReader(c), int64(len(c))); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzRead: any bytes give a file or an error, never a panic or a huge
// allocation; a file that parses has tensors that can be read.
func FuzzRead(f *testing.F) {
	var good bytes.Buffer
	Write(&good, sampleKVs(), sampleTensors())
	f.Add(good.Bytes())
	f.Add([]byte("GGUF"))
	f.Add(good.Bytes()[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for _, ti := range file.Tensors {
			file.ReadTensor(ti.Name)
		}
	})
}
