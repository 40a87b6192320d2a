package agents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// typedDecoders decode a protocol tool's arguments both ways, by the quick
// decoder and by the full path (the validator, then assign or
// encoding/json): ok says the quick decoder took them, msg what differs.
var typedDecoders = map[string]func(s *ArgsSchema, raw []byte) (msg string, ok bool){
	ToolAcceptGoal:       decodeBoth[Acceptance],
	ToolDeclineGoal:      decodeBoth[Decline],
	ToolAskClarification: decodeBoth[Clarification],
	ToolEscalate:         decodeBoth[EscalateArgs],
	ToolReportProgress:   decodeBoth[ProgressReport],
	ToolCompleteGoal:     decodeBoth[Report],
	ToolDelegate:         decodeBoth[DelegateArgs],
	ToolJudgeAlignment:   decodeBoth[Alignment],
	ToolAnswerEscalation: decodeBoth[AnswerArgs],
	ToolVerifyReport:     decodeBoth[Verification],
	ToolConsult:          decodeBoth[ConsultArgs],
}

// validated is the oracle the quick paths are held to: encoding/json, then
// the JSON Schema validator alone. It does not go through check, whose own
// quick check would make the oracle share the code it judges.
func validated(s *ArgsSchema, raw []byte) (any, error) {
	var inst any
	if err := json.Unmarshal(orEmpty(raw), &inst); err != nil {
		return nil, err
	}
	if err := s.schema.Validate(inst); err != nil {
		return nil, err
	}
	return inst, nil
}

func decodeBoth[T any](s *ArgsSchema, raw []byte) (string, bool) {
	var quick T
	if _, ok := s.decode(raw, reflect.ValueOf(&quick).Elem()); !ok {
		return "", false
	}
	inst, err := validated(s, raw)
	if err != nil {
		return "the quick decoder accepts it, the validator refuses it: " + err.Error(), true
	}
	var full T
	if !assign(reflect.ValueOf(&full).Elem(), inst) {
		full = *new(T)
		if err := json.Unmarshal(raw, &full); err != nil {
			return "the quick decoder accepts it, encoding/json refuses it: " + err.Error(), true
		}
	}
	if !reflect.DeepEqual(quick, full) {
		return fmt.Sprintf("the quick decoder gives %#v, the full path %#v", quick, full), true
	}
	return "", true
}

// textVariants are JSON texts of the same value as raw, or of values near
// it, written as models may write them: indented, with escapes, with a key
// repeated or in other case, with trailing garbage.
func textVariants(raw []byte) [][]byte {
	var indented bytes.Buffer
	_ = json.Indent(&indented, raw, "", " \t")
	out := [][]byte{raw, indented.Bytes(), append(slices.Clone(raw), " \n"...), append(slices.Clone(raw), "x"...),
		bytes.ReplaceAll(raw, []byte("é"), []byte(`\u00e9`)),
		bytes.ReplaceAll(raw, []byte("x"), []byte(`\u0078`)),
		bytes.ReplaceAll(raw, []byte("a"), []byte(`\ud83d\ude00`)),
		bytes.ReplaceAll(raw, []byte("a"), []byte(`\ud83d`)),
		bytes.ReplaceAll(raw, []byte("a"), []byte("\xff")),
		bytes.ReplaceAll(raw, []byte(`"`), []byte(`\"`)),
		bytes.ReplaceAll(raw, []byte(`1`), []byte(`1.0`)),
		bytes.ReplaceAll(raw, []byte(`1`), []byte(`1e0`)),
		bytes.ReplaceAll(raw, []byte(`0.5`), []byte(`5E-1`)),
		bytes.ReplaceAll(raw, []byte(`:`), []byte(` : `)),
		bytes.ReplaceAll(raw, []byte(`,`), []byte(`,,`)),
		bytes.ReplaceAll(raw, []byte(`true`), []byte(`tru`)),
	}
	if i := bytes.IndexByte(raw, '"'); i >= 0 && len(raw) > i+1 {
		upper := slices.Clone(raw)
		upper[i+1] = bytes.ToUpper(upper[i+1 : i+2])[0]
		out = append(out, upper)
		if j := bytes.IndexByte(raw[i+1:], ','); j >= 0 && raw[0] == '{' {
			// the first member again at the end: a duplicate key
			dup := append(slices.Clone(raw[:len(raw)-1]), ',')
			out = append(out, append(append(dup, raw[i:i+1+j]...), '}'))
		}
	}
	return out
}

