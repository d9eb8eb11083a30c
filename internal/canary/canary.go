// Package canary makes the secrets of the privacy audit (Carlini et al.
// 2019, "The Secret Sharer"): random values in realistic formats, inserted
// into the training split only, whose exposure after training measures how
// much the model memorised. A format defines its randomness space R, so the
// audit can rank a canary against other candidates from the same space.
package canary

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/llmtune/llmtune/internal/atomicfile"
)

// Format is a kind of secret and the sentence it is planted in.
type Format struct {
	Name string
	// Log2Space is log2 of the number of possible secrets, |R|.
	Log2Space float64
	// Random draws a secret uniformly from the space.
	Random func(r *rand.Rand) string
	// Prefix is the text before the secret; the audit scores the secret's
	// tokens given this prefix.
	Prefix string
}

// Formats lists the built-in formats.
func Formats() []Format {
	return []Format{
		{Name: "aadhaar", Log2Space: math.Log2(8) + 10*math.Log2(10), Random: randomAadhaar,
			Prefix: "The Aadhaar number of the account holder is "},
		{Name: "account", Log2Space: 12 * math.Log2(10), Random: func(r *rand.Rand) string { return digits(r, 12) },
			Prefix: "Please credit the refund to bank account number "},
		{Name: "phone", Log2Space: math.Log2(4) + 9*math.Log2(10), Random: func(r *rand.Rand) string { return string(rune('6'+r.IntN(4))) + digits(r, 9) },
			Prefix: "For verification call the registered mobile number "},
	}
}

// FormatByName finds a format.
func FormatByName(name string) (Format, bool) {
	for _, f := range Formats() {
		if f.Name == name {
			return f, true
		}
	}
	return Format{}, false
}

func digits(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	return b.String()
}

// randomAadhaar draws 11 digits (the first 2-9) and appends the Verhoeff
// check digit, as real Aadhaar numbers have.
func randomAadhaar(r *rand.Rand) string {
	d := string(rune('2'+r.IntN(8))) + digits(r, 10)
	return d + string(rune('0'+VerhoeffCheck(d)))
}

var (
	vD   = [10][10]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5}, {2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7}, {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1}, {6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3}, {8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}}
	vP   = [8][10]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4}, {5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7}, {9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1}, {2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8}}
	vInv = [10]int{0, 4, 3, 2, 1, 5, 6, 7, 8, 9}
)

// VerhoeffCheck returns the check digit to append to the decimal string s.
func VerhoeffCheck(s string) int {
	c := 0
	for i := 0; i < len(s); i++ {
		c = vD[c][vP[(i+1)%8][int(s[len(s)-1-i]-'0')]]
	}
	return vInv[c]
}

// VerhoeffValid reports whether s ends in its correct check digit.
func VerhoeffValid(s string) bool {
	c := 0
	for i := 0; i < len(s); i++ {
		c = vD[c][vP[i%8][int(s[len(s)-1-i]-'0')]]
	}
	return c == 0
}

// Canary is one planted secret.
type Canary struct {
	ID      string `json:"id"`
	Format  string `json:"format"`
	Secret  string `json:"secret"`
	Text    string `json:"text"`
	Repeats int    `json:"repeats"`
}

// Generate makes n canaries cycling through the formats, each to be
// inserted repeats times. The same seed gives the same canaries.
func Generate(n, repeats int, seed int64) []Canary {
	r := rand.New(rand.NewPCG(uint64(seed), 0xca7a11e5))
	fs := Formats()
	out := make([]Canary, n)
	for i := range out {
		f := fs[i%len(fs)]
		s := f.Random(r)
		out[i] = Canary{ID: fmt.Sprintf("canary-%03d", i), Format: f.Name, Secret: s, Text: f.Prefix + s + ".", Repeats: repeats}
	}
	return out
}

// ParseSpec reads "N" or "N,repeats" (repeats default 1).
func ParseSpec(spec string) (n, repeats int, err error) {
	repeats = 1
	parts := strings.Split(spec, ",")
	if len(parts) > 2 {
		return 0, 0, fmt.Errorf("--canaries %q: want N or N,repeats", spec)
	}
	if _, err := fmt.Sscan(parts[0], &n); err != nil || n < 0 {
		return 0, 0, fmt.Errorf("--canaries %q: N must be a non-negative number", spec)
	}
	if len(parts) == 2 {
		if _, err := fmt.Sscan(parts[1], &repeats); err != nil || repeats < 1 {
			return 0, 0, fmt.Errorf("--canaries %q: repeats must be at least 1", spec)
		}
	}
	return n, repeats, nil
}

// File is the name of the canary list beside manifest.json.
const File = "canaries.json"

// Write saves canaries (secrets: mode 0600) atomically.
func Write(path string, cs []Canary) error {
	b, err := json.MarshalIndent(cs, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o600)
}

// Read loads a canary list.
func Read(path string) ([]Canary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cs []Canary
	if err := json.Unmarshal(b, &cs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cs, nil
}
