package agents

import (
	"encoding/json"
	"time"
)

// The names of the protocol tools. They are a public contract: prompts, evals
// and users' own models depend on them.
const (
	ToolAcceptGoal       = "accept_goal"
	ToolDeclineGoal      = "decline_goal"
	ToolAskClarification = "ask_clarification"

	ToolEscalate       = "escalate"
	ToolConsult        = "consult"
	ToolReportProgress = "report_progress"
	ToolCompleteGoal   = "complete_goal"
	ToolDelegate       = "delegate"

	ToolJudgeAlignment   = "judge_alignment"
	ToolAnswerEscalation = "answer_escalation"
	ToolVerifyReport     = "verify_report"
)

// IsProtocolTool reports whether name is one of the protocol tools above.
func IsProtocolTool(name string) bool {
	switch name {
	case ToolAcceptGoal, ToolDeclineGoal, ToolAskClarification, ToolEscalate, ToolConsult,
		ToolReportProgress, ToolCompleteGoal, ToolDelegate, ToolJudgeAlignment,
		ToolAnswerEscalation, ToolVerifyReport:
		return true
	}
	return false
}

// By names who made a judgement, an answer or a verification, or who raised
// an escalation on a delegate's behalf: one of the constants below, or the
// name of the agent that did, as a delegator.
type By string

// The judges that are not agents.
const (
	// ByUser is the Principal: a person at a terminal, or a callback.
	ByUser By = "user"
	// ByPolicy is an automatic Principal's policy (AutoPrincipal).
	ByPolicy By = "policy"
	// ByRuntime is the runtime itself: its programmatic checks, and the
	// resolutions it makes when no one can answer.
	ByRuntime By = "runtime"
	// ByStructural is the runtime's structural checks of an acceptance,
	// standing alone (no model judge was asked, or it could not judge).
	ByStructural By = "structural"
)

// Words says b as a reader would: "the user", "the policy", "the runtime",
// "the runtime's checks" (ByStructural: the structural checks of an
// acceptance), or the agent's name; "no one" for the empty By. The views
// (live, replay, web) say who judged, answered or verified with it.
func (b By) Words() string {
	switch b {
	case "":
		return "no one"
	case ByUser:
		return "the user"
	case ByPolicy:
		return "the policy"
	case ByRuntime:
		return "the runtime"
	case ByStructural:
		return "the runtime's checks"
	}
	return string(b)
}

// IsAgent reports whether b names an agent rather than the user, a policy or
// the runtime. The empty By names no one.
func (b By) IsAgent() bool {
	switch b {
	case "", ByUser, ByPolicy, ByRuntime, ByStructural:
		return false
	}
	return true
}

// Budget bounds a delegation. Zero fields mean "inherit what is left".
type Budget struct {
	Steps  int `json:"steps,omitempty" jsonschema:"minimum=0,description=model turns"`
	Tokens int `json:"tokens,omitempty" jsonschema:"minimum=0"`
	// WallTime bounds the delegation's duration; not offered to models.
	WallTime time.Duration `json:"wall_time,omitempty" jsonschema:"-"`
}

// Goal is what is entrusted to a delegate.
type Goal struct {
	// Intent is why: the larger purpose the goal serves.
	Intent string `json:"intent"`
	// Objective is what is to be done.
	Objective string `json:"objective"`
	// Criteria are the success criteria a report is verified against.
	Criteria []string `json:"criteria,omitempty"`
	// Constraints are the boundaries: must and must not.
	Constraints []string `json:"constraints,omitempty"`
	// Context is whatever else the delegate should know.
	Context string `json:"context,omitempty"`
	// Budget bounds the work; see Budget.
	Budget Budget `json:"budget,omitzero"`
	// Tools are the names of the tools granted; nil grants all the
	// delegator's authority.
	Tools []string `json:"tools,omitempty"`
	// ParentIntents is the chain of intents from the root down to the
	// delegator's, so a delegate knows what its work is ultimately for.
	ParentIntents []string `json:"parent_intents,omitempty"`
	// NoFileChecks turns off the automatic existence check of the files its
	// criteria and constraints name (see NamedFiles) for this goal and the
	// sub-goals delegated under it.
	NoFileChecks bool `json:"no_file_checks,omitempty"`
	// Checks name programmatic checks of the report from the runtime's
	// registry (see CheckSpec), run at hand-back with the verifiers.
	Checks []CheckSpec `json:"checks,omitempty"`
	// Verifiers check a report programmatically before any model judge.
	// They are not serialised.
	Verifiers []Verifier `json:"-"`
}

