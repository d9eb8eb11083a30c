// Package gguf writes and reads GGUF version 3 files, the model format of
// llama.cpp and Ollama, and exports GPT-2 models to it laid out as
// llama.cpp's own converter (convert_hf_to_gguf.py) writes them.
//
// A GGUF file is: the magic "GGUF", version, tensor count and key/value
// count; the key/value pairs (typed metadata); one descriptor per tensor
// (name, dimensions innermost first, ggml type, offset); padding to the
// alignment; then the tensor data, each tensor starting at a multiple of the
// alignment. All integers are little-endian.
package gguf

import (
	"fmt"
	"math"
)

// Magic is "GGUF" read as a little-endian uint32.
const Magic = 0x46554747

// Version is the GGUF version written.
const Version = 3

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// ValueType is the type tag of a metadata value.
type ValueType uint32

// Metadata value types of the GGUF specification.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

func (t ValueType) String() string {
	names := [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("ValueType(%d)", uint32(t))
}

// KV is one metadata pair. Value holds one of uint8, int8, uint16, int16,
// uint32, int32, float32, bool, string, uint64, int64, float64, or a slice
// of one of those (a GGUF array).
type KV struct {
	Key   string
	Value any
}

// TensorType is a ggml tensor type.
type TensorType uint32

// The ggml types this package encodes and decodes.
const (
	F32  TensorType = 0
	F16  TensorType = 1
	Q8_0 TensorType = 8
)

func (t TensorType) String() string {
	switch t {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case Q8_0:
		return "q8_0"
	}
	return fmt.Sprintf("ggml_type(%d)", uint32(t))
}

// ParseTensorType reads "f32", "f16" or "q8_0".
func ParseTensorType(s string) (TensorType, error) {
	switch s {
	case "f32":
		return F32, nil
	case "f16":
		return F16, nil
	case "q8_0":
		return Q8_0, nil
	}
	return 0, fmt.Errorf("type %q: use f32, f16 or q8_0", s)
}

// FileType is the general.file_type (llama_ftype) of a file whose large
// matrices are all of this type.
func (t TensorType) FileType() uint32 {
	switch t {
	case F16:
		return 1 // LLAMA_FTYPE_MOSTLY_F16
	case Q8_0:
		return 7 // LLAMA_FTYPE_MOSTLY_Q8_0
	}
	return 0 // LLAMA_FTYPE_ALL_F32
}

// Q8_0 blocks: 32 values share one fp16 scale.
const (
	q8BlockValues = 32
	q8BlockBytes  = 2 + q8BlockValues
)

// BlockValues is how many values one block of the type encodes.
func (t TensorType) BlockValues() int {
	if t == Q8_0 {
		return q8BlockValues
	}
	return 1
}

// DataSize is the number of bytes of n values of the type; n must be a
// multiple of BlockValues.
func (t TensorType) DataSize(n int64) (int64, error) {
	switch t {
	case F32:
		return 4 * n, nil
	case F16:
		return 2 * n, nil
	case Q8_0:
		if n%q8BlockValues != 0 {
			return 0, fmt.Errorf("q8_0 needs a multiple of %d values, got %d", q8BlockValues, n)
		}
		return n / q8BlockValues * q8BlockBytes, nil
	}
	return 0, fmt.Errorf("tensor type %v is not supported", t)
}

// align rounds n up to a multiple of a.
func align(n, a int64) int64 { return (n + a - 1) / a * a }

// numElements multiplies dims, reporting overflow.
func numElements(dims []uint64) (int64, bool) {
	n := uint64(1)
	for _, d := range dims {
		if d != 0 && n > math.MaxInt64/d {
			return 0, false
		}
		n *= d
	}
	return int64(n), true
}
