package orchestrator

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/entrust-dev/entrust/agents"
)

// Breach is a constraint a report admits broken: reported not respected, or
// named by a deviation.
type Breach struct {
	// Index is the constraint's number, from 1, in the goal's order.
	Index int `json:"index"`
	// Constraint is its text; Why what the report says of it.
	Constraint string `json:"constraint"`
	Why        string `json:"why,omitempty"`
}

// BreachAcceptor is implemented by a Principal that decides, at the root,
// whether broken constraints of the lead's report are accepted. It returns
// the breaches it accepts, each by its index with a reason; a breach it does
// not name is not accepted. A Principal without it accepts none: the goal
// fails.
type BreachAcceptor interface {
	AcceptBreaches(ctx context.Context, g *agents.Goal, agent string, r *agents.Report, breaches []Breach) ([]agents.AcceptedBreach, error)
}

var constraintRefRE = regexp.MustCompile(`(?i)\bconstraints?\s*(?:no\.?\s*|number\s*|#\s*)?(\d+)`)

// breaches are the constraints rep admits broken: an entry reported not
// respected, or a deviation that names a constraint by its number
// ("constraint 2") or quotes it. Constraints are matched by index, never
// by guessing at the report's wording of them.
func breaches(g *agents.Goal, rep *agents.Report) []Breach {
	var out []Breach
	add := func(i int, why string) {
		if i < 0 || i >= len(g.Constraints) || slices.ContainsFunc(out, func(b Breach) bool { return b.Index == i+1 }) {
			return
		}
		out = append(out, Breach{Index: i + 1, Constraint: g.Constraints[i], Why: why})
	}
	if len(rep.Constraints) == len(g.Constraints) {
		for i, c := range rep.Constraints {
			if !c.Respected {
				add(i, "reported not respected: "+c.Evidence)
			}
		}
	}
	norm := func(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }
	for _, dev := range rep.Deviations {
		for _, m := range constraintRefRE.FindAllStringSubmatch(dev, -1) {
			if n, err := strconv.Atoi(m[1]); err == nil {
				add(n-1, "a deviation names it: "+dev)
			}
		}
		for i, c := range g.Constraints {
			if nc := norm(c); len(nc) >= 6 && strings.Contains(norm(dev), nc) {
				add(i, "a deviation names it: "+dev)
			}
		}
	}
	slices.SortFunc(out, func(a, b Breach) int { return a.Index - b.Index })
	return out
}

// unaccepted are the breaches v does not accept by name.
func unaccepted(bs []Breach, v *agents.Verification) []Breach {
	var out []Breach
	for _, b := range bs {
		if !slices.ContainsFunc(v.AcceptedBreaches, func(a agents.AcceptedBreach) bool {
			return a.Constraint == b.Index && strings.TrimSpace(a.Reason) != ""
		}) {
			out = append(out, b)
		}
	}
	return out
}

// keepAccepted narrows v's accepted breaches to the breaches there are.
func keepAccepted(bs []Breach, v *agents.Verification) {
	v.AcceptedBreaches = slices.DeleteFunc(v.AcceptedBreaches, func(a agents.AcceptedBreach) bool {
		return !slices.ContainsFunc(bs, func(b Breach) bool { return b.Index == a.Constraint }) || strings.TrimSpace(a.Reason) == ""
	})
}

// describe says which breaches are not accepted, for the feedback.
func describe(bs []Breach) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = fmt.Sprintf("constraint %d (%q) is broken", b.Index, b.Constraint)
	}
	return strings.Join(parts, "; ")
}

// breachNotes are the breaches as the delegator's verify prompt lists them.
func breachNotes(bs []Breach) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = fmt.Sprintf("constraint %d (%q) is broken (%s): accept it only by naming it in accepted_breaches with a reason", b.Index, b.Constraint, b.Why)
	}
	return out
}

// rootAccepts asks the Principal which of the lead's broken constraints it
// accepts, as a decision of the run's effects. A Principal that is no
// BreachAcceptor (the automatic policies, auto and deny) accepts none, and
// one that fails accepts none: the guarantee fails closed.
func (d *delegation) rootAccepts(ctx context.Context, rep *agents.Report, bs []Breach, round int) []agents.AcceptedBreach {
	ba, ok := d.rt.opts.Principal.(BreachAcceptor)
	if !ok {
		return nil
	}
	dec, err := d.run.fx.Decide(ctx, Key{Delegation: d.id, Conversation: "principal breaches", Turn: round},
		func(ctx context.Context) (Decision, error) {
			acc, err := ba.AcceptBreaches(ctx, d.goal, d.m.name, rep, bs)
			return Decision{Breaches: acc}, err
		})
	if err != nil {
		return nil
	}
	return dec.Breaches
}
