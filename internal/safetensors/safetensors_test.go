package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.safetensors")
	in := []Tensor{{"b", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}}, {"a", []int{1}, []float32{-7.5}}, {"empty", []int{0}, nil}}
	if err := Write(p, 0o600, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	if n := binary.LittleEndian.Uint64(raw); n%8 != 0 {
		t.Fatalf("header length %d not padded to 8", n)
	}
	got, meta, err := ReadAll(p)
	if err != nil {
		t.Fatal(err)
	}
	if meta["format"] != "pt" || len(got) != 3 {
		t.Fatalf("meta %v tensors %d", meta, len(got))
	}
	for _, w := range in {
		g := got[w.Name]
		if len(g.Data) != len(w.Data) || len(g.Shape) != len(w.Shape) {
			t.Fatalf("%s: %v", w.Name, g)
		}
		for i := range w.Data {
			if g.Data[i] != w.Data[i] {
				t.Fatalf("%s[%d]=%v", w.Name, i, g.Data[i])
			}
		}
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
}

// Known half-precision encodings (IEEE 754 binary16 and bfloat16).
func TestHalfConversions(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 5.9604645e-08}, {0x3555, 0.33325195}, {0x0000, 0}} {
		if got := F16ToF32(c.h); got != c.want {
			t.Errorf("F16 %#04x = %v want %v", c.h, got, c.want)
		}
	}
	if !math.IsInf(float64(F16ToF32(0x7c00)), 1) || !math.IsNaN(float64(F16ToF32(0x7e00))) {
		t.Error("inf/nan")
	}
	// BF16 and F16 files read back as float32.
	dir := t.TempDir()
	p := filepath.Join(dir, "h.safetensors")
	data := []byte{0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x40, 0xc0} // f16 1,-2 ; bf16 1,-3
	hdr := `{"f":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}}`
	writeRaw(t, p, hdr, data)
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x := make([]float32, 2)
	f.ReadFloat32("f", x)
	if x[0] != 1 || x[1] != -2 {
		t.Fatalf("f16 %v", x)
	}
	f.ReadFloat32("b", x)
	if x[0] != 1 || x[1] != -3 {
		t.Fatalf("bf16 %v", x)
	}
}

func writeRaw(t *testing.T, p, hdr string, data []byte) {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(hdr)))
	b.WriteString(hdr)
	b.Write(data)
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, hdr string
		data      []byte
		raw       []byte // whole file, overrides hdr/data
		want      string
	}{
		{name: "empty", raw: []byte{}, want: "truncated"},
		{name: "absurd", raw: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0}, want: "absurd"},
		{name: "short header", raw: []byte{100, 0, 0, 0, 0, 0, 0, 0, '{'}, want: "truncated"},
		{name: "not json", hdr: `{"a":`, want: "not valid JSON"},
		{name: "past end", hdr: `{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, data: make([]byte, 8), want: `"a"`},
		{name: "overlap", hdr: `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, data: make([]byte, 12), want: "overlap"},
		{name: "size mismatch", hdr: `{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, data: make([]byte, 16), want: "want 12"},
		{name: "dtype", hdr: `{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}`, data: make([]byte, 1), want: "unknown dtype"},
		{name: "overflowing shape", hdr: `{"a":{"dtype":"F32","shape":[2147483648,2147483648],"data_offsets":[0,0]}}`, data: make([]byte, 8), want: "needs more"},
		{name: "negative", hdr: `{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, data: make([]byte, 4), want: "bad shape"},
	}
	for _, c := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
		if c.raw != nil {
			os.WriteFile(p, c.raw, 0o600)
		} else {
			writeRaw(t, p, c.hdr, c.data)
		}
		_, err := Open(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want mention of %q and the path", c.name, err, c.want)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}}`), int64(8))
	f.Add([]byte(`{"a":{"dtype":"BF16","shape":[1,1],"data_offsets":[2,4]}}`), int64(4))
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[9223372036854775807,2],"data_offsets":[0,8]}}`), int64(8))
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[2147483648,2147483648],"data_offsets":[0,0]}}`), int64(8))
	f.Fuzz(func(t *testing.T, hdr []byte, dataLen int64) {
		ts, _, err := ParseHeader(hdr, dataLen)
		if err != nil {
			return
		}
		for _, x := range ts {
			if x.Begin < 0 || x.End > dataLen || x.Elems() > dataLen || x.End-x.Begin != x.Elems()*int64(DTypeSize(x.DType)) {
				t.Fatalf("accepted bad tensor %+v", x)
			}
		}
	})
}

// Reading a slice of a tensor (F32 in place, BF16 converted) gives the
// elements at those row-major positions; a range past the end is refused.
func TestReadFloat32At(t *testing.T) {
	dir := t.TempDir()
	// BF16 of 1..6: the top 16 bits of each float32.
	var bf []byte
	for _, v := range []float32{1, 2, 3, 4, 5, 6} {
		bf = binary.LittleEndian.AppendUint16(bf, uint16(math.Float32bits(v)>>16))
	}
	bfPath := filepath.Join(dir, "bf16")
	writeRaw(t, bfPath, `{"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}}`, bf)
	f32Path := filepath.Join(dir, "f32")
	if err := Write(f32Path, 0o600, []Tensor{{"pad", []int{1}, []float32{9}}, {"w", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{bfPath, f32Path} {
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, 3)
		if err := f.ReadFloat32At("w", got, 2); err != nil || got[0] != 3 || got[1] != 4 || got[2] != 5 {
			t.Errorf("%s: %v %v, want [3 4 5]", p, got, err)
		}
		if err := f.ReadFloat32At("w", got, 4); err == nil || !strings.Contains(err.Error(), `"w"`) {
			t.Errorf("%s: read past the end: %v", p, err)
		}
		f.Close()
	}
}
