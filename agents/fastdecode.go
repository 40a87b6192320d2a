package agents

import (
	"bytes"
	"math"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// The quick check also reads arguments straight from their JSON, in one pass
// that validates them against the schema and fills the tool's typed
// arguments as it goes, without decoding them into map[string]any first.
// Like fastCheck.valid it can only say "valid, and here is the value": on
// anything it does not handle — null, a duplicate or escaped key, a lone
// surrogate, invalid UTF-8, a type it cannot fill (an interface, a map, a
// custom unmarshaler) — it reports false and the caller takes the full path
// (encoding/json, the quick check of the decoded value, the JSON Schema
// validator, assign), which has the last word and writes the error. The
// value it fills is the one that path would produce.

// scanner reads one JSON text.
type scanner struct {
	b   []byte
	i   int
	buf []byte // scratch for strings with escapes
}

// decodeJSON checks data against f and, when dst is valid (settable), fills
// it; it reports false when data is not certainly valid or dst cannot be
// filled here, leaving dst partly set.
func (f *fastCheck) decodeJSON(data []byte, dst reflect.Value) bool {
	s := scanner{b: data}
	if !f.decode(&s, dst) {
		return false
	}
	s.space()
	return s.i == len(s.b)
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips white space and returns the next byte, 0 at the end.
func (s *scanner) next() byte {
	s.space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// decodable reports whether values of type t can be filled by decode (or
// assign): no custom unmarshalers. A predeclared type (string, bool, the
// numbers) has no methods, nor has a pointer to one; the answer for any
// other type is kept once found, as encoding/json keeps its decoders.
func decodable(t reflect.Type) bool {
	if t.PkgPath() == "" && t.Name() != "" {
		return true
	}
	if ok, found := decodables.Load(t); found {
		return ok.(bool)
	}
	ok := !t.Implements(unmarshalerType) && !reflect.PointerTo(t).Implements(unmarshalerType) &&
		!t.Implements(textUnmarshalerType) && !reflect.PointerTo(t).Implements(textUnmarshalerType)
	decodables.Store(t, ok)
	return ok
}

// decodables holds decodable's answers by type: a cache of a pure function
// of the type.
var decodables sync.Map

// decode reads one value checked against f into dst (when valid).
func (f *fastCheck) decode(s *scanner, dst reflect.Value) bool {
	if dst.IsValid() {
		t := dst.Type()
		if !decodable(t) {
			return false
		}
		if t.Kind() == reflect.Pointer {
			if s.next() == 'n' {
				return false // null: the full path decides
			}
			p := reflect.New(t.Elem())
			if !f.decode(s, p.Elem()) {
				return false
			}
			dst.Set(p)
			return true
		}
	}
	switch f.types {
	case "object":
		return f.object(s, dst)
	case "array":
		return f.array(s, dst)
	case "string":
		b, ok := s.str()
		if !ok || !f.validString(b) {
			return false
		}
		if dst.IsValid() {
			if dst.Kind() != reflect.String {
				return false
			}
			dst.SetString(string(b))
		}
		return true
	case "number", "integer":
		n, ok := s.number()
		if !ok || f.types == "integer" && n != math.Trunc(n) {
			return false
		}
		if f.min != nil && n < *f.min || f.max != nil && n > *f.max {
			return false
		}
		return !dst.IsValid() || setNumber(dst, n)
	case "boolean":
		var v bool
		switch {
		case s.literal("true"):
			v = true
		case s.literal("false"):
		default:
			return false
		}
		if dst.IsValid() {
			if dst.Kind() != reflect.Bool {
				return false
			}
			dst.SetBool(v)
		}
		return true
	}
	return false
}

func (f *fastCheck) object(s *scanner, dst reflect.Value) bool {
	if len(f.props) > 64 {
		return false
	}
	var fields map[string]int
	if dst.IsValid() {
		if dst.Kind() != reflect.Struct {
			return false
		}
		if fields = fieldsOf(dst.Type()); fields == nil {
			return false
		}
	}
	var seen uint64
	ok := s.members(func(key []byte) bool {
		p, known := f.props[string(key)]
		idx, hasField := fields[string(key)]
		switch {
		case known:
			if seen&p.bit != 0 {
				return false // a duplicate: the full path keeps the last
			}
			seen |= p.bit
			field := reflect.Value{}
			if hasField {
				field = dst.Field(idx)
			}
			return p.decode(s, field)
		case f.closed, hasField:
			return false
		}
		return s.skip(0)
	})
	return ok && seen&f.reqMask == f.reqMask && !f.reqOutside
}

// members reads the object at s.i, calling member with each key, s then at
// its value, which member reads; it reports whether the grammar holds and
// member said yes to each.
func (s *scanner) members(member func(key []byte) bool) bool {
	if s.next() != '{' {
		return false
	}
	s.i++
	if s.next() == '}' {
		s.i++
		return true
	}
	for {
		if s.next() != '"' {
			return false
		}
		key, ok := s.key()
		if !ok || s.next() != ':' {
			return false
		}
		s.i++
		if !member(key) {
			return false
		}
		switch s.next() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (f *fastCheck) array(s *scanner, dst reflect.Value) bool {
	if s.next() != '[' {
		return false
	}
	if dst.IsValid() && (dst.Kind() != reflect.Slice || dst.Type().Elem().Kind() == reflect.Uint8) {
		return false
	}
	// Count the items first, so that the slice is made once.
	start := s.i
	n, ok := s.items(0)
	if !ok || f.minN >= 0 && n < f.minN || f.maxN >= 0 && n > f.maxN {
		return false
	}
	if f.items == nil {
		if dst.IsValid() {
			return false
		}
		return true // items checked by skip
	}
	end := s.i
	s.i = start + 1
	var out reflect.Value
	switch {
	case !dst.IsValid():
	case dst.Len() != 0:
		return false // not the zero value decode fills
	case n == 0:
		out = reflect.MakeSlice(dst.Type(), 0, 0) // empty, not nil
	default:
		// dst is a fresh zero value: growing it in place makes the
		// array alone (MakeSlice would also make the header it points to).
		dst.Grow(n)
		dst.SetLen(n)
		out = dst
	}
	for k := range n {
		if k > 0 {
			if s.next() != ',' {
				return false
			}
			s.i++
		}
		item := reflect.Value{}
		if out.IsValid() {
			item = out.Index(k)
		}
		if !f.items.decode(s, item) {
			return false
		}
	}
	if s.next() != ']' || s.i+1 != end {
		return false
	}
	s.i = end
	if out.IsValid() && n == 0 {
		dst.Set(out)
	}
	return true
}

// items counts the items of the array at s.i, checking their grammar, and
// leaves s after it.
func (s *scanner) items(depth int) (int, bool) {
	s.i++ // '['
	if s.next() == ']' {
		s.i++
		return 0, true
	}
	n := 0
	for {
		if !s.skip(depth + 1) {
			return 0, false
		}
		n++
		switch s.next() {
		case ',':
			s.i++
		case ']':
			s.i++
			return n, true
		default:
			return 0, false
		}
	}
}

// maxSkipDepth bounds the nesting skip follows; deeper goes the full path.
const maxSkipDepth = 64

// skip checks the grammar of the value at s.i and leaves s after it.
func (s *scanner) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	switch s.next() {
	case '{':
		return s.members(func([]byte) bool { return s.skip(depth + 1) })
	case '[':
		_, ok := s.items(depth)
		return ok
	case '"':
		_, ok := s.str()
		return ok
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	_, ok := s.number()
	return ok
}

func (s *scanner) literal(lit string) bool {
	if s.next() == 0 || len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// key reads an object's key; keys with escapes are left to the full path.
func (s *scanner) key() ([]byte, bool) {
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], utf8.Valid(s.b[start:j])
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// str reads the string at s.i (after white space) and returns its value: a
// slice of the input, or of the scratch buffer when it has escapes. Invalid
// UTF-8 and lone surrogates, which encoding/json replaces, go the full path.
func (s *scanner) str() ([]byte, bool) {
	if s.next() != '"' {
		return nil, false
	}
	start := s.i + 1
	j := start
	for ; j < len(s.b); j++ {
		c := s.b[j]
		if c == '"' {
			if !utf8.Valid(s.b[start:j]) {
				return nil, false
			}
			s.i = j + 1
			return s.b[start:j], true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, false
		}
	}
	buf := append(s.buf[:0], s.b[start:j]...)
	for j < len(s.b) {
		c := s.b[j]
		switch {
		case c == '"':
			s.i, s.buf = j+1, buf
			return buf, utf8.Valid(buf)
		case c < 0x20:
			return nil, false
		case c != '\\':
			buf = append(buf, c)
			j++
			continue
		}
		if j+1 >= len(s.b) {
			return nil, false
		}
		j += 2
		switch s.b[j-1] {
		case '"', '\\', '/':
			buf = append(buf, s.b[j-1])
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(s.b, j)
			if !ok {
				return nil, false
			}
			j += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), j+6 <= len(s.b) && s.b[j] == '\\' && s.b[j+1] == 'u'
				if ok {
					r2, ok = hex4(s.b, j+2)
				}
				if r = utf16.DecodeRune(r, r2); !ok || r == utf8.RuneError {
					return nil, false // a lone surrogate
				}
				j += 6
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return nil, false
		}
	}
	return nil, false
}

func hex4(b []byte, j int) (rune, bool) {
	if j+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[j : j+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads a number in JSON's grammar as encoding/json decodes it into
// any: a float64, refused when out of its range.
func (s *scanner) number() (float64, bool) {
	s.space()
	b, start := s.b, s.i
	j := start
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && '1' <= b[j] && b[j] <= '9':
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
	default:
		return 0, false
	}
	digits := func() bool {
		k := j
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
		return j > k
	}
	if j < len(b) && b[j] == '.' {
		j++
		if !digits() {
			return 0, false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if !digits() {
			return 0, false
		}
	}
	s.i = j
	if lit := b[start:j]; len(lit) <= 15 && !slices.ContainsFunc(lit, func(c byte) bool { return c == '.' || c == 'e' || c == 'E' }) {
		// A short integer is exact as a float64: no need to parse it as one.
		var n int64
		for _, c := range bytes.TrimPrefix(lit, []byte("-")) {
			n = n*10 + int64(c-'0')
		}
		if lit[0] == '-' {
			return -float64(n), true // -0 too
		}
		return float64(n), true
	}
	n, err := strconv.ParseFloat(string(b[start:j]), 64)
	return n, err == nil
}

// validString checks a string's value against f's length and enum.
func (f *fastCheck) validString(b []byte) bool {
	if f.minLen >= 0 || f.maxLen >= 0 {
		n := utf8.RuneCount(b)
		if f.minLen >= 0 && n < f.minLen || f.maxLen >= 0 && n > f.maxLen {
			return false
		}
	}
	if f.enum == nil {
		return true
	}
	for _, e := range f.enum {
		if string(b) == e {
			return true
		}
	}
	return false
}

// setNumber sets a numeric dst from n as assign does.
func setNumber(dst reflect.Value, n float64) bool {
	switch dst.Kind() {
	case reflect.Float32, reflect.Float64:
		dst.SetFloat(n)
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n != float64(int64(n)) || dst.OverflowInt(int64(n)) {
			return false
		}
		dst.SetInt(int64(n))
		return true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n < 0 || n != float64(uint64(n)) || dst.OverflowUint(uint64(n)) {
			return false
		}
		dst.SetUint(uint64(n))
		return true
	}
	return false
}