// The quick check may only ever be stricter than the full validator: over
// every protocol schema and many mutations of a valid call (each field
// dropped, retyped, emptied, oversized; keys added), nothing it accepts is
// refused by the validator — and a valid call does take the quick path.
func TestFastCheckNeverLooser(t *testing.T) {
	yes := true
	valid := map[string]any{
		ToolAcceptGoal: Acceptance{RestatedIntent: "why", Plan: []string{"a", "b"}, AcknowledgedCriteria: []string{"c"},
			AcknowledgedConstraints: []string{}, Assumptions: []string{"é"}, Confidence: 0.5},
		ToolDeclineGoal:      Decline{Reason: "no", Missing: []string{"x"}, SuggestedAgent: "w"},
		ToolAskClarification: Clarification{Question: "q?", Options: []string{"a", "b"}, Recommendation: "a"},
		ToolEscalate:         EscalateArgs{Kind: KindRisk, Question: "q", Blocking: &yes},
		ToolReportProgress:   ProgressReport{Summary: "s", Percent: 50},
		ToolCompleteGoal: Report{Result: "r", Criteria: []CriterionResult{{Criterion: "c", Met: true, Evidence: "e"}},
			Confidence: 1},
		ToolDelegate: DelegateArgs{Agent: "w", Intent: "i", Objective: "o", Criteria: []string{"c"},
			Budget: &Budget{Steps: 3}},
		ToolJudgeAlignment:   Alignment{Aligned: false, Gaps: []string{"g"}},
		ToolAnswerEscalation: AnswerArgs{Answer: "a"},
		ToolVerifyReport:     Verification{Verdict: VerdictRevise, Unmet: []string{"u"}},
		ToolConsult:          ConsultArgs{Agent: "p", Question: "q"},
	}
	schemas := map[string]func() (json.RawMessage, error){
		ToolAcceptGoal:       func() (json.RawMessage, error) { return SchemaFor[Acceptance](nil) },
		ToolDeclineGoal:      func() (json.RawMessage, error) { return SchemaFor[Decline](nil) },
		ToolAskClarification: func() (json.RawMessage, error) { return SchemaFor[Clarification](nil) },
		ToolEscalate:         func() (json.RawMessage, error) { return SchemaFor[EscalateArgs](nil) },
		ToolReportProgress:   func() (json.RawMessage, error) { return SchemaFor[ProgressReport](nil) },
		ToolCompleteGoal:     func() (json.RawMessage, error) { return SchemaFor[Report](nil) },
		ToolDelegate: func() (json.RawMessage, error) {
			return SchemaFor[DelegateArgs](map[string][]string{"agent": {"w"}, "tools": {"read_file"}})
		},
		ToolJudgeAlignment:   func() (json.RawMessage, error) { return SchemaFor[Alignment](nil) },
		ToolAnswerEscalation: func() (json.RawMessage, error) { return SchemaFor[AnswerArgs](nil) },
		ToolVerifyReport:     func() (json.RawMessage, error) { return SchemaFor[Verification](nil) },
		ToolConsult: func() (json.RawMessage, error) {
			return SchemaFor[ConsultArgs](map[string][]string{"agent": {"p"}})
		},
	}
	long := strings.Repeat("é", MaxLongText+1)
	many := make([]any, MaxItems+1)
	for i := range many {
		many[i] = "x"
	}
	odd := []any{nil, true, false, 0.0, 1.0, 1.5, -1.0, 101.0, "", "x", "w", "risk", "accept", "nope", long,
		strings.Repeat("a", MaxText+1), []any{}, []any{"x"}, []any{1.0}, []any{nil}, many,
		map[string]any{}, map[string]any{"criterion": "c", "met": true}, map[string]any{"criterion": "", "met": true},
		map[string]any{"steps": 2.5}, map[string]any{"steps": -1.0}, map[string]any{"extra": 1.0}}
	for name, schemaOf := range schemas {
		raw, err := schemaOf()
		if err != nil {
			t.Fatal(err)
		}
		s, err := CompileArgsSchema(name, raw)
		if err != nil {
			t.Fatal(err)
		}
		if s.fast == nil {
			t.Errorf("%s: no quick check for a generated schema", name)
			continue
		}
		b, _ := json.Marshal(valid[name])
		var base map[string]any
		if err := json.Unmarshal(b, &base); err != nil {
			t.Fatal(err)
		}
		if !s.fast.valid(base) {
			t.Errorf("%s: the quick check refuses a valid call %s", name, b)
		}
		decode := typedDecoders[name]
		if _, ok := decode(s, b); !ok {
			t.Errorf("%s: the quick decoder refuses a valid call %s", name, b)
		}
		checkText := func(text []byte) {
			if _, ok := s.decode(text, reflect.Value{}); ok {
				if _, err := validated(s, text); err != nil {
					t.Errorf("%s: the quick decoder accepts %s, the validator refuses it: %v", name, text, err)
				}
			}
			if msg, ok := decode(s, text); ok && msg != "" {
				t.Errorf("%s: %s: %s", name, text, msg)
			}
		}
		check := func(v any) {
			if s.fast.valid(v) {
				if err := s.schema.Validate(v); err != nil {
					got, _ := json.Marshal(v)
					t.Errorf("%s: the quick check accepts %s, the validator refuses it: %v", name, got, err)
				}
			}
			raw, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			for _, text := range textVariants(raw) {
				checkText(text)
			}
		}
		check(nil)
		check([]any{base})
		keys := slices.Sorted(maps.Keys(base))
		var props map[string]any
		_ = json.Unmarshal(raw, &map[string]any{"properties": &props})
		for k := range props {
			keys = append(keys, k)
		}
		keys = append(keys, "unknown_field")
		for _, k := range keys {
			m := maps.Clone(base)
			delete(m, k)
			check(m)
			for _, v := range odd {
				m := maps.Clone(base)
				m[k] = v
				check(m)
				// k written twice, the odd value first or last: the
				// validator sees the last
				if orig, ok := base[k]; ok {
					for _, pair := range [][2]any{{v, orig}, {orig, v}} {
						first, _ := json.Marshal(pair[0])
						last, _ := json.Marshal(pair[1])
						rest, _ := json.Marshal(m)
						key, _ := json.Marshal(k)
						text := fmt.Appendf(nil, "{%s:%s,%s", key, first, rest[1:])
						text = fmt.Appendf(text[:len(text)-1], ",%s:%s}", key, last)
						checkText(text)
					}
				}
				// and one level down, in the first item of a list of objects
				if items, ok := base[k].([]any); ok && len(items) > 0 {
					if obj, ok := items[0].(map[string]any); ok {
						for ik := range obj {
							o := maps.Clone(obj)
							o[ik] = v
							m := maps.Clone(base)
							m[k] = []any{o}
							check(m)
						}
					}
				}
			}
		}
	}
}

