package orchestrator

import (
	"errors"
	"fmt"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

// Status is the terminal state of a delegation or a run.
type Status string

// The terminal states.
const (
	StatusCompleted Status = "completed"
	StatusDeclined  Status = "declined"
	StatusFailed    Status = "failed"
)

// Cause classifies why a delegation did not complete.
type Cause string

// The causes of a failed or declined delegation.
const (
	CauseDeclined       Cause = "declined"         // the delegate declined
	CauseMisaligned     Cause = "misaligned"       // no aligned acceptance within the rounds
	CauseRejected       Cause = "rejected"         // the report was rejected
	CauseBudget         Cause = "budget"           // steps, tokens or wall time ran out
	CauseCancelled      Cause = "cancelled"        // the context was cancelled
	CauseDeadline       Cause = "deadline"         // the context's deadline passed
	CauseProvider       Cause = "provider"         // the model failed (after retries)
	CauseNoProtocolCall Cause = "no_protocol_call" // prose past every reminder
	CauseStalled        Cause = "stalled"          // kept repeating the same calls
	CauseHalted         Cause = "halted"           // a supervisor halted it
	CauseInvalid        Cause = "invalid_goal"     // the goal could not be offered
	CauseIncomplete     Cause = "incomplete"       // the conversation ended without a terminal act
	CauseInternal       Cause = "internal"         // a panic in a provider, a Principal or the runtime
)

// ErrDeclined is matched by the error of a run whose goal was declined.
var ErrDeclined = errors.New("goal declined")

// ErrFailed is matched by the error of a run whose goal failed.
var ErrFailed = errors.New("goal failed")

// ErrCancelled is the reason of a delegation stopped by its context.
var ErrCancelled = errors.New("cancelled")

// GoalError reports a goal that did not complete. It matches ErrDeclined or
// ErrFailed with errors.Is, and wraps the cause (a *agents.BudgetError, a
// provider error, agents.ErrNoToolCall…) when there is one.
type GoalError struct {
	Delegation string
	Agent      string
	Status     Status
	Cause      Cause
	Reason     string
	Err        error
}

func (e *GoalError) Error() string {
	return fmt.Sprintf("%s %s (%s): %s", e.Agent, e.Status, e.Delegation, e.Reason)
}

// Unwrap returns the status sentinel and the cause.
func (e *GoalError) Unwrap() []error {
	s := ErrFailed
	if e.Status == StatusDeclined {
		s = ErrDeclined
	}
	if e.Err != nil {
		return []error{s, e.Err}
	}
	return []error{s}
}

// EscalationRecord is an escalation and how it was resolved.
type EscalationRecord struct {
	Escalation agents.Escalation  `json:"escalation"`
	Resolution *agents.Resolution `json:"resolution,omitempty"`
}

// Outcome is the full record of one delegation.
type Outcome struct {
	Run            string       `json:"run"`
	Delegation     string       `json:"delegation"`
	Parent         string       `json:"parent,omitempty"`
	Agent          string       `json:"agent"`
	Delegator      string       `json:"delegator"`
	Depth          int          `json:"depth"`
	Goal           *agents.Goal `json:"goal"`
	ReassignedFrom string       `json:"reassigned_from,omitempty"`

	Status Status `json:"status"`
	Cause  Cause  `json:"cause,omitempty"`
	Reason string `json:"reason,omitempty"`

	Acceptance *agents.Acceptance `json:"acceptance,omitempty"`
	Alignment  *agents.Alignment  `json:"alignment,omitempty"`
	Decline    *agents.Decline    `json:"decline,omitempty"`
	// AlignmentRounds counts acceptances offered, from 1.
	AlignmentRounds int                   `json:"alignment_rounds"`
	Escalations     []EscalationRecord    `json:"escalations,omitempty"`
	Consultations   []agents.Consultation `json:"consultations,omitempty"`
	Report          *agents.Report        `json:"report,omitempty"`
	Verification    *agents.Verification  `json:"verification,omitempty"`
	// Revisions counts reports sent back for revision.
	Revisions  int `json:"revisions"`
	Violations int `json:"violations"`
	// Compactions counts the times its conversation was compacted to fit
	// its agent's context budget.
	Compactions int `json:"compactions,omitempty"`

	// Steps counts the delegate's own model turns; Usage its own model
	// calls' tokens (turns, judgements it made as a delegator,
	// consultations); Total adds its sub-delegations'.
	Steps int         `json:"steps"`
	Usage model.Usage `json:"usage"`
	Total model.Usage `json:"total"`

	// Children are the delegations it made, reassignments included.
	Children []*Outcome `json:"children,omitempty"`

	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Failure is the Go error behind a failure, when there is one (a
	// *agents.BudgetError, a provider's error, agents.ErrNoToolCall…).
	Failure error `json:"-"`
}

// Err returns nil for a completed outcome and a *GoalError otherwise, which
// wraps Failure.
func (o *Outcome) Err() error {
	if o == nil {
		return errors.New("no outcome")
	}
	if o.Status == StatusCompleted {
		return nil
	}
	return &GoalError{Delegation: o.Delegation, Agent: o.Agent, Status: o.Status, Cause: o.Cause, Reason: o.Reason, Err: o.Failure}
}

// Walk calls fn for o and every outcome below it, depth first.
func (o *Outcome) Walk(fn func(*Outcome)) {
	fn(o)
	for _, c := range o.Children {
		c.Walk(fn)
	}
}
