package train

import (
	"sort"

	"github.com/llmtune/llmtune/internal/safetensors"
)

// writeTensors writes flat float32 buffers to a safetensors file (0600).
func writeTensors(path string, ts map[string][]float32) error {
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	list := make([]safetensors.Tensor, len(names))
	for i, n := range names {
		list[i] = safetensors.Tensor{Name: n, Shape: []int{len(ts[n])}, Data: ts[n]}
	}
	return safetensors.Write(path, 0o600, list, map[string]string{"format": "pt"})
}

// readTensorsInto fills each buffer of dst from the tensor of the same name,
// which must have exactly its length.
func readTensorsInto(path string, dst map[string][]float32) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for name, buf := range dst {
		if err := f.ReadFloat32(name, buf); err != nil {
			return err
		}
	}
	return nil
}

// readTensors reads every tensor of a file (tests).
func readTensors(path string) (map[string][]float32, error) {
	ts, _, err := safetensors.ReadAll(path)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]float32, len(ts))
	for n, t := range ts {
		out[n] = t.Data
	}
	return out, nil
}