// Schemas with keywords the quick check does not know get none.
func TestFastCheckOnlyKnownKeywords(t *testing.T) {
	for _, s := range []string{
		`{"type":"object","properties":{"a":{"type":"string","pattern":"^x"}}}`,
		`{"type":"object","properties":{"a":{"type":["string","null"]}}}`,
		`{"type":"object","additionalProperties":{"type":"string"}}`,
		`{"type":"object","properties":{"a":{"$ref":"#/$defs/x"}}}`,
		`{"properties":{"a":{"type":"string"}}}`,
		`{"type":"object","properties":{"a":{"type":"string","format":"email"}}}`,
		`{"type":"object","properties":{"a":{"enum":[1,2]}}}`,
	} {
		if compileFast(json.RawMessage(s)) != nil {
			t.Errorf("a quick check for %s", s)
		}
	}
}

// FuzzFastDecode: whatever the quick decoder takes, the validator accepts,
// and it decodes to the value the full path gives.
func FuzzFastDecode(f *testing.F) {
	report, err := SchemaFor[Report](nil)
	if err != nil {
		f.Fatal(err)
	}
	delegate, err := SchemaFor[DelegateArgs](map[string][]string{"agent": {"w"}, "tools": {"read_file"}})
	if err != nil {
		f.Fatal(err)
	}
	rs, err := CompileArgsSchema(ToolCompleteGoal, report)
	if err != nil {
		f.Fatal(err)
	}
	ds, err := CompileArgsSchema(ToolDelegate, delegate)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"result":"r","criteria":[{"criterion":"c","met":true,"evidence":"e\n\u00e9","cites":["a.md"]}],"confidence":0.5}`))
	f.Add([]byte(`{"agent":"w","intent":"i","objective":"o","criteria":["c"],"budget":{"steps":3},"checks":[{"kind":"file_exists","path":"a"}]}`))
	f.Add([]byte(` { "result" : "\ud83d\ude00" , "criteria" : [ ] } `))
	f.Add([]byte(`{"agent":"w","intent":"i","objective":"o","criteria":[],"budget":{"steps":1.0,"tokens":1e3}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		for name, s := range map[string]*ArgsSchema{ToolCompleteGoal: rs, ToolDelegate: ds} {
			if _, ok := s.decode(raw, reflect.Value{}); ok {
				if _, err := validated(s, raw); err != nil {
					t.Fatalf("%s: the quick decoder accepts %q, the validator refuses it: %v", name, raw, err)
				}
			}
			if msg, _ := typedDecoders[name](s, raw); msg != "" {
				t.Fatalf("%s: %q: %s", name, raw, msg)
			}
		}
	})
}

type textKind string

func (k *textKind) UnmarshalText(b []byte) error { *k = textKind(b); return nil }

type plainKind string

type wrapsTime struct{ time.Time }

// decodable's answers, kept by type, are the same asked again, and a type
// with an unmarshaler on its value or its pointer is never filled here.
func TestDecodable(t *testing.T) {
	for range 2 {
		for typ, want := range map[reflect.Type]bool{
			reflect.TypeFor[string]():     true,
			reflect.TypeFor[float64]():    true,
			reflect.TypeFor[[]string]():   true,
			reflect.TypeFor[plainKind]():  true,
			reflect.TypeFor[Acceptance](): true,
			reflect.TypeFor[time.Time]():  false,
			reflect.TypeFor[textKind]():   false,
			reflect.TypeFor[wrapsTime]():  false,
			reflect.TypeFor[*textKind]():  false,
		} {
			if got := decodable(typ); got != want {
				t.Errorf("decodable(%v) = %v, want %v", typ, got, want)
			}
		}
	}
}
