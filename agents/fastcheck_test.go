package agents

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

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
		check := func(v any) {
			if s.fast.valid(v) {
				if err := s.schema.Validate(v); err != nil {
					got, _ := json.Marshal(v)
					t.Errorf("%s: the quick check accepts %s, the validator refuses it: %v", name, got, err)
				}
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
