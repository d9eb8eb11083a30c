package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/llmtune/llmtune/internal/anonymize"
	"github.com/llmtune/llmtune/internal/atomicfile"
	"github.com/llmtune/llmtune/internal/canary"
	"github.com/llmtune/llmtune/internal/version"
)

// PrepareOptions are the settings of `llmtune prepare`.
type PrepareOptions struct {
	Inputs      []string    `json:"inputs"`
	Out         string      `json:"-"`
	Read        ReadOptions `json:"fields"`
	Val         float64     `json:"val"`
	Test        float64     `json:"test"`
	Seed        int64       `json:"seed"`
	OnBadRecord string      `json:"on_bad_record"` // skip (default) or fail
	Anonymize   bool        `json:"anonymize"`
	Policy      string      `json:"policy,omitempty"`
	// ExtraTrain records are added to the training split only (canaries).
	ExtraTrain []Record `json:"-"`
	// Canaries, when set, are written to canaries.json (see AddCanaries).
	Canaries []canary.Canary `json:"-"`
}

// Splits, in the order they are written.
var Splits = []string{"train", "val", "test"}

// Manifest is manifest.json: enough to know what went in and what came out,
// never record content.
type Manifest struct {
	Tool       string           `json:"tool"`
	Version    string           `json:"version"`
	Kind       string           `json:"kind"`
	Inputs     []Input          `json:"inputs"`
	Options    PrepareOptions   `json:"options"`
	SplitRule  string           `json:"split_rule"`
	Counts     map[string]int64 `json:"counts"`
	Records    int64            `json:"records"`
	Duplicates int64            `json:"duplicates_dropped"`
	BadRecords int64            `json:"bad_records_skipped"`
	BadList    []BadRecord      `json:"bad_records,omitempty"`
	ExtraTrain int              `json:"extra_train_records,omitempty"`
	Anonymized bool             `json:"anonymized"`
	Entities   map[string]int64 `json:"entities_replaced,omitempty"`
}

// AnonymizationReport is anonymization.json: counts by entity type per
// input, never the values.
type AnonymizationReport struct {
	Enabled bool                        `json:"enabled"`
	Inputs  map[string]map[string]int64 `json:"inputs"`
	Total   map[string]int64            `json:"total"`
}

const maxListedBad = 1000

// batchSize records travel together from the reader to the writer goroutine.
const batchSize = 64

// errConsumer stops a reader whose records can no longer be written; the
// writer's own error is the one returned.
var errConsumer = errors.New("stopped: writing failed")

// Progress receives the bytes read so far (for a progress bar).
type Progress func(bytesRead int64)