// Verifier checks a report against its goal. It returns the criteria it
// found unmet (empty when all are met) and an error only when it could not
// check at all.
type Verifier func(g *Goal, r *Report) (unmet []string, err error)

// Acceptance is a delegate's explicit acceptance of a goal: the arguments of
// accept_goal. Everything is restated in the delegate's own words:
// RestatedIntent says why the goal matters, Plan gives the steps (naming the
// tools), and AcknowledgedCriteria and AcknowledgedConstraints say how it
// will meet each criterion and constraint, one entry each in the goal's
// order. (accept_goal's description says so once, rather than each field.)
type Acceptance struct {
	RestatedIntent          string   `json:"restated_intent" jsonschema:"minLength=1"`
	Plan                    []string `json:"plan" jsonschema:"minItems=1"`
	AcknowledgedCriteria    []string `json:"acknowledged_criteria"`
	AcknowledgedConstraints []string `json:"acknowledged_constraints"`
	Assumptions             []string `json:"assumptions,omitempty"`
	Risks                   []string `json:"risks,omitempty"`
	Confidence              float64  `json:"confidence,omitempty" jsonschema:"minimum=0,maximum=1"`
}

// MarshalJSON writes the lists accept_goal's schema requires as [] when
// they are nil, never null, so an Acceptance built in Go passes the schema.
func (a Acceptance) MarshalJSON() ([]byte, error) {
	type plain Acceptance
	p := plain(a)
	p.Plan, p.AcknowledgedCriteria, p.AcknowledgedConstraints = list(p.Plan), list(p.AcknowledgedCriteria), list(p.AcknowledgedConstraints)
	return json.Marshal(p)
}

