package agents

import "github.com/invopop/jsonschema"

// Bounds on the arguments of the protocol tools, written into their schemas
// (maxLength, maxItems) and enforced by the validation that runs before any
// act: an oversized act is an argument error returned to the model, so no
// delegate can bloat an acceptance or a report until its delegator cannot
// judge it. The definitions shown to models leave the bounds out: they would
// cost tokens on every turn, and the error says what to cut.
const (
	// MaxText bounds a free-text field, in characters.
	MaxText = 4000
	// MaxLongText bounds a report's result and the context handed over
	// with a delegation or a consultation.
	MaxLongText = 16000
	// MaxItem bounds one entry of a list of strings.
	MaxItem = 1000
	// MaxItems bounds a list: plan steps, acknowledgements, criteria,
	// options, gaps…
	MaxItems = 32
)

// bound writes the limits above into s, a protocol type's schema, for every
// property that sets none itself; the properties named in long get
// MaxLongText.
func bound(s *jsonschema.Schema, long ...string) {
	if s == nil || s.Properties == nil {
		return
	}
	set := func(p **uint64, n uint64) {
		if *p == nil {
			*p = &n
		}
	}
	for pair := s.Properties.Oldest(); pair != nil; pair = pair.Next() {
		p := pair.Value
		switch p.Type {
		case "string":
			n := uint64(MaxText)
			for _, l := range long {
				if l == pair.Key {
					n = MaxLongText
				}
			}
			set(&p.MaxLength, n)
		case "array":
			set(&p.MaxItems, MaxItems)
			if p.Items != nil && p.Items.Type == "string" {
				set(&p.Items.MaxLength, MaxItem)
			}
		}
	}
}

// JSONSchemaExtend bounds accept_goal's arguments.
func (Acceptance) JSONSchemaExtend(s *jsonschema.Schema) { bound(s) }

// JSONSchemaExtend bounds decline_goal's arguments.
func (Decline) JSONSchemaExtend(s *jsonschema.Schema) { bound(s) }

// JSONSchemaExtend bounds ask_clarification's arguments.
func (Clarification) JSONSchemaExtend(s *jsonschema.Schema) { bound(s) }

// JSONSchemaExtend bounds escalate's arguments.
func (EscalateArgs) JSONSchemaExtend(s *jsonschema.Schema) { bound(s) }

// JSONSchemaExtend bounds answer_escalation's arguments.
func (AnswerArgs) JSONSchemaExtend(s *jsonschema.Schema) { bound(s) }

// JSONSchemaExtend bounds consult's arguments.
func (ConsultArgs) JSONSchemaExtend(s *jsonschema.Schema) { bound(s, "context") }

// JSONSchemaExtend bounds report_progress's arguments.
func (ProgressReport) JSONSchemaExtend(s *jsonschema.Schema) { bound(s) }

// JSONSchemaExtend bounds one criterion of a report.
func (CriterionResult) JSONSchemaExtend(s *jsonschema.Schema) { bound(s) }

// JSONSchemaExtend bounds one constraint of a report.
func (ConstraintResult) JSONSchemaExtend(s *jsonschema.Schema) { bound(s) }

// JSONSchemaExtend bounds one accepted breach of a verification.
func (AcceptedBreach) JSONSchemaExtend(s *jsonschema.Schema) { bound(s) }

// JSONSchemaExtend bounds complete_goal's arguments.
func (Report) JSONSchemaExtend(s *jsonschema.Schema) { bound(s, "result") }

// JSONSchemaExtend bounds delegate's arguments. Criteria and constraints
// are handed down as written, so each may be as long as a free-text field.
func (DelegateArgs) JSONSchemaExtend(s *jsonschema.Schema) {
	for _, name := range []string{"criteria", "constraints"} {
		if p, ok := s.Properties.Get(name); ok && p.Items != nil {
			n := uint64(MaxText)
			p.Items.MaxLength = &n
		}
	}
	bound(s, "context")
}

// JSONSchemaExtend bounds judge_alignment's arguments.
func (Alignment) JSONSchemaExtend(s *jsonschema.Schema) { bound(s) }

// JSONSchemaExtend bounds verify_report's arguments.
func (Verification) JSONSchemaExtend(s *jsonschema.Schema) { bound(s) }