// Prepare reads the inputs, drops exact duplicates, removes personal data,
// assigns every record a split that depends only on the seed and the record
// (or its group), and writes the splits, manifest.json and
// anonymization.json to o.Out in one atomic step. Memory stays bounded: the
// records stream through; only 16-byte hashes of what was seen are kept.
func Prepare(ctx context.Context, o PrepareOptions, eng *anonymize.Engine, progress Progress) (*Manifest, error) {
	if err := o.Read.Validate(); err != nil {
		return nil, err
	}
	if o.Val < 0 || o.Test < 0 || o.Val+o.Test >= 1 {
		return nil, fmt.Errorf("--val %g and --test %g must be non-negative and leave some records for training", o.Val, o.Test)
	}
	if o.OnBadRecord == "" {
		o.OnBadRecord = "skip"
	}
	if o.OnBadRecord != "skip" && o.OnBadRecord != "fail" {
		return nil, fmt.Errorf("--on-bad-record must be skip or fail, not %q", o.OnBadRecord)
	}
	if o.Anonymize && eng == nil {
		return nil, errors.New("anonymization is on but no anonymizer was given")
	}
	files, err := ExpandInputs(o.Inputs)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Tool: "llmtune", Version: version.Version, Kind: kindName(o.Read.Kind()), Options: o,
		Counts: map[string]int64{"train": 0, "val": 0, "test": 0}, Anonymized: o.Anonymize,
		SplitRule: "sha256(seed, group or normalised content) mapped to [0,1): below test -> test, below test+val -> val, else train"}
	report := AnonymizationReport{Enabled: o.Anonymize, Inputs: map[string]map[string]int64{}, Total: map[string]int64{}}
	seen := make(map[[16]byte]struct{})
	var keyBuf []byte // reused by contentKey
	var done int64

	err = atomicfile.ReplaceDir(o.Out, 0o700, func(tmp string) error {
		w, err := newSplitWriters(tmp, o.Read.Kind())
		if err != nil {
			return err
		}
		defer w.abort()
		// A record's fate (dedup, anonymization, split, write) is decided
		// on the goroutine below in input order, while this one parses the
		// next records: two cores at work, the same bytes out.
		consume := func(r Record, counts map[string]int64) error {
			var key [16]byte
			key, keyBuf = contentKey(r, keyBuf)
			if _, dup := seen[key]; dup {
				m.Duplicates++
				return nil
			}
			seen[key] = struct{}{}
			if o.Anonymize {
				anonymizeRecord(eng, &r, counts)
			}
			split := assign(o, r, key)
			m.Counts[split]++
			m.Records++
			return w.write(split, r)
		}
		for _, path := range files {
			in := Input{Path: path}
			counts := map[string]int64{}
			doneBefore := done
			batches := make(chan []Record, 8)
			var werr error
			var failed atomic.Bool
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for batch := range batches {
					for _, r := range batch {
						if werr == nil {
							if werr = consume(r, counts); werr != nil {
								failed.Store(true)
							}
						}
					}
				}
			}()
			batch := make([]Record, 0, batchSize)
			err := ReadFile(ctx, path, o.Read, &in, func(r Record) error {
				if failed.Load() {
					return errConsumer
				}
				batch = append(batch, r)
				if len(batch) == batchSize {
					batches <- batch
					batch = make([]Record, 0, batchSize)
				}
				if progress != nil && in.Records%1024 == 0 {
					progress(doneBefore + in.Bytes)
				}
				return nil
			}, func(b BadRecord) error {
				m.BadRecords++
				if len(m.BadList) < maxListedBad {
					m.BadList = append(m.BadList, b)
				}
				if o.OnBadRecord == "fail" {
					return &BadRecordError{b}
				}
				return nil
			})
			if err == nil && len(batch) > 0 {
				batches <- batch
			}
			close(batches)
			wg.Wait()
			if werr != nil {
				return werr
			}
			done += in.Bytes
			if progress != nil {
				progress(done)
			}
			if err != nil {
				return err
			}
			m.Inputs = append(m.Inputs, in)
			report.Inputs[path] = counts
			for k, v := range counts {
				report.Total[k] += v
			}
		}
		for _, r := range o.ExtraTrain {
			m.Counts["train"]++
			m.ExtraTrain++
			if err := w.write("train", r); err != nil {
				return err
			}
		}
		if m.Records == 0 {
			return fmt.Errorf("no records found in %s", strings.Join(o.Inputs, ", "))
		}
		if err := w.close(); err != nil {
			return err
		}
		if o.Anonymize {
			m.Entities = report.Total
		}
		if len(o.Canaries) > 0 {
			if err := canary.Write(filepath.Join(tmp, canary.File), o.Canaries); err != nil {
				return err
			}
		}
		if err := writeJSON(filepath.Join(tmp, "manifest.json"), m); err != nil {
			return err
		}
		return writeJSON(filepath.Join(tmp, "anonymization.json"), report)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func kindName(k Kind) string {
	switch k {
	case KindPromptCompletion:
		return "prompt_completion"
	case KindChat:
		return "chat"
	}
	return "text"
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// anonymizeRecord replaces personal data in every text field of r, with one
// numbering of tags across the whole record.
func anonymizeRecord(eng *anonymize.Engine, r *Record, counts map[string]int64) {
	doc := eng.NewDocument()
	apply := func(s *string) {
		if *s == "" {
			return
		}
		out, spans := doc.Anonymize(*s)
		*s = out
		for _, sp := range spans {
			counts[sp.Type]++
		}
	}
	apply(&r.Text)
	apply(&r.Prompt)
	apply(&r.Completion)
	for i := range r.Messages {
		apply(&r.Messages[i].Content)
	}
}

// contentKey hashes the record's content after normalising whitespace and
// case: the key for exact de-duplication and, without --group-by, the split.
// The normalised bytes are built in one buffer and hashed once.
func contentKey(r Record, scratch []byte) ([16]byte, []byte) {
	buf := scratch[:0]
	norm := func(s string) {
		space, started := false, false
		for i := 0; i < len(s); {
			c := s[i]
			if c < utf8.RuneSelf {
				i++
				if asciiSpace[c] {
					space = started
					continue
				}
				if space {
					buf = append(buf, ' ')
					space = false
				}
				started = true
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				buf = append(buf, c)
				continue
			}
			r, n := utf8.DecodeRuneInString(s[i:])
			i += n
			if unicode.IsSpace(r) {
				space = started
				continue
			}
			if space {
				buf = append(buf, ' ')
				space = false
			}
			started = true
			buf = utf8.AppendRune(buf, unicode.ToLower(r))
		}
		buf = append(buf, 0)
	}
	norm(r.Text)
	norm(r.Prompt)
	norm(r.Completion)
	for _, msg := range r.Messages {
		norm(msg.Role)
		norm(msg.Content)
	}
	sum := sha256.Sum256(buf)
	var k [16]byte
	copy(k[:], sum[:])
	return k, buf
}

var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// assign maps a record to a split by hashing (seed, key): a pure function,
// so re-running or appending records never moves a record between splits.
func assign(o PrepareOptions, r Record, content [16]byte) string {
	h := sha256.New()
	var seed [8]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(o.Seed))
	h.Write(seed[:])
	if o.Read.GroupBy != "" {
		h.Write([]byte("group\x00" + r.Group))
	} else {
		h.Write(content[:])
	}
	u := float64(binary.BigEndian.Uint64(h.Sum(nil))>>11) / (1 << 53)
	switch {
	case u < o.Test:
		return "test"
	case u < o.Test+o.Val:
		return "val"
	}
	return "train"
}

// SortedKeys is a helper for printing count maps in a stable order.
func SortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
