package orchestrator

import (
	"context"
	"encoding/json"
	"io/fs"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/prompts"
)

// Member is an agent in a team, with its place in the delegation graph.
type Member struct {
	Agent *agents.Agent
	// DelegatesTo names the members it may delegate to.
	DelegatesTo []string
	// Consults names the members it may consult.
	Consults []string
	// Budget is the default budget of a delegation to this member, when
	// the delegator names none; still capped by what the delegator has left.
	Budget agents.Budget
	// Supervision, when set, overrides the supervision its trust sets.
	Supervision *Supervision
	// Checks are run on the report of every delegation to this member, as
	// the goal's own are (see agents.CheckSpec).
	Checks []agents.CheckSpec
}

// Team is the roster a runtime runs.
type Team struct {
	// Lead names the member the user's goal is entrusted to.
	Lead    string
	Members []Member
	// Grants names the tools the team grants at the root: the widest
	// authority any delegation can hold. Nil grants every member's tools.
	Grants []string
}

// Limits bound the runtime. Zero fields take the defaults in brackets.
// MaxReassign is the exception: zero means none, and a negative value is an
// error of New.
type Limits struct {
	MaxDepth          int // depth of sub-delegation below the lead [3]
	MaxFanOut         int // delegations one delegation may make [8]
	MaxAlignRounds    int // acceptances offered before failing [3]
	MaxRevisions      int // reports sent back before rejecting [2]
	MaxReassign       int // automatic reassignments of one goal after a decline [0: none]
	MaxNudges         int // prose answers met with a reminder [2]
	MaxClarifications int // ask_clarification calls before acceptance [3]; one more is refused as a violation
	RepeatLimit       int // identical turns in a row that count as a stall [3]; negative: never
	DefaultSteps      int // steps of a delegation whose budget names none [40]
	AskSteps          int // model turns of one judgement, answer or verification [3]
	// Per model turn: tool calls [16] and, among them, escalations,
	// consultations and clarifications [2] (the excess is refused as a
	// violation); bytes of one action tool's result [64 KiB] and of all
	// the turn's results [256 KiB] (the excess is clipped, with a note).
	MaxToolCalls, MaxAsks         int
	MaxToolResult, MaxTurnResults int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxDepth, 3)
	def(&l.MaxFanOut, 8)
	def(&l.MaxAlignRounds, 3)
	def(&l.MaxRevisions, 2)
	def(&l.MaxNudges, 2)
	def(&l.MaxClarifications, 3)
	if l.RepeatLimit == 0 {
		l.RepeatLimit = 3
	}
	def(&l.DefaultSteps, 40)
	def(&l.AskSteps, 3)
	def(&l.MaxToolCalls, agents.DefaultMaxCalls)
	def(&l.MaxAsks, agents.DefaultMaxAsks)
	def(&l.MaxToolResult, agents.DefaultMaxResult)
	def(&l.MaxTurnResults, agents.DefaultMaxTurnResults)
	return l
}

// Supervision is how closely a delegate is supervised. Trust sets it (see
// SupervisionFor); a Member may override it.
type Supervision struct {
	// Level names the preset, e.g. LevelNew.
	Level Level `json:"level" yaml:"level"`
	// ModelJudge asks the delegator's model to judge an acceptance that
	// passed the structural checks; false trusts the structural checks.
	ModelJudge bool `json:"model_judge" yaml:"model_judge"`
	// ModelVerify asks the delegator's model to verify a report that
	// passed the programmatic verifiers; false trusts them.
	ModelVerify bool `json:"model_verify" yaml:"model_verify"`
	// ProgressEvery is the number of steps after which the delegate is
	// reminded to report progress (0: never); twice that without a report
	// counts as a stall.
	ProgressEvery int `json:"progress_every" yaml:"progress_every"`
	// MaxRevisions bounds the reports sent back (0: Limits.MaxRevisions).
	MaxRevisions int `json:"max_revisions" yaml:"max_revisions"`
}

// Level names how closely a delegate is supervised: a trust level, or a
// fixed policy.
type Level string

