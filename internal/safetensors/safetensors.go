// Package safetensors reads and writes Hugging Face's safetensors format: an
// 8-byte little-endian header length, a JSON header mapping tensor names to
// dtype, shape and data offsets (plus optional "__metadata__"), then the raw
// little-endian data. Reading validates the header completely before any
// data is touched, so a damaged file gives an error naming the file and
// tensor, never a panic or a huge allocation.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"unsafe"

	"github.com/llmtune/llmtune/internal/atomicfile"
)

// MaxHeader bounds the JSON header; real checkpoints have a few hundred KB.
const MaxHeader = 100 << 20

// Info describes one tensor in a file.
type Info struct {
	Name  string
	DType string // F32, F16, BF16 (others are reported but cannot be read as float32)
	Shape []int
	Begin int64 // data offsets relative to the data section
	End   int64
}

// Elems is the number of elements the shape describes.
func (t Info) Elems() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= int64(d)
	}
	return n
}

// DTypeSize returns the byte size of a dtype, or 0 if unknown.
func DTypeSize(dt string) int {
	switch dt {
	case "F64", "I64", "U64":
		return 8
	case "F32", "I32", "U32":
		return 4
	case "F16", "BF16", "I16", "U16":
		return 2
	case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2":
		return 1
	}
	return 0
}

// File is an open safetensors file.
type File struct {
	Path     string
	Tensors  map[string]Info
	Metadata map[string]string
	f        *os.File
	dataOff  int64
}

// Open reads and validates the header of path.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	var lenb [8]byte
	if _, err := io.ReadFull(f, lenb[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: truncated: no header length (%d bytes)", path, st.Size())
	}
	n := binary.LittleEndian.Uint64(lenb[:])
	if n > MaxHeader {
		f.Close()
		return nil, fmt.Errorf("%s: header length %d is absurd (limit %d); not a safetensors file?", path, n, MaxHeader)
	}
	if int64(n) > st.Size()-8 {
		f.Close()
		return nil, fmt.Errorf("%s: truncated: header of %d bytes but the file has %d", path, n, st.Size())
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(f, hdr); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: reading header: %w", path, err)
	}
	tensors, meta, err := ParseHeader(hdr, st.Size()-8-int64(n))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &File{Path: path, Tensors: tensors, Metadata: meta, f: f, dataOff: 8 + int64(n)}, nil
}

// ParseHeader validates a JSON header against a data section of dataLen
// bytes: known dtypes, sizes that match shapes, offsets inside the data and
// not overlapping.
func ParseHeader(hdr []byte, dataLen int64) (map[string]Info, map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, nil, fmt.Errorf("header is not valid JSON: %v", err)
	}
	tensors := make(map[string]Info, len(raw))
	var meta map[string]string
	for name, v := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(v, &meta); err != nil {
				return nil, nil, fmt.Errorf("__metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		var t struct {
			DType   string  `json:"dtype"`
			Shape   []int64 `json:"shape"`
			Offsets []int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(v, &t); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %v", name, err)
		}
		if len(t.Offsets) != 2 {
			return nil, nil, fmt.Errorf("tensor %q: data_offsets must have 2 entries", name)
		}
		size := DTypeSize(t.DType)
		if size == 0 {
			return nil, nil, fmt.Errorf("tensor %q: unknown dtype %q", name, t.DType)
		}
		elems := int64(1)
		shape := make([]int, len(t.Shape))
		for i, d := range t.Shape {
			if d < 0 || d > 1<<40 || (d > 0 && elems > (1<<62)/d) {
				return nil, nil, fmt.Errorf("tensor %q: bad shape %v", name, t.Shape)
			}
			elems *= d
			shape[i] = int(d)
		}
		// Bounding the element count by the data size first keeps
		// elems*size from overflowing into a small, matching byte count.
		if elems > dataLen/int64(size) {
			return nil, nil, fmt.Errorf("tensor %q: shape %v of %s needs more than the %d bytes of data (truncated file?)", name, t.Shape, t.DType, dataLen)
		}
		b, e := t.Offsets[0], t.Offsets[1]
		if b < 0 || e < b || e > dataLen {
			return nil, nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] outside the %d bytes of data (truncated file?)", name, b, e, dataLen)
		}
		if e-b != elems*int64(size) {
			return nil, nil, fmt.Errorf("tensor %q: %d bytes for shape %v of %s (want %d)", name, e-b, t.Shape, t.DType, elems*int64(size))
		}
		tensors[name] = Info{Name: name, DType: t.DType, Shape: shape, Begin: b, End: e}
	}
	// Overlap check over tensors sorted by offset.
	list := make([]Info, 0, len(tensors))
	for _, t := range tensors {
		if t.End > t.Begin {
			list = append(list, t)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Begin < list[j].Begin })
	for i := 1; i < len(list); i++ {
		if list[i].Begin < list[i-1].End {
			return nil, nil, fmt.Errorf("tensors %q and %q overlap in the data section", list[i-1].Name, list[i].Name)
		}
	}
	return tensors, meta, nil
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// ReadFloat32 reads tensor name into dst (len must equal its element
// count), converting F16 and BF16 to float32. F32 data is read straight into
// dst's memory with no intermediate copy.
func (f *File) ReadFloat32(name string, dst []float32) error {
	t, ok := f.Tensors[name]
	if !ok {
		return fmt.Errorf("%s: no tensor %q", f.Path, name)
	}
	if int64(len(dst)) != t.Elems() {
		return fmt.Errorf("%s: tensor %q has %d elements, want %d", f.Path, name, t.Elems(), len(dst))
	}
	return f.ReadFloat32At(name, dst, 0)
}