// list is s, or an empty list when s is nil: what a required array needs.
func list[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Decline is a delegate's refusal of a goal: the arguments of decline_goal.
type Decline struct {
	Reason          string   `json:"reason" jsonschema:"minLength=1"`
	Missing         []string `json:"missing,omitempty"`
	CounterProposal string   `json:"counter_proposal,omitempty"`
	SuggestedAgent  string   `json:"suggested_agent,omitempty"`
}

// Clarification is a question asked before accepting: the arguments of
// ask_clarification.
type Clarification struct {
	Question       string   `json:"question" jsonschema:"minLength=1"`
	Options        []string `json:"options,omitempty"`
	Recommendation string   `json:"recommendation,omitempty"`
}

// EscalationKind classifies an escalation.
type EscalationKind string

// The kinds of escalation.
const (
	KindAmbiguity          EscalationKind = "ambiguity"
	KindMissingInformation EscalationKind = "missing_information"
	KindRisk               EscalationKind = "risk"
	KindBlocked            EscalationKind = "blocked"
	KindScopeChange        EscalationKind = "scope_change"
	KindConflict           EscalationKind = "conflict"
	KindBudget             EscalationKind = "budget"
	// KindClarification marks an ask_clarification routed as an escalation.
	KindClarification EscalationKind = "clarification"
)

// EscalateArgs are the arguments of escalate.
type EscalateArgs struct {
	Kind           EscalationKind `json:"kind" jsonschema:"enum=ambiguity,enum=missing_information,enum=risk,enum=blocked,enum=scope_change,enum=conflict,enum=budget"`
	Question       string         `json:"question" jsonschema:"minLength=1"`
	Options        []string       `json:"options,omitempty"`
	Recommendation string         `json:"recommendation,omitempty"`
	Blocking       *bool          `json:"blocking,omitempty"`
}

// Escalation is a request for help travelling upward.
type Escalation struct {
	ID             string         `json:"id"`
	Kind           EscalationKind `json:"kind"`
	Question       string         `json:"question"`
	Options        []string       `json:"options,omitempty"`
	Recommendation string         `json:"recommendation,omitempty"`
	Blocking       bool           `json:"blocking"`
	// From is the agent that raised it; Delegation the delegation it was
	// raised in.
	From       string `json:"from"`
	Delegation string `json:"delegation"`
	// Goal is the goal of the delegation it was raised in.
	Goal *Goal `json:"-"`
	// Via lists the agents it passed through on its way up.
	Via []string `json:"via,omitempty"`
	// Chain is the way it travelled, from the agent that asked: each hop's
	// agent and delegation, and the note a delegator added when it passed
	// the question on in words of its own. Question, Options and
	// Recommendation stay the asker's, verbatim.
	Chain []Hop `json:"chain,omitempty"`
	// Origin is ByRuntime for an escalation the runtime raised on the
	// delegate's behalf (a stall), empty for the delegate's own.
	Origin By `json:"origin,omitempty"`
}

// Hop is one step of an escalation's way up: who asked or passed it on, in
// which delegation, with what note.
type Hop struct {
	Agent      string `json:"agent"`
	Delegation string `json:"delegation"`
	Note       string `json:"note,omitempty"`
}

// Resolution answers an escalation: an answer, a decision, or a refusal.
type Resolution struct {
	Answer   string `json:"answer,omitempty"`
	Decision string `json:"decision,omitempty"`
	Refused  bool   `json:"refused,omitempty"`
	// By names who resolved it: an agent, the user, a policy or the
	// runtime.
	By By `json:"by"`
}

// AnswerArgs are the arguments of answer_escalation.
type AnswerArgs struct {
	Answer   string `json:"answer" jsonschema:"minLength=1"`
	Decision string `json:"decision,omitempty" jsonschema:"description=a short label such as an option"`
}

// ConsultArgs are the arguments of consult.
type ConsultArgs struct {
	Agent    string `json:"agent" jsonschema:"minLength=1"`
	Question string `json:"question" jsonschema:"minLength=1"`
	Context  string `json:"context,omitempty"`
}

// Consultation is advice asked of a peer and its answer.
type Consultation struct {
	From     string `json:"from"`
	Agent    string `json:"agent"`
	Question string `json:"question"`
	Context  string `json:"context,omitempty"`
	Answer   string `json:"answer,omitempty"`
}

// ProgressReport is a delegate's telemetry: the arguments of report_progress.
type ProgressReport struct {
	Summary string  `json:"summary" jsonschema:"minLength=1"`
	Percent float64 `json:"percent,omitempty" jsonschema:"minimum=0,maximum=100"`
	Next    string  `json:"next,omitempty"`
	Stalled bool    `json:"stalled,omitempty"`
}

// CriterionResult is one criterion of a report. A report has one for each
// of the goal's criteria, in the goal's order: the runtime matches them by
// position, never by their text. Criterion, the criterion's text, is
// optional: the runtime puts the goal's at that position in its place, so a
// delegate need not restate it, and notes to the verifier a Criterion that
// is not (nearly) the goal's there.
type CriterionResult struct {
	Criterion string `json:"criterion,omitempty" jsonschema:"minLength=1"`
	Met       bool   `json:"met"`
	Evidence  string `json:"evidence,omitempty"`
	// Cites names what the evidence rests on, for the runtime to check:
	// workspace paths, tool call ids and delegation ids. A file name or a
	// delegation id written in Evidence counts as cited too.
	Cites []string `json:"cites,omitempty"`
}

// ConstraintResult is one constraint of a report, matched to the goal's by
// position: respected or not, with the evidence. Constraint, its text, is
// optional as CriterionResult.Criterion is.
type ConstraintResult struct {
	Constraint string `json:"constraint,omitempty" jsonschema:"minLength=1"`
	Respected  bool   `json:"respected"`
	Evidence   string `json:"evidence,omitempty"`
}

// AcceptedBreach is a broken constraint a delegator knowingly accepts, named
// by its number with the reason.
type AcceptedBreach struct {
	Constraint int    `json:"constraint" jsonschema:"minimum=1,description=its number from 1"`
	Reason     string `json:"reason" jsonschema:"minLength=1"`
}

// Report is a delegate's completion: the arguments of complete_goal.
type Report struct {
	Result   string            `json:"result" jsonschema:"minLength=1"`
	Criteria []CriterionResult `json:"criteria"`
	// Constraints has one entry per constraint of the goal, in its order:
	// respected or not, with the evidence. A constraint reported broken, or
	// named by a deviation, is never accepted without the delegator naming
	// it in Verification.AcceptedBreaches.
	Constraints []ConstraintResult `json:"constraints,omitempty"`
	Deviations  []string           `json:"deviations,omitempty"`
	Confidence  float64            `json:"confidence,omitempty" jsonschema:"minimum=0,maximum=1"`
}

// MarshalJSON writes Criteria as [] when it is nil, never null, so a Report
// built in Go passes complete_goal's schema.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	p := plain(r)
	p.Criteria = list(p.Criteria)
	return json.Marshal(p)
}

