package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// TensorInfo describes one tensor of a file. Dims are innermost first
// (ggml's ne[]); Offset is relative to the start of the data section.
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   TensorType
	Offset uint64
}

// Shape is the row-major shape, outermost first: Dims reversed.
func (t TensorInfo) Shape() []int {
	s := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		s[len(t.Dims)-1-i] = int(d)
	}
	return s
}

// File is a parsed GGUF file. Tensor data is read on demand.
type File struct {
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  int64
	DataOffset int64 // where the data section starts in the file

	r    io.ReaderAt
	size int64
	kv   map[string]int
	ti   map[string]int
}

// maxDims is GGML_MAX_DIMS.
const maxDims = 4

// Open reads the header of the GGUF file at path. Close the returned
// closer when done with the tensors.
func Open(path string) (*File, io.Closer, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, nil, err
	}
	f, err := Read(fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, fh, nil
}

// Read parses the header of a GGUF file of size bytes. Every count and
// length in it is checked against the size, so a corrupt or hostile file
// gives an error, never a huge allocation or a panic.
func Read(r io.ReaderAt, size int64) (*File, error) {
	d := &decoder{r: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 1<<16), size: size}
	if m := d.u32(); d.err == nil && m != Magic {
		return nil, fmt.Errorf("not a GGUF file (magic %#08x)", m)
	}
	f := &File{r: r, size: size, Alignment: DefaultAlignment, kv: map[string]int{}, ti: map[string]int{}}
	f.Version = d.u32()
	if d.err == nil && f.Version != 2 && f.Version != 3 {
		return nil, fmt.Errorf("GGUF version %d is not supported (2 or 3)", f.Version)
	}
	nTensors, nKV := d.u64(), d.u64()
	if d.err != nil {
		return nil, d.fail("header")
	}
	// Each key/value takes at least 13 bytes and each tensor info 24.
	if nKV > uint64(size)/13 || nTensors > uint64(size)/24 {
		return nil, fmt.Errorf("header claims %d keys and %d tensors, more than a %d-byte file can hold", nKV, nTensors, size)
	}
	for i := uint64(0); i < nKV; i++ {
		key := d.str()
		t := ValueType(d.u32())
		v := d.value(t, 0)
		if d.err != nil {
			return nil, d.fail(fmt.Sprintf("metadata pair %d (%q)", i, key))
		}
		if _, dup := f.kv[key]; dup {
			return nil, fmt.Errorf("metadata key %q appears twice", key)
		}
		f.kv[key] = len(f.KV)
		f.KV = append(f.KV, KV{key, v})
	}
	if v, ok := f.Get("general.alignment"); ok {
		a, ok := v.(uint32)
		if !ok || a == 0 || a%8 != 0 {
			return nil, fmt.Errorf("general.alignment %v is not a uint32 multiple of 8", v)
		}
		f.Alignment = int64(a)
	}
	for i := uint64(0); i < nTensors; i++ {
		var t TensorInfo
		t.Name = d.str()
		nd := d.u32()
		if d.err == nil && (nd == 0 || nd > maxDims) {
			return nil, fmt.Errorf("tensor %q has %d dimensions (1 to %d allowed)", t.Name, nd, maxDims)
		}
		for j := uint32(0); j < nd && d.err == nil; j++ {
			t.Dims = append(t.Dims, d.u64())
		}
		t.Type = TensorType(d.u32())
		t.Offset = d.u64()
		if d.err != nil {
			return nil, d.fail(fmt.Sprintf("tensor info %d", i))
		}
		if _, dup := f.ti[t.Name]; dup {
			return nil, fmt.Errorf("tensor %q appears twice", t.Name)
		}
		f.ti[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	f.DataOffset = align(d.pos, f.Alignment)
	for _, t := range f.Tensors {
		n, ok := numElements(t.Dims)
		if !ok {
			return nil, fmt.Errorf("tensor %q: dimensions %v overflow", t.Name, t.Dims)
		}
		if t.Offset%uint64(f.Alignment) != 0 {
			return nil, fmt.Errorf("tensor %q: data offset %d is not a multiple of the alignment %d", t.Name, t.Offset, f.Alignment)
		}
		sz, err := t.Type.DataSize(n)
		if err != nil {
			continue // a type this package does not decode; its bytes are not checked
		}
		if t.Offset > uint64(size) || int64(t.Offset)+sz > size-f.DataOffset {
			return nil, fmt.Errorf("tensor %q: %d bytes at offset %d run past the end of the file (%d bytes of data)", t.Name, sz, t.Offset, size-f.DataOffset)
		}
	}
	return f, nil
}

// Get returns a metadata value by key.
func (f *File) Get(key string) (any, bool) {
	i, ok := f.kv[key]
	if !ok {
		return nil, false
	}
	return f.KV[i].Value, true
}

// Tensor returns a tensor's description by name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.ti[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// RawTensor returns a tensor's bytes as stored.
func (f *File) RawTensor(name string) ([]byte, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("no tensor %q in the file", name)
	}
	n, _ := numElements(t.Dims)
	sz, err := t.Type.DataSize(n)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	buf := make([]byte, sz)
	if _, err := f.r.ReadAt(buf, f.DataOffset+int64(t.Offset)); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	return buf, nil
}

