package agents

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// The arguments of a call are decoded once, into the generic value the
// schema validator checks (map[string]any, []any, string, float64, bool,
// nil); assign then converts that value into the tool's typed arguments
// without parsing the JSON again. Types it does not know how to fill (custom
// unmarshalers, embedded structs, byte slices) make it report false, and the
// caller decodes the raw JSON instead.

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	structFields        sync.Map // reflect.Type → map[string][]int, or nil when not convertible
)

// assign sets dst, which must be settable, from v; it reports false when it
// cannot, leaving dst partly set.
func assign(dst reflect.Value, v any) bool {
	t := dst.Type()
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) ||
		t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return false
	}
	if v == nil {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			dst.SetZero()
			return true
		}
		return true // JSON null leaves other kinds as they are
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if ok {
			dst.SetString(s)
		}
		return ok
	case reflect.Bool:
		b, ok := v.(bool)
		if ok {
			dst.SetBool(b)
		}
		return ok
	case reflect.Float32, reflect.Float64:
		f, ok := v.(float64)
		if ok {
			dst.SetFloat(f)
		}
		return ok
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) || dst.OverflowInt(int64(f)) {
			return false
		}
		dst.SetInt(int64(f))
		return true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f, ok := v.(float64)
		if !ok || f < 0 || f != float64(uint64(f)) || dst.OverflowUint(uint64(f)) {
			return false
		}
		dst.SetUint(uint64(f))
		return true
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return false
		}
		dst.Set(reflect.ValueOf(v))
		return true
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		if !assign(p.Elem(), v) {
			return false
		}
		dst.Set(p)
		return true
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok || t.Elem().Kind() == reflect.Uint8 {
			return false
		}
		s := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			if !assign(s.Index(i), item) {
				return false
			}
		}
		dst.Set(s)
		return true
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			return false
		}
		out := reflect.MakeMapWithSize(t, len(m))
		for k, item := range m {
			e := reflect.New(t.Elem()).Elem()
			if !assign(e, item) {
				return false
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), e)
		}
		dst.Set(out)
		return true
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		fields := fieldsOf(t)
		if fields == nil {
			return false
		}
		for k, item := range m {
			idx, ok := fields[k]
			if !ok {
				continue // unknown names are the schema's to refuse
			}
			if !assign(dst.Field(idx), item) {
				return false
			}
		}
		return true
	}
	return false
}

// fieldsOf maps the JSON names of t's fields to their indexes; nil when t
// has a field assign cannot handle by name (embedded or string-tagged).
func fieldsOf(t reflect.Type) map[string]int {
	if f, ok := structFields.Load(t); ok {
		return f.(map[string]int)
	}
	fields := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			fields = nil
			break
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",string,") {
			fields = nil
			break
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = i
	}
	structFields.Store(t, fields)
	return fields
}