// ReadFloat32At reads elements [start, start+len(dst)) of tensor name (in
// row-major order) into dst, so a large tensor can be streamed in pieces.
func (f *File) ReadFloat32At(name string, dst []float32, start int64) error {
	t, ok := f.Tensors[name]
	if !ok {
		return fmt.Errorf("%s: no tensor %q", f.Path, name)
	}
	if start < 0 || start+int64(len(dst)) > t.Elems() {
		return fmt.Errorf("%s: tensor %q has %d elements; cannot read [%d, %d)", f.Path, name, t.Elems(), start, start+int64(len(dst)))
	}
	switch t.DType {
	case "F32":
		b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*len(dst))
		if _, err := f.f.ReadAt(b, f.dataOff+t.Begin+4*start); err != nil {
			return fmt.Errorf("%s: reading tensor %q: %w", f.Path, name, err)
		}
		if !littleEndian {
			for i := range dst {
				dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		}
	case "F16", "BF16":
		off := f.dataOff + t.Begin + 2*start
		const chunk = 1 << 20
		buf := make([]byte, 2*min(chunk, len(dst)))
		for lo := 0; lo < len(dst); lo += chunk {
			hi := min(lo+chunk, len(dst))
			b := buf[:2*(hi-lo)]
			if _, err := f.f.ReadAt(b, off+int64(2*lo)); err != nil {
				return fmt.Errorf("%s: reading tensor %q: %w", f.Path, name, err)
			}
			for i := range b[:len(b)/2] {
				h := binary.LittleEndian.Uint16(b[2*i:])
				if t.DType == "F16" {
					dst[lo+i] = F16ToF32(h)
				} else {
					dst[lo+i] = math.Float32frombits(uint32(h) << 16)
				}
			}
		}
	default:
		return fmt.Errorf("%s: tensor %q has dtype %s; only F32, F16 and BF16 can be read as float32", f.Path, name, t.DType)
	}
	return nil
}

var littleEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 1 }()

// F16ToF32 converts an IEEE half-precision value.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		for mant&0x400 == 0 {
			mant <<= 1
			exp--
		}
		exp++
		mant &= 0x3ff
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// Tensor is one float32 tensor to write.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Write writes tensors (F32, in the given order) with metadata to path
// atomically, mode perm. The header is space-padded to a multiple of 8 bytes
// as the reference implementation does.
func Write(path string, perm os.FileMode, tensors []Tensor, metadata map[string]string) error {
	return atomicfile.WriteWith(path, perm, func(w io.Writer) error { return Encode(w, tensors, metadata) })
}

// Encode streams the safetensors encoding of tensors to w.
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	hdr := make(map[string]any, len(tensors)+1)
	if metadata != nil {
		hdr["__metadata__"] = metadata
	}
	var off int64
	for _, t := range tensors {
		n := int64(1)
		for _, d := range t.Shape {
			n *= int64(d)
		}
		if n != int64(len(t.Data)) {
			return fmt.Errorf("safetensors: tensor %q: shape %v but %d values", t.Name, t.Shape, len(t.Data))
		}
		if _, dup := hdr[t.Name]; dup {
			return fmt.Errorf("safetensors: tensor %q written twice", t.Name)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		hdr[t.Name] = map[string]any{"dtype": "F32", "shape": shape, "data_offsets": []int64{off, off + 4*n}}
		off += 4 * n
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	var lenb [8]byte
	binary.LittleEndian.PutUint64(lenb[:], uint64(len(h)))
	if _, err := w.Write(lenb[:]); err != nil {
		return err
	}
	if _, err := w.Write(h); err != nil {
		return err
	}
	for _, t := range tensors {
		if len(t.Data) == 0 {
			continue
		}
		if littleEndian {
			if _, err := w.Write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t.Data))), 4*len(t.Data))); err != nil {
				return err
			}
			continue
		}
		buf := make([]byte, 4*len(t.Data))
		for i, v := range t.Data {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// ReadAll reads every float32-convertible tensor of a file into memory:
// convenient for small files such as optimizer state and adapters.
func ReadAll(path string) (map[string]Tensor, map[string]string, error) {
	f, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	out := make(map[string]Tensor, len(f.Tensors))
	for name, t := range f.Tensors {
		data := make([]float32, t.Elems())
		if err := f.ReadFloat32(name, data); err != nil {
			return nil, nil, err
		}
		out[name] = Tensor{Name: name, Shape: t.Shape, Data: data}
	}
	return out, f.Metadata, nil
}
