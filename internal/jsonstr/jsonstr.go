// Package jsonstr rewrites the string values of a JSON document, for the
// runtime's clipping of long arguments and the eval scripts' placeholders.
package jsonstr

import "encoding/json"

// Map returns raw with f applied to every string value (object keys are left
// alone), and whether any string changed; raw is returned as is when nothing
// changed or it is not JSON (ok false, err set).
func Map(raw json.RawMessage, f func(string) string) (out json.RawMessage, changed bool, err error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return raw, false, err
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case string:
			if y := f(x); y != x {
				changed = true
				return y
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		case map[string]any:
			for k := range x {
				x[k] = walk(x[k])
			}
		}
		return v
	}
	v = walk(v)
	if !changed {
		return raw, false, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return raw, false, err
	}
	return b, true, nil
}
