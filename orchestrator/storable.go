package orchestrator

import (
	"encoding/json"
	"unicode/utf8"
)

// maxArgsDepth bounds the nesting of arguments the journal embeds as JSON;
// JSON readers refuse deep nesting (encoding/json at 10,000 levels).
const maxArgsDepth = 64

// storable reports whether args can be embedded in the journal as they are:
// empty, or valid JSON (as json.Valid has it) in valid UTF-8, with arrays
// and objects nested at most maxArgsDepth deep. It reads args once; every
// model call's arguments pass through it. FuzzStorable pins it to
// utf8.Valid, json.Valid and the depth.
func storable(args json.RawMessage) bool {
	if len(args) == 0 {
		return true
	}
	s := jsonCheck{b: args}
	s.space()
	if !s.value(0) {
		return false
	}
	s.space()
	return s.i == len(s.b)
}

// jsonCheck reads JSON text b from i, checking its grammar.
type jsonCheck struct {
	b []byte
	i int
}

func (s *jsonCheck) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value reads one value inside depth arrays and objects.
func (s *jsonCheck) value(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; c {
	case '"':
		return s.str()
	case '{':
		return s.object(depth + 1)
	case '[':
		return s.array(depth + 1)
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return s.number()
		}
		return false
	}
}

func (s *jsonCheck) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// object reads an object, the depth-th level of nesting.
func (s *jsonCheck) object(depth int) bool {
	if depth > maxArgsDepth {
		return false
	}
	s.i++ // {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' || !s.str() {
			return false
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.space()
		if !s.value(depth) {
			return false
		}
		if end, ok := s.next('}'); end || !ok {
			return ok
		}
	}
}

// array reads an array, the depth-th level of nesting.
func (s *jsonCheck) array(depth int) bool {
	if depth > maxArgsDepth {
		return false
	}
	s.i++ // [
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	for {
		if !s.value(depth) {
			return false
		}
		if end, ok := s.next(']'); end || !ok {
			return ok
		}
	}
}

// next reads what follows a member of an object or an array: a comma (more
// follows: ok, not end) or its close (ok and end).
func (s *jsonCheck) next(close byte) (end, ok bool) {
	s.space()
	if s.i >= len(s.b) {
		return false, false
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		s.space()
		return false, true
	case close:
		s.i++
		return true, true
	}
	return false, false
}

// str reads a string: no control character, known escapes, valid UTF-8.
func (s *jsonCheck) str() bool {
	s.i++ // "
	start, ascii := s.i, true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			ok := ascii || utf8.Valid(s.b[start:s.i])
			s.i++
			return ok
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if len(s.b)-s.i < 6 {
					return false
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !isHex(h) {
						return false
					}
				}
				s.i += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		default:
			ascii = ascii && c < utf8.RuneSelf
			s.i++
		}
	}
	return false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *jsonCheck) number() bool {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i >= len(s.b):
		return false
	case s.b[s.i] == '0':
		s.i++
	case s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

// digits reads [0-9]* and returns how many.
func (s *jsonCheck) digits() int {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}
