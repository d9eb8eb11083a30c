package gguf

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"testing"
)

// Expected halves from numpy's float32.astype(float16) (round to nearest
// even, subnormals, overflow to infinity).
func TestF32ToF16Numpy(t *testing.T) {
	for _, tc := range []struct {
		f float32
		h uint16
	}{
		{3.6904602e-03, 0x1b8f}, {8.9623666e-01, 0x3b2b}, {-8.2241356e-01, 0xba94},
		{-2.6717756e+00, 0xc158}, {1.804308e-01, 0x31c6}, {4.0206456e+00, 0x4405},
		{-8.775547e-02, 0xad9e}, {-5.703668e+00, 0xc5b4}, {-3.8686132e+00, 0xc3bd},
		{0, 0x0000}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3c00},
		{6.5504e+04, 0x7bff}, {6.551999e+04, 0x7bff}, {6.552e+04, 0x7c00}, {1e5, 0x7c00},
		{1e-08, 0x0000}, {5.96e-08, 0x0001}, {2.98e-08, 0x0000}, {2.9802322e-08, 0x0000},
		{8.940697e-08, 0x0002}, {6.1035156e-05, 0x0400}, {6.097555e-05, 0x03ff},
		{1.0004883e+00, 0x3c00}, {1.0014648e+00, 0x3c02}, {-2.5, 0xc100}, {-1e-07, 0x8002},
	} {
		if got := F32ToF16(tc.f); got != tc.h {
			t.Errorf("F32ToF16(%g) = %#04x, numpy %#04x", tc.f, got, tc.h)
		}
	}
}

// Every finite half converts to float32 and back unchanged, and the
// float32 value is the half's exact value.
func TestF16RoundTripAll(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		exp := (h >> 10) & 0x1f
		if exp == 0x1f && h&0x3ff != 0 {
			if !math.IsNaN(float64(f)) {
				t.Fatalf("%#04x: NaN became %g", h, f)
			}
			continue
		}
		if back := F32ToF16(f); back != uint16(h) {
			t.Fatalf("%#04x -> %g -> %#04x", h, f, back)
		}
		// Exact value: (-1)^s * 2^(e-15) * (1 + m/1024), or subnormal.
		m := float64(h & 0x3ff)
		var want float64
		if exp == 0 {
			want = m * math.Pow(2, -24)
		} else if exp == 0x1f {
			want = math.Inf(1)
		} else {
			want = math.Pow(2, float64(exp-15)) * (1 + m/1024)
		}
		if h&0x8000 != 0 {
			want = -want
		}
		if float64(f) != want {
			t.Fatalf("%#04x = %g, want %g", h, f, want)
		}
	}
}

// The q8_0 bytes equal gguf-py's Q8_0.quantize_blocks run in numpy on the
// same input (an all-zero block, a block with exact .5 ties, a scaled one).
func TestQuantizeQ8MatchesGGUFPy(t *testing.T) {
	n := 32 * 64
	x := make([]float32, n)
	for i := range x {
		x[i] = float32((i*7919)%2001-1000) / float32(37000)
	}
	for i := 0; i < 32; i++ {
		x[i] = 0
		x[32+i] = float32(i - 16)
		x[64+i] *= 1000
	}
	q := quantizeQ8(nil, x)
	sum := sha256.Sum256(q)
	if got := hex.EncodeToString(sum[:]); got != "290d86906ab52ad89f4c2e3226007a550c145795384938e54005ff46e0e27b28" || len(q) != 2176 {
		t.Errorf("q8_0 of %d values: %d bytes, sha256 %s; gguf-py gives 2176 bytes, 290d8690...", n, len(q), got)
	}
	if got := hex.EncodeToString(q[34:68]); got != "083081899199a1a9b1b9c0c8d0d8e0e8f0f8000810182028303840474f575f676f77" {
		t.Errorf("block 1 = %s", got)
	}
	// Dequantised values are within half a step of the input, plus the
	// scale's fp16 rounding (relative 2^-11) times up to 127 steps.
	back := make([]float32, n)
	dequantizeQ8(back, q)
	for b := 0; b < n; b += 32 {
		var amax float64
		for _, v := range x[b : b+32] {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		for i := b; i < b+32; i++ {
			if d := math.Abs(float64(back[i] - x[i])); d > amax/127*(0.5+127.0/2048)+1e-12 {
				t.Fatalf("value %d: %g -> %g", i, x[i], back[i])
			}
		}
	}
}

func BenchmarkQuantizeQ8(b *testing.B) {
	x := make([]float32, 768*3072)
	for i := range x {
		x[i] = float32(i%977) / 977
	}
	buf := make([]byte, 0, len(x)/32*34)
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		buf = quantizeQ8(buf[:0], x)
	}
}
