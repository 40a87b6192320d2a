package agents

import (
	"encoding/json"
	"math"
	"unicode/utf8"
)

// fastCheck is a quick check of arguments against the simple schemas the
// runtime generates (flat objects of strings, numbers, booleans and arrays,
// with required, enum, length, count and range bounds). It only ever says
// "valid": a value it does not accept, or a schema with any keyword it does
// not know, goes to the full validator, which has the last word and writes
// the error. So it can make a check faster, never looser.
type fastCheck struct {
	types          string // "object", "array", "string", "number", "integer", "boolean"
	props          map[string]*fastCheck
	required       []string
	closed         bool // additionalProperties: false
	items          *fastCheck
	enum           []string
	minLen, maxLen int // in code points; -1: unbounded
	minN, maxN     int // items; -1: unbounded
	min, max       *float64
	// bit is this property's bit among its object's properties; reqMask
	// holds the bits of the required ones, and reqOutside says one required
	// is not among them (decodeJSON leaves such objects to the full path).
	bit        uint64
	reqMask    uint64
	reqOutside bool
}

// compileFast returns the quick check of schema, or nil when schema uses
// anything it does not know.
func compileFast(schema json.RawMessage) *fastCheck {
	var s map[string]any
	if err := json.Unmarshal(schema, &s); err != nil {
		return nil
	}
	return fastOf(s)
}

func fastOf(s map[string]any) *fastCheck {
	f := &fastCheck{minLen: -1, maxLen: -1, minN: -1, maxN: -1}
	count := func(v any) (int, bool) {
		n, ok := v.(float64)
		if !ok || n < 0 || n != math.Trunc(n) || n > math.MaxInt32 {
			return 0, false
		}
		return int(n), true
	}
	for k, v := range s {
		ok := true
		switch k {
		case "description", "title", "$schema", "$id", "examples", "default":
		case "type":
			f.types, ok = v.(string)
		case "properties":
			m, isMap := v.(map[string]any)
			ok = isMap
			f.props = map[string]*fastCheck{}
			for name, p := range m {
				ps, isMap := p.(map[string]any)
				if !isMap {
					return nil
				}
				if f.props[name] = fastOf(ps); f.props[name] == nil {
					return nil
				}
			}
		case "required":
			list, isList := v.([]any)
			ok = isList
			for _, r := range list {
				name, isStr := r.(string)
				if !isStr {
					return nil
				}
				f.required = append(f.required, name)
			}
		case "additionalProperties":
			b, isBool := v.(bool)
			ok = isBool && !b
			f.closed = true
		case "items":
			m, isMap := v.(map[string]any)
			if ok = isMap; ok {
				f.items = fastOf(m)
				ok = f.items != nil
			}
		case "enum":
			list, isList := v.([]any)
			ok = isList
			for _, e := range list {
				str, isStr := e.(string)
				if !isStr {
					return nil
				}
				f.enum = append(f.enum, str)
			}
		case "minLength":
			f.minLen, ok = count(v)
		case "maxLength":
			f.maxLen, ok = count(v)
		case "minItems":
			f.minN, ok = count(v)
		case "maxItems":
			f.maxN, ok = count(v)
		case "minimum":
			n, isNum := v.(float64)
			f.min, ok = &n, isNum
		case "maximum":
			n, isNum := v.(float64)
			f.max, ok = &n, isNum
		default:
			return nil
		}
		if !ok {
			return nil
		}
	}
	switch f.types {
	case "object", "array", "string", "number", "integer", "boolean":
	default:
		return nil // no type, or a type it does not know
	}
	if f.enum != nil && f.types != "string" {
		return nil
	}
	i := 0
	for _, p := range f.props {
		if i < 64 {
			p.bit = 1 << i
		}
		i++
	}
	for _, r := range f.required {
		if p, ok := f.props[r]; ok {
			f.reqMask |= p.bit
		} else {
			f.reqOutside = true
		}
	}
	return f
}

// valid reports whether v, as encoding/json decodes into any, certainly
// matches the schema.
func (f *fastCheck) valid(v any) bool {
	switch f.types {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for _, r := range f.required {
			if _, ok := m[r]; !ok {
				return false
			}
		}
		for k, e := range m {
			p, ok := f.props[k]
			switch {
			case ok:
				if !p.valid(e) {
					return false
				}
			case f.closed:
				return false
			}
		}
		return true
	case "array":
		a, ok := v.([]any)
		if !ok || f.minN >= 0 && len(a) < f.minN || f.maxN >= 0 && len(a) > f.maxN {
			return false
		}
		if f.items != nil {
			for _, e := range a {
				if !f.items.valid(e) {
					return false
				}
			}
		}
		return true
	case "string":
		s, ok := v.(string)
		if !ok {
			return false
		}
		if f.minLen >= 0 || f.maxLen >= 0 {
			n := utf8.RuneCountInString(s)
			if f.minLen >= 0 && n < f.minLen || f.maxLen >= 0 && n > f.maxLen {
				return false
			}
		}
		if f.enum != nil {
			for _, e := range f.enum {
				if s == e {
					return true
				}
			}
			return false
		}
		return true
	case "number", "integer":
		n, ok := v.(float64)
		if !ok || f.types == "integer" && n != math.Trunc(n) {
			return false
		}
		return (f.min == nil || n >= *f.min) && (f.max == nil || n <= *f.max)
	case "boolean":
		_, ok := v.(bool)
		return ok
	}
	return false
}
