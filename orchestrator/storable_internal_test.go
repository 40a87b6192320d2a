package orchestrator

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// storableRef is what storable says, as first written: three passes.
func storableRef(args []byte) bool {
	return len(args) == 0 || (utf8.Valid(args) && json.Valid(args) && depthRef(args) <= maxArgsDepth)
}

// depthRef returns how deep arrays and objects nest in valid JSON b.
func depthRef(b []byte) int {
	depth, deepest := 0, 0
	var str jsonStrings
	for _, c := range b {
		if !str.outside(c) {
			continue
		}
		switch c {
		case '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ']', '}':
			depth--
		}
	}
	return deepest
}

// storableCases are the seeds of FuzzStorable and the cases of
// TestStorable: valid and invalid JSON of every kind, at the depth bound.
func storableCases() []string {
	deep := func(n int, open, close string) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	return []string{
		``, ` `, `{}`, `[]`, ` { } `, `{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":1 "b":2}`, `[1,2,3]`, `[1,,2]`, `[1,]`, `[,]`,
		`"x"`, `"`, `"\"`, `"\\"`, `"\u00e9"`, `"\u00G9"`, `"\u00e"`, `"\ud800"`, `"\x"`, `"\/\b\f\n\r\t"`, "\"a\tb\"", "\"a\x1fb\"", "\"a\x7fb\"",
		"\"é\"", "\"\xff\"", "\"\xed\xa0\x80\"", "\"\xf0\x9f\x98\x80\"", "\xef\xbb\xbf{}", "{}\xff", "{\"\xc3\":1}",
		`0`, `-0`, `01`, `-`, `1.`, `.5`, `1.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-1.5e-3`, `1.5e3.2`, `+1`, `0x10`, `1 2`, `NaN`, `Infinity`,
		`true`, `false`, `null`, `tru`, `nulll`, `True`, `[true,false,null]`, `{"a":[{"b":[null]}]}`, "\t\n\r [1]\r\n",
		deep(maxArgsDepth, "[", "]"), deep(maxArgsDepth+1, "[", "]"), deep(maxArgsDepth-1, `{"a":`, "}") + "", strings.Repeat(`{"a":`, maxArgsDepth) + "1" + strings.Repeat("}", maxArgsDepth),
		strings.Repeat(`{"a":`, maxArgsDepth+1) + "1" + strings.Repeat("}", maxArgsDepth+1), deep(20000, "[", "]"),
		`{"path":"notes.md","content":"# Title\n\nSome \"quoted\" text — with unicode ✓ and \\ backslashes"}`,
		`{"a":"}"}`, `{"a":"]"}`, `["[[[["]`, `{"a":1}}`, `[1]]`, `{"a":1`, `[1`,
	}
}

func TestStorable(t *testing.T) {
	for _, c := range storableCases() {
		if got, want := storable([]byte(c)), storableRef([]byte(c)); got != want {
			t.Errorf("storable(%.80q) = %v, want %v", c, got, want)
		}
	}
}

func FuzzStorable(f *testing.F) {
	for _, c := range storableCases() {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := storable(b), storableRef(b); got != want {
			t.Fatalf("storable(%q) = %v, want %v", b, got, want)
		}
	})
}
