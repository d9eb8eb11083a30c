package gguf

import (
	"encoding/binary"
	"math"
	"slices"
)

// F32ToF16 converts to IEEE half precision with round-to-nearest-even,
// subnormals and overflow to infinity, as numpy's astype(float16) and the
// F16C instruction ggml uses do.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127+15 >= 0x1f: // too large
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e <= 0 {
		// Subnormal half (or zero): shift the full significand.
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		half := m >> shift
		rem := m & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, up to infinity: correct
	}
	return sign | uint16(half)
}

// F16ToF32 converts IEEE half precision to float32 exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value = mant * 2^-24.
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// roundf is C's roundf: half away from zero.
func roundf(x float32) float32 { return float32(math.Round(float64(x))) }

// quantizeQ8 appends the q8_0 encoding of x (len a multiple of 32) to dst,
// exactly as ggml's quantize_row_q8_0_ref and gguf-py's Q8_0: per block of
// 32, d = max|x|/127 in float32, q = roundf(x · (1/d)), then d stored as fp16
// followed by the 32 int8 values.
func quantizeQ8(dst []byte, x []float32) []byte {
	for b := 0; b+q8BlockValues <= len(x); b += q8BlockValues {
		blk := x[b : b+q8BlockValues]
		var amax float32
		for _, v := range blk {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		dst = binary.LittleEndian.AppendUint16(dst, F32ToF16(d))
		for _, v := range blk {
			dst = append(dst, byte(int8(roundf(v*id))))
		}
	}
	return dst
}

// dequantizeQ8 decodes q8_0 blocks into dst (ggml's dequantize_row_q8_0).
func dequantizeQ8(dst []float32, src []byte) {
	for b := 0; b*q8BlockBytes < len(src); b++ {
		blk := src[b*q8BlockBytes : (b+1)*q8BlockBytes]
		d := F16ToF32(binary.LittleEndian.Uint16(blk))
		for j := 0; j < q8BlockValues; j++ {
			dst[b*q8BlockValues+j] = float32(int8(blk[2+j])) * d
		}
	}
}

// encode appends the encoding of x as type t to dst.
func encode(dst []byte, t TensorType, x []float32) []byte {
	switch t {
	case F32:
		n := len(dst)
		dst = slices.Grow(dst, 4*len(x))[:n+4*len(x)]
		out := dst[n:]
		for i, v := range x {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
	case F16:
		n := len(dst)
		dst = slices.Grow(dst, 2*len(x))[:n+2*len(x)]
		out := dst[n:]
		for i, v := range x {
			binary.LittleEndian.PutUint16(out[2*i:], F32ToF16(v))
		}
	case Q8_0:
		dst = quantizeQ8(slices.Grow(dst, len(x)/q8BlockValues*q8BlockBytes), x)
	}
	return dst
}

// decode converts data of type t into float32 values (len(dst) of them).
func decode(dst []float32, t TensorType, data []byte) {
	switch t {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = F16ToF32(binary.LittleEndian.Uint16(data[2*i:]))
		}
	case Q8_0:
		dequantizeQ8(dst, data)
	}
}
