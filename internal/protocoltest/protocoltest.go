// Package protocoltest holds what the tests of several packages need to script
// a delegation and to check its journal: protocol calls that pass the
// runtime's structural checks, and the journal's invariants.
package protocoltest

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/words"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/invariant"
)

// Restated says what intent is for in other words than its own, as the
// runtime asks (a copy, even inside a stock phrase, is derailed): its
// content words turned round.
func Restated(intent string) string {
	ws := words.ContentWords(intent)
	if len(ws) == 0 {
		return "In my words: " + intent
	}
	slices.Reverse(ws)
	return "In my words, it turns on " + strings.Join(ws, ", ")
}

// Accept is an acceptance of g that passes the structural checks: the intent
// restated, a plan (default "do it"), one acknowledgement per criterion and
// per constraint.
func Accept(g agents.Goal, plan ...string) model.ToolCall {
	if len(plan) == 0 {
		plan = []string{"do it"}
	}
	a := agents.Acceptance{RestatedIntent: Restated(cmp.Or(g.Intent, g.Objective)), Plan: plan,
		AcknowledgedCriteria: make([]string, len(g.Criteria)), AcknowledgedConstraints: make([]string, len(g.Constraints)), Confidence: 0.9}
	for i, c := range g.Criteria {
		a.AcknowledgedCriteria[i] = "I will make sure: " + c
	}
	for i, c := range g.Constraints {
		a.AcknowledgedConstraints[i] = "I will respect: " + c
	}
	return model.Call(agents.ToolAcceptGoal, a)
}

// Complete is a report of g claiming every criterion met and every constraint
// respected, the evidence citing
// cites (tool call ids, delegation ids, workspace paths). A delegation that
// holds tools or delegates needs a citation the runtime can check.
func Complete(g agents.Goal, result string, cites ...string) model.ToolCall {
	r := agents.Report{Result: result, Criteria: []agents.CriterionResult{}}
	for _, c := range g.Criteria {
		r.Criteria = append(r.Criteria, agents.CriterionResult{Criterion: c, Met: true, Evidence: "done", Cites: cites})
	}
	for _, c := range g.Constraints {
		r.Constraints = append(r.Constraints, agents.ConstraintResult{Constraint: c, Respected: true, Evidence: "kept to it"})
	}
	return model.Call(agents.ToolCompleteGoal, r)
}

// WithID is call with its id set, so a report can cite it.
func WithID(id string, call model.ToolCall) model.ToolCall {
	call.ID = id
	return call
}

// DelegateTo is a delegate call entrusting g to agent, granting tools (nil:
// all the delegator's authority).
func DelegateTo(agent string, g agents.Goal, tools ...string) model.ToolCall {
	return model.Call(agents.ToolDelegate, agents.DelegateArgs{Agent: agent, Intent: g.Intent, Objective: g.Objective,
		Criteria: g.Criteria, Constraints: g.Constraints, Tools: tools})
}

// OfType returns the events of type typ, in order.
func OfType(events []*orchestrator.Event, typ orchestrator.EventType) []*orchestrator.Event {
	var out []*orchestrator.Event
	for _, e := range events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// Trace lists a journal's event types (with tools and errors), model calls
// left out, for failure messages.
func Trace(events []*orchestrator.Event) string {
	var b strings.Builder
	for _, e := range events {
		if e.Type == orchestrator.EventModelCalled && e.Error == "" {
			continue
		}
		b.WriteString(string(e.Type))
		if e.Tool != "" {
			b.WriteString("(" + e.Tool + ")")
		}
		if e.Error != "" {
			b.WriteString("[" + e.Error + "]")
		}
		b.WriteString(" ")
	}
	return b.String()
}

// CheckJournal asserts every invariant of DESIGN.md over a journal, with the
// checks of package invariant, and that the journal is not empty.
func CheckJournal(t testing.TB, events []*orchestrator.Event) {
	t.Helper()
	if len(events) == 0 {
		t.Fatal("empty journal")
	}
	for _, v := range invariant.CheckJournal(events) {
		t.Error(v)
	}
}

// CountedModel is a model that counts its calls in N.
type CountedModel struct {
	model.Model
	N *atomic.Int64
}

// Generate counts the call and passes it on.
func (m CountedModel) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	m.N.Add(1)
	return m.Model.Generate(ctx, req)
}

// CountedTool is a tool that counts its calls in N.
type CountedTool struct {
	agents.Tool
	N *atomic.Int64
}

// Call counts the call and passes it on.
func (t CountedTool) Call(ctx context.Context, args json.RawMessage) agents.Result {
	t.N.Add(1)
	return t.Tool.Call(ctx, args)
}

// Declared is t declaring kind (agents.KindedTool): a test's note or fetch
// tool, whose name tells the runtime nothing, must say what it does for its
// calls to count as evidence.
func Declared(t agents.Tool, kind agents.ToolKind) agents.Tool { return declared{t, kind} }

type declared struct {
	agents.Tool
	kind agents.ToolKind
}

func (d declared) Kind() agents.ToolKind { return d.kind }

// Kind passes on the counted tool's kind.
func (t CountedTool) Kind() agents.ToolKind { return agents.KindOf(t.Tool) }