// DelegateArgs are the arguments of delegate.
type DelegateArgs struct {
	Agent       string      `json:"agent" jsonschema:"minLength=1"`
	Intent      string      `json:"intent" jsonschema:"minLength=1,description=why it matters"`
	Objective   string      `json:"objective" jsonschema:"minLength=1"`
	Criteria    []string    `json:"criteria"`
	Constraints []string    `json:"constraints,omitempty"`
	Context     string      `json:"context,omitempty"`
	Tools       []string    `json:"tools,omitempty" jsonschema:"description=default: all yours"`
	Budget      *Budget     `json:"budget,omitempty"`
	Checks      []CheckSpec `json:"checks,omitempty" jsonschema:"description=checks of the report the runtime runs before it counts"`
}

// MarshalJSON writes Criteria as [] when it is nil, never null, so
// DelegateArgs built in Go pass delegate's schema.
func (a DelegateArgs) MarshalJSON() ([]byte, error) {
	type plain DelegateArgs
	p := plain(a)
	p.Criteria = list(p.Criteria)
	return json.Marshal(p)
}

// Alignment is a delegator's judgement of an acceptance: the arguments of
// judge_alignment, plus who judged.
type Alignment struct {
	Aligned    bool     `json:"aligned"`
	Gaps       []string `json:"gaps,omitempty"`
	Correction string   `json:"correction,omitempty"`
	// By names who judged: the structural checks, the runtime, an agent,
	// the user or a policy; not offered to models.
	By By `json:"by,omitempty" jsonschema:"-"`
	// Unjudged marks a judgement the delegator could not make (the act did
	// not pass for that reason, not for its content); not offered to models.
	Unjudged bool `json:"unjudged,omitempty" jsonschema:"-"`
}

// Verdict is the outcome of a verification.
type Verdict string

// The verdicts of verify_report.
const (
	VerdictAccept Verdict = "accept"
	VerdictRevise Verdict = "revise"
	VerdictReject Verdict = "reject"
)

// Verification is a delegator's check of a report: the arguments of
// verify_report, plus who verified.
type Verification struct {
	Verdict  Verdict  `json:"verdict" jsonschema:"enum=accept,enum=revise,enum=reject"`
	Unmet    []string `json:"unmet,omitempty"`
	Feedback string   `json:"feedback,omitempty"`
	// AcceptedBreaches are the broken constraints the verifier knowingly
	// accepts; only a breach named here passes.
	AcceptedBreaches []AcceptedBreach `json:"accepted_breaches,omitempty" jsonschema:"description=broken constraints you accept and why"`
	// By names who verified: the runtime, an agent or the user; not
	// offered to models.
	By By `json:"by,omitempty" jsonschema:"-"`
	// Unjudged marks a verification the delegator could not make; not
	// offered to models.
	Unjudged bool `json:"unjudged,omitempty" jsonschema:"-"`
}
