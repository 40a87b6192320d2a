// Package agents owns the participant of a delegation: an Agent with a name,
// a role, a model and its own tools; the protocol vocabulary (goals,
// acceptances, escalations, reports…) as typed Go values; typed tools whose
// JSON schemas are generated from Go structs and whose arguments are
// validated before anything runs; and the tool-calling loop. It knows nothing
// of orchestration: the orchestrator hands it protocol tools as ordinary tools.
package agents

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/entrust-dev/entrust/agents/model"
)

// Agent is a participant: a delegate, and an orchestrator when it delegates.
// An Agent is not modified by the runtime and may serve many delegations at
// once.
type Agent struct {
	// Name identifies the agent; it must match ^[A-Za-z][A-Za-z0-9_-]*$.
	Name string
	// Role describes what the agent is for, in a sentence or two; it opens
	// the agent's system prompt and tells peers what it can be asked.
	Role string
	// Model answers for the agent.
	Model model.Model
	// Tools are the agent's own action tools. What it may use in a
	// delegation is narrowed further by what its delegator grants.
	Tools []Tool
	// ContextTokens bounds the prompt of every request sent to the agent's
	// model, in tokens as model.EstimatePrompt counts them: older turns
	// are compacted to stay within it (see Window). 0 takes the model's
	// window (model.ContextWindow), and no bound when that is unknown.
	ContextTokens int
}

// ContextBudget returns the context budget the agent's requests are kept
// within: ContextTokens, else its model's known window, else 0 (no bound).
func (a *Agent) ContextBudget() int {
	if a.ContextTokens > 0 || a.Model == nil {
		return max(a.ContextTokens, 0)
	}
	return model.ContextWindow(a.Model)
}

// NamePattern is what an agent's name must match: a letter, then letters,
// digits, - and _.
const NamePattern = `^[A-Za-z][A-Za-z0-9_-]*$`

var nameRE = regexp.MustCompile(NamePattern)

// ValidName reports whether name may name an agent (see NamePattern).
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Validate reports what is wrong with the agent's definition.
func (a *Agent) Validate() error {
	var errs []error
	if !ValidName(a.Name) {
		errs = append(errs, fmt.Errorf("agent name %q: must match %s", a.Name, nameRE))
	}
	if a.Model == nil {
		errs = append(errs, fmt.Errorf("agent %s: no model", a.Name))
	}
	if a.ContextTokens < 0 {
		errs = append(errs, fmt.Errorf("agent %s: context tokens %d is negative", a.Name, a.ContextTokens))
	}
	seen := map[string]bool{}
	for _, t := range a.Tools {
		n := t.Def().Name
		if IsProtocolTool(n) {
			errs = append(errs, fmt.Errorf("agent %s: tool %q has the name of a protocol tool", a.Name, n))
		}
		if seen[n] {
			errs = append(errs, fmt.Errorf("agent %s: two tools named %q", a.Name, n))
		}
		seen[n] = true
	}
	return errors.Join(errs...)
}

// Tool returns the agent's own tool named name.
func (a *Agent) Tool(name string) (Tool, bool) {
	for _, t := range a.Tools {
		if t.Def().Name == name {
			return t, true
		}
	}
	return nil, false
}
