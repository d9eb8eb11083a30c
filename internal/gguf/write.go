package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
)

// Tensor is one tensor to write. Shape is row-major, outermost first (as
// numpy and PyTorch print it); the file stores it reversed, innermost first,
// as ggml's ne[]. Data holds the values in that row-major order and is
// converted to Type while writing.
type Tensor struct {
	Name  string
	Shape []int
	Type  TensorType
	Data  []float32
}

// dims is the ggml ne[] order of the shape.
func (t Tensor) dims() []uint64 {
	d := make([]uint64, len(t.Shape))
	for i, s := range t.Shape {
		d[len(t.Shape)-1-i] = uint64(s)
	}
	return d
}

func (t Tensor) check() error {
	if t.Name == "" {
		return fmt.Errorf("tensor with an empty name")
	}
	if len(t.Shape) == 0 || len(t.Shape) > 4 {
		return fmt.Errorf("tensor %s: %d dimensions (ggml takes 1 to 4)", t.Name, len(t.Shape))
	}
	n := 1
	for _, s := range t.Shape {
		if s <= 0 {
			return fmt.Errorf("tensor %s: shape %v has a dimension <= 0", t.Name, t.Shape)
		}
		n *= s
	}
	if n != len(t.Data) {
		return fmt.Errorf("tensor %s: shape %v holds %d values, data has %d", t.Name, t.Shape, n, len(t.Data))
	}
	if bv := t.Type.BlockValues(); t.Shape[len(t.Shape)-1]%bv != 0 {
		return fmt.Errorf("tensor %s: rows of %d values cannot be stored as %v (blocks of %d)", t.Name, t.Shape[len(t.Shape)-1], t.Type, bv)
	}
	if _, err := t.Type.DataSize(int64(n)); err != nil {
		return fmt.Errorf("tensor %s: %w", t.Name, err)
	}
	return nil
}

// Write writes a GGUF v3 file with the metadata in order and the tensors
// in order, each tensor's data aligned to DefaultAlignment (or to the
// general.alignment given in kvs).
func Write(w io.Writer, kvs []KV, tensors []Tensor) error {
	alignment := int64(DefaultAlignment)
	seen := map[string]bool{}
	for _, kv := range kvs {
		if !validKey(kv.Key) {
			return fmt.Errorf("metadata key %q is not a valid GGUF key", kv.Key)
		}
		if seen[kv.Key] {
			return fmt.Errorf("metadata key %s appears twice", kv.Key)
		}
		seen[kv.Key] = true
		if kv.Key == "general.alignment" {
			a, ok := kv.Value.(uint32)
			if !ok || a == 0 || a%8 != 0 {
				return fmt.Errorf("general.alignment must be a uint32 multiple of 8, got %v", kv.Value)
			}
			alignment = int64(a)
		}
	}
	names := map[string]bool{}
	for _, t := range tensors {
		if err := t.check(); err != nil {
			return err
		}
		if names[t.Name] {
			return fmt.Errorf("tensor %s appears twice", t.Name)
		}
		names[t.Name] = true
	}

	bw := bufio.NewWriterSize(w, 1<<20)
	e := &encoder{w: bw}
	e.u32(Magic)
	e.u32(Version)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		if err := e.value(kv.Value, true); err != nil {
			return fmt.Errorf("metadata %s: %w", kv.Key, err)
		}
	}
	var offset int64
	for _, t := range tensors {
		e.str(t.Name)
		dims := t.dims()
		e.u32(uint32(len(dims)))
		for _, d := range dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(uint64(offset))
		size, _ := t.Type.DataSize(int64(len(t.Data)))
		offset = align(offset+size, alignment)
	}
	e.pad(alignment)
	var buf []byte
	for _, t := range tensors {
		buf = encode(buf[:0], t.Type, t.Data)
		e.bytes(buf)
		e.pad(alignment)
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

// encoder writes little-endian values, remembering the first error and the
// position (for padding).
type encoder struct {
	w   io.Writer
	n   int64
	err error
	b   [8]byte
}

func (e *encoder) bytes(p []byte) {
	if e.err != nil {
		return
	}
	var n int
	n, e.err = e.w.Write(p)
	e.n += int64(n)
}

func (e *encoder) u8(v uint8)   { e.b[0] = v; e.bytes(e.b[:1]) }
func (e *encoder) u16(v uint16) { binary.LittleEndian.PutUint16(e.b[:], v); e.bytes(e.b[:2]) }
func (e *encoder) u32(v uint32) { binary.LittleEndian.PutUint32(e.b[:], v); e.bytes(e.b[:4]) }
func (e *encoder) u64(v uint64) { binary.LittleEndian.PutUint64(e.b[:], v); e.bytes(e.b[:8]) }
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.bytes([]byte(s)) }

func (e *encoder) pad(a int64) {
	if r := e.n % a; r != 0 {
		e.bytes(make([]byte, a-r))
	}
}

// value writes a metadata value, with its type tag when tagged.
func (e *encoder) value(v any, tagged bool) error {
	tag := func(t ValueType) {
		if tagged {
			e.u32(uint32(t))
		}
	}
	switch x := v.(type) {
	case uint8:
		tag(TypeUint8)
		e.u8(x)
	case int8:
		tag(TypeInt8)
		e.u8(uint8(x))
	case uint16:
		tag(TypeUint16)
		e.u16(x)
	case int16:
		tag(TypeInt16)
		e.u16(uint16(x))
	case uint32:
		tag(TypeUint32)
		e.u32(x)
	case int32:
		tag(TypeInt32)
		e.u32(uint32(x))
	case float32:
		tag(TypeFloat32)
		e.u32(math.Float32bits(x))
	case bool:
		tag(TypeBool)
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		tag(TypeString)
		e.str(x)
	case uint64:
		tag(TypeUint64)
		e.u64(x)
	case int64:
		tag(TypeInt64)
		e.u64(uint64(x))
	case float64:
		tag(TypeFloat64)
		e.u64(math.Float64bits(x))
	case []uint8:
		return writeArray(e, tag, TypeUint8, x)
	case []int8:
		return writeArray(e, tag, TypeInt8, x)
	case []uint16:
		return writeArray(e, tag, TypeUint16, x)
	case []int16:
		return writeArray(e, tag, TypeInt16, x)
	case []uint32:
		return writeArray(e, tag, TypeUint32, x)
	case []int32:
		return writeArray(e, tag, TypeInt32, x)
	case []float32:
		return writeArray(e, tag, TypeFloat32, x)
	case []bool:
		return writeArray(e, tag, TypeBool, x)
	case []string:
		return writeArray(e, tag, TypeString, x)
	case []uint64:
		return writeArray(e, tag, TypeUint64, x)
	case []int64:
		return writeArray(e, tag, TypeInt64, x)
	case []float64:
		return writeArray(e, tag, TypeFloat64, x)
	default:
		return fmt.Errorf("value of Go type %T has no GGUF type", v)
	}
	return nil
}

func writeArray[T any](e *encoder, tag func(ValueType), elem ValueType, xs []T) error {
	tag(TypeArray)
	e.u32(uint32(elem))
	e.u64(uint64(len(xs)))
	for _, x := range xs {
		if err := e.value(x, false); err != nil {
			return err
		}
	}
	return nil
}

// validKey reports whether a key follows the GGUF naming convention
// (lower_snake_case segments separated by dots).
func validKey(k string) bool {
	if k == "" || len(k) > 65535 || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") {
		return false
	}
	return true
}
