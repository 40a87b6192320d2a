package orchestrator

import (
	"context"

	"github.com/entrust-dev/entrust/agents"
)

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
// decide at the root. What the runtime noted about the lead's work is in
// ctx (VerifyNotes).
type ReportVerifier interface {
	VerifyReport(ctx context.Context, g *agents.Goal, agent string, r *agents.Report) (agents.Verification, error)
}

type notesKey struct{}

// VerifyNotes returns what the runtime noted about the work behind the report
// a ReportVerifier is asked to verify, for it to weigh: the action tools
// used that the accepted plan never named (MAST FM-2.6), and the report's
// entries the delegate labelled with other words than the goal's criterion
// or constraint at that position (the report itself carries the goal's).
// nil when there is nothing, or outside VerifyReport.
func VerifyNotes(ctx context.Context) []string {
	n, _ := ctx.Value(notesKey{}).([]string)
	return n
}

// WithVerifyNotes returns ctx carrying notes for VerifyNotes: for a
// ReportVerifier asked on the runtime's behalf elsewhere (a Temporal worker
// asking its Principal, a client answering a run's question), so that it
// weighs what the runtime noted as it would in process.
func WithVerifyNotes(ctx context.Context, notes []string) context.Context {
	if len(notes) == 0 {
		return ctx
	}
	return context.WithValue(ctx, notesKey{}, notes)
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