// ReadTensor returns a tensor's values as float32 (dequantised), in
// row-major order of Shape().
func (f *File) ReadTensor(name string) ([]float32, error) {
	raw, err := f.RawTensor(name)
	if err != nil {
		return nil, err
	}
	t, _ := f.Tensor(name)
	n, _ := numElements(t.Dims)
	out := make([]float32, n)
	decode(out, t.Type, raw)
	return out, nil
}

// decoder reads little-endian values, remembering the first error.
type decoder struct {
	r    *bufio.Reader
	pos  int64
	size int64
	err  error
	b    [8]byte
}

var errShort = errors.New("file ends early")

func (d *decoder) fail(where string) error {
	if errors.Is(d.err, io.EOF) || errors.Is(d.err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: %w", where, errShort)
	}
	return fmt.Errorf("%s: %w", where, d.err)
}

func (d *decoder) read(n int) []byte {
	if d.err != nil {
		return d.b[:n]
	}
	_, d.err = io.ReadFull(d.r, d.b[:n])
	d.pos += int64(n)
	return d.b[:n]
}

func (d *decoder) u8() uint8   { return d.read(1)[0] }
func (d *decoder) u16() uint16 { return binary.LittleEndian.Uint16(d.read(2)) }
func (d *decoder) u32() uint32 { return binary.LittleEndian.Uint32(d.read(4)) }
func (d *decoder) u64() uint64 { return binary.LittleEndian.Uint64(d.read(8)) }

func (d *decoder) remaining() uint64 {
	if d.pos >= d.size {
		return 0
	}
	return uint64(d.size - d.pos)
}

func (d *decoder) str() string {
	n := d.u64()
	if d.err != nil {
		return ""
	}
	if n > d.remaining() {
		d.err = fmt.Errorf("string of %d bytes runs past the end of the file", n)
		return ""
	}
	buf := make([]byte, n)
	_, d.err = io.ReadFull(d.r, buf)
	d.pos += int64(n)
	return string(buf)
}

// maxNesting bounds arrays of arrays.
const maxNesting = 8

func (d *decoder) value(t ValueType, depth int) any {
	switch t {
	case TypeUint8:
		return d.u8()
	case TypeInt8:
		return int8(d.u8())
	case TypeUint16:
		return d.u16()
	case TypeInt16:
		return int16(d.u16())
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		return int32(d.u32())
	case TypeFloat32:
		return math.Float32frombits(d.u32())
	case TypeBool:
		b := d.u8()
		if d.err == nil && b > 1 {
			d.err = fmt.Errorf("bool value %d", b)
		}
		return b == 1
	case TypeString:
		return d.str()
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		return int64(d.u64())
	case TypeFloat64:
		return math.Float64frombits(d.u64())
	case TypeArray:
		if depth >= maxNesting {
			d.err = fmt.Errorf("arrays nested more than %d deep", maxNesting)
			return nil
		}
		et := ValueType(d.u32())
		n := d.u64()
		if d.err != nil {
			return nil
		}
		if n > d.remaining() { // every element takes at least one byte
			d.err = fmt.Errorf("array of %d elements runs past the end of the file", n)
			return nil
		}
		return readArray(d, et, int(n), depth)
	}
	if d.err == nil {
		d.err = fmt.Errorf("unknown value type %d", uint32(t))
	}
	return nil
}

func readArray(d *decoder, et ValueType, n, depth int) any {
	switch et {
	case TypeUint8:
		return arrayOf[uint8](d, et, n, depth)
	case TypeInt8:
		return arrayOf[int8](d, et, n, depth)
	case TypeUint16:
		return arrayOf[uint16](d, et, n, depth)
	case TypeInt16:
		return arrayOf[int16](d, et, n, depth)
	case TypeUint32:
		return arrayOf[uint32](d, et, n, depth)
	case TypeInt32:
		return arrayOf[int32](d, et, n, depth)
	case TypeFloat32:
		return arrayOf[float32](d, et, n, depth)
	case TypeBool:
		return arrayOf[bool](d, et, n, depth)
	case TypeString:
		return arrayOf[string](d, et, n, depth)
	case TypeUint64:
		return arrayOf[uint64](d, et, n, depth)
	case TypeInt64:
		return arrayOf[int64](d, et, n, depth)
	case TypeFloat64:
		return arrayOf[float64](d, et, n, depth)
	case TypeArray:
		return arrayOf[any](d, et, n, depth)
	}
	d.err = fmt.Errorf("unknown array element type %d", uint32(et))
	return nil
}

func arrayOf[T any](d *decoder, et ValueType, n, depth int) []T {
	out := make([]T, 0, min(n, 1<<16))
	for i := 0; i < n && d.err == nil; i++ {
		v, _ := d.value(et, depth+1).(T)
		out = append(out, v)
	}
	return out
}
