package tokenize

import "unicode/utf8"

// TextStream turns ids into text as they are generated. A token may end in
// the middle of a UTF-8 character (emoji, Indian scripts, CJK); those bytes
// are held back until the character is complete, so every piece printed is
// whole text.
type TextStream struct {
	t       *Tokenizer
	pending []byte
}

// NewTextStream starts an empty stream.
func (t *Tokenizer) NewTextStream() *TextStream { return &TextStream{t: t} }

// Add appends one token and returns the text that is now complete (maybe "").
func (s *TextStream) Add(id int32) string {
	if b := s.t.TokenBytes(id); b != nil {
		s.pending = append(s.pending, b...)
	} else {
		s.pending = utf8.AppendRune(s.pending, utf8.RuneError)
	}
	cut := len(s.pending)
	for k := 1; k <= 3 && k <= len(s.pending); k++ {
		b := s.pending[len(s.pending)-k]
		if b < utf8.RuneSelf {
			break
		}
		if utf8.RuneStart(b) {
			if !utf8.FullRune(s.pending[len(s.pending)-k:]) {
				cut = len(s.pending) - k
			}
			break
		}
	}
	out := string(s.pending[:cut])
	s.pending = append(s.pending[:0], s.pending[cut:]...)
	return out
}

// Flush returns whatever is held back (an unfinished character at the end
// of generation), as raw bytes.
func (s *TextStream) Flush() string {
	out := string(s.pending)
	s.pending = s.pending[:0]
	return out
}
