package train

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/llmtune/llmtune/internal/atomicfile"
)

// TEMPORARY until internal/safetensors lands: flat F32 tensors in safetensors layout.
func writeTensors(path string, ts map[string][]float32) error {
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	hdr := map[string]any{}
	off := 0
	for _, n := range names {
		sz := 4 * len(ts[n])
		hdr[n] = map[string]any{"dtype": "F32", "shape": []int{len(ts[n])}, "data_offsets": []int{off, off + sz}}
		off += sz
	}
	h, _ := json.Marshal(hdr)
	return atomicfile.WriteWith(path, 0o600, func(w io.Writer) error {
		var l [8]byte
		binary.LittleEndian.PutUint64(l[:], uint64(len(h)))
		if _, err := w.Write(append(l[:], h...)); err != nil {
			return err
		}
		buf := make([]byte, 4<<20)
		for _, n := range names {
			x := ts[n]
			for lo := 0; lo < len(x); lo += len(buf) / 4 {
				hi := min(lo+len(buf)/4, len(x))
				for i, v := range x[lo:hi] {
					binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
				}
				if _, err := w.Write(buf[:4*(hi-lo)]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func readTensors(path string) (map[string][]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("%s: too short", path)
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("%s: header length %d past the end", path, n)
	}
	var hdr map[string]struct {
		Dtype   string `json:"dtype"`
		Offsets []int  `json:"data_offsets"`
	}
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data := b[8+n:]
	out := map[string][]float32{}
	for name, t := range hdr {
		if name == "__metadata__" {
			continue
		}
		if t.Dtype != "F32" || len(t.Offsets) != 2 || t.Offsets[0] < 0 || t.Offsets[1] > len(data) || t.Offsets[0] > t.Offsets[1] || (t.Offsets[1]-t.Offsets[0])%4 != 0 {
			return nil, fmt.Errorf("%s: tensor %q: bad dtype or offsets", path, name)
		}
		raw := data[t.Offsets[0]:t.Offsets[1]]
		x := make([]float32, len(raw)/4)
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		out[name] = x
	}
	return out, nil
}