// The supervision levels. The first four are the trust levels (package
// trust); the others name fixed policies.
const (
	LevelNew    Level = "new"
	LevelLow    Level = "low"
	LevelMedium Level = "medium"
	LevelHigh   Level = "high"
	// LevelStructural is StructuralOnly's.
	LevelStructural Level = "structural"
	// LevelAlways is ModelAlways'.
	LevelAlways Level = "always"
	// LevelTeamFile is a team file's supervision without a preset.
	LevelTeamFile Level = "team file"
)

// Action is what a supervisor decides on a progress report or a stall.
type Action string

// The actions of an Intervention.
const (
	ActionContinue Action = "continue" // go on
	ActionRedirect Action = "redirect" // go on, following Instruction
	ActionHalt     Action = "halt"     // stop: the delegation fails
	ActionStalled  Action = "stalled"  // the delegate is stalled; it is told so
)

// Intervention is a supervisor's answer to a progress report or a stall.
type Intervention struct {
	Action      Action `json:"action"`
	Instruction string `json:"instruction,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// ProgressInfo is what a Supervisor sees of a progress report.
type ProgressInfo struct {
	Delegation string
	Agent      string
	Delegator  string
	Goal       *agents.Goal
	Progress   agents.ProgressReport
	Steps      int
	// Tokens is what the delegation has spent; Budget what it may spend
	// in all, 0 when no bound applies.
	Tokens, Budget int64
}

// Supervisor answers progress reports. It must be safe for concurrent use.
type Supervisor func(ctx context.Context, p ProgressInfo) Intervention

// Principal is whoever stands above the lead: the user at a terminal, a
// callback, or an automatic policy. It judges the lead's acceptance and
// answers the escalations that reach the top. It must be safe for
// concurrent use.
type Principal interface {
	// JudgeAcceptance judges the lead's acceptance of the user's goal. It
	// is asked only after the structural checks passed.
	JudgeAcceptance(ctx context.Context, g *agents.Goal, agent string, a *agents.Acceptance) (agents.Alignment, error)
	// AnswerEscalation resolves an escalation that reached the top: an
	// answer, a decision, or a refusal (Refused).
	AnswerEscalation(ctx context.Context, e *agents.Escalation) (agents.Resolution, error)
}

// ReportVerifier is implemented by a Principal that also verifies the lead's
// report; otherwise the programmatic verifiers and the report's own claims
// decide at the root.
type ReportVerifier interface {
	VerifyReport(ctx context.Context, g *agents.Goal, agent string, r *agents.Report) (agents.Verification, error)
}

// AutoPrincipal is an automatic Principal: it confirms every acceptance that
// passed the structural checks and resolves escalations by policy.
type AutoPrincipal struct {
	// Deny refuses every escalation instead of taking its recommendation.
	Deny bool
}

// JudgeAcceptance confirms the acceptance.
func (p AutoPrincipal) JudgeAcceptance(context.Context, *agents.Goal, string, *agents.Acceptance) (agents.Alignment, error) {
	return agents.Alignment{Aligned: true, By: agents.ByPolicy}, nil
}

// AnswerEscalation takes the recommendation, else the first option, else
// refuses; with Deny it always refuses.
func (p AutoPrincipal) AnswerEscalation(_ context.Context, e *agents.Escalation) (agents.Resolution, error) {
	switch {
	case p.Deny:
		return agents.Resolution{Refused: true, Answer: "No one above can answer this; decide within your constraints or decline.", By: agents.ByPolicy}, nil
	case e.Recommendation != "":
		return agents.Resolution{Answer: "Proceed with your recommendation: " + e.Recommendation, Decision: e.Recommendation, By: agents.ByPolicy}, nil
	case len(e.Options) > 0:
		return agents.Resolution{Answer: "Take the first option: " + e.Options[0], Decision: e.Options[0], By: agents.ByPolicy}, nil
	}
	return agents.Resolution{Refused: true, Answer: "No recommendation was given and no one above can answer; decide within your constraints.", By: agents.ByPolicy}, nil
}

// Options configure a Runtime. The zero value is usable.
type Options struct {
	// RunID names the run; default a fresh time-based id for each Run.
	// Set it only for a runtime that runs one goal at a time: concurrent
	// Runs would share it.
	RunID string
	// Sinks receive every event, in order.
	Sinks []Sink
	// Principal stands above the lead; default AutoPrincipal{}.
	Principal Principal
	// Prompts are the templates; default prompts.Default().
	Prompts *prompts.Set
	// Limits bound the runtime.
	Limits Limits
	// Budget is the root delegation's budget when the goal names none.
	Budget agents.Budget
	// SupervisionFor sets how closely an agent is supervised, e.g. from a
	// trust ledger; default DefaultSupervision.
	SupervisionFor func(agent string) Supervision
	// SupervisionForModel, when set, is used instead of SupervisionFor and
	// is told the agent's model too, as ModelID names it, so trust earned
	// with one model (the simulator, say) never stands for another.
	SupervisionForModel func(agent, model string) Supervision
	// Supervisor answers progress reports; default: always continue.
	Supervisor Supervisor
	// ToolChoice is what the runtime asks of a model whose turn must be a
	// protocol call: "required" (the default, also for "") or "auto", for
	// servers that reject "required" — the runtime still refuses prose and
	// nudges. Any other value is an error of New.
	ToolChoice string
	// Now is the clock of the events; default time.Now.
	Now func() time.Time
	// Effects returns the effects of the run named run: the seam through
	// which its model calls, tool calls, decisions, clock and ids go (see
	// Effects). Default: NewLiveEffects(Now).
	Effects func(run string) Effects
	// Config is recorded on run.started as is: the run's configuration as
	// the caller sees it (a command line's flags and team file), so that the
	// journal alone suffices to resume it. It must hold no secret.
	Config json.RawMessage
	// Checks registers Go checks by name, beside the built-in file_exists,
	// file_matches and file_absent, for goals, the delegate tool and team
	// members to name (agents.CheckSpec.Kind). A name may not shadow a
	// built-in.
	Checks map[string]CheckFunc
	// Workspace is where the files the agents' tools work on live (for
	// instance workspace.Workspace.FS): reports' path citations and the
	// files criteria name are checked against it at hand-back. Nil checks
	// them against the run's own tool calls only: a path counts as present
	// when a call of the run that succeeded wrote it.
	Workspace fs.FS
	// Traceparent, when set, returns the W3C traceparent of the trace the
	// Run's context belongs to, recorded on run.started so that a journal
	// names the trace its run was part of (see telemetry.Traceparent).
	Traceparent func(ctx context.Context) string
}

// DefaultSupervision is the supervision of an agent with no track record: the
// delegator's model judges every acceptance and verifies every report.
func DefaultSupervision(string) Supervision {
	return Supervision{Level: LevelNew, ModelJudge: true, ModelVerify: true}
}

// PrincipalFuncs adapts functions to Principal; a nil function behaves as
// AutoPrincipal{}.
type PrincipalFuncs struct {
	Judge  func(ctx context.Context, g *agents.Goal, agent string, a *agents.Acceptance) (agents.Alignment, error)
	Answer func(ctx context.Context, e *agents.Escalation) (agents.Resolution, error)
}

// JudgeAcceptance calls p.Judge.
func (p PrincipalFuncs) JudgeAcceptance(ctx context.Context, g *agents.Goal, agent string, a *agents.Acceptance) (agents.Alignment, error) {
	if p.Judge == nil {
		return AutoPrincipal{}.JudgeAcceptance(ctx, g, agent, a)
	}
	return p.Judge(ctx, g, agent, a)
}

// AnswerEscalation calls p.Answer.
func (p PrincipalFuncs) AnswerEscalation(ctx context.Context, e *agents.Escalation) (agents.Resolution, error) {
	if p.Answer == nil {
		return AutoPrincipal{}.AnswerEscalation(ctx, e)
	}
	return p.Answer(ctx, e)
}

// StructuralOnly is a SupervisionFor policy that trusts the runtime's own
// checks: no model judge, no model verification, no progress demands.
func StructuralOnly(string) Supervision { return Supervision{Level: LevelStructural} }

// ModelAlways is a SupervisionFor policy that asks the delegator's model to
// judge every acceptance and verify every report, whatever the agent's record.
func ModelAlways(string) Supervision {
	return Supervision{Level: LevelAlways, ModelJudge: true, ModelVerify: true}
}

// ModelID names a model as trust keys it: "provider/name" (model.ProviderOf
// and Name), or the name alone when the provider says none.
func ModelID(m model.Model) string {
	if m == nil {
		return ""
	}
	if p := model.ProviderOf(m); p != "" {
		return p + "/" + m.Name()
	}
	return m.Name()
}
