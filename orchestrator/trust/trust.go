// Package trust keeps each agent's track record across runs, per model, and
// turns it into how closely the agent is supervised. A Ledger is an
// orchestrator.Sink: it updates a Record per agent and model from a run's
// events as they happen, and its SupervisionForModel plugs into
// orchestrator.Options.SupervisionForModel. It persists as one JSON file,
// replaced atomically on Save under a file lock, merged with what other
// processes saved meanwhile.
//
// # Score
//
// Trust is a Beta(α, β) posterior over "this agent's next act is sound":
// α = PriorAlpha + weighted successes, β = PriorBeta + weighted failures,
// from the prior Beta(2, 2) (mean 0.5, sd 0.22: no opinion, not much
// certainty). The score is the posterior mean; its uncertainty, the
// posterior standard deviation, shrinks as evidence accumulates. Weights:
//
//	success  verified completion          2   (WeightCompletion)
//	success  aligned at the first try     1   (WeightAlignedFirstTry)
//	success  escalation that helped       0.5 (WeightHelpfulEscalation)
//	failure  failure (not cancellation)   2   (WeightFailure)
//	failure  report sent back or rejected 1   (WeightRejectedReport)
//	failure  re-acceptance (misaligned)   1   (WeightReacceptance)
//	failure  protocol violation           1   (WeightViolation)
//
// Declines, escalations that did not help, cancellations and failures of the
// infrastructure are recorded but weigh nothing: an honest decline or
// question is the protocol working, and a cancellation or a provider's
// failure is not the agent's doing. Nor is a re-acceptance after the user
// corrected the root acceptance or after a delegator could not judge, nor a
// report sent back because the delegator could not verify it. An escalation helped when it
// was the agent's own (not one passed up from its delegates), blocking,
// answered rather than refused, and the delegation it was raised in then
// completed.
//
// So one clean delegation (aligned at once, completed, verified) adds 3 to
// α: one gives mean 0.71, sd 0.16 (medium); three in a row give mean 0.85,
// sd 0.096 (high). A single violation gives mean 0.4 (low); a failed
// delegation with a violation and a rejected report adds 4 to β.
//
// # Levels
//
// SupervisionFor maps the score to a level, with these defaults
// (DefaultPolicy; a team file can override any agent's supervision through
// orchestrator.Member.Supervision):
//
//	level   when                                model judge  model verify  progress every  revisions
//	new     no record, or no weighted evidence  yes          yes           5 steps         2
//	low     mean < 0.5, or sd > 0.2             yes          yes           3 steps         1
//	medium  otherwise                           yes          yes           8 steps         2
//	high    mean ≥ 0.8 and sd ≤ 0.1             no           no            never           3
//
// "Model judge" means the delegator's model judges an acceptance that passed
// the runtime's structural checks (and so approves the plan it states); "no"
// trusts the structural checks. "Model verify" is the same for reports
// against the programmatic verifiers. "Progress every n" reminds the delegate
// to report progress after n steps, and counts 2n steps without a report as
// a stall. Trust moves within a run too: each delegation is supervised by
// the record as it stands when it is offered. At the root, the Principal
// judges the lead's acceptance whatever its level; the level still sets the
// lead's progress reminders and revision rounds.
package trust

import (
	"math"
	"time"

	"github.com/entrust-dev/entrust/orchestrator"
)

// The prior of every agent's score: Beta(PriorAlpha, PriorBeta).
const (
	PriorAlpha = 2.0
	PriorBeta  = 2.0
)

// The weights of the evidence; see the package documentation.
const (
	WeightCompletion        = 2.0
	WeightAlignedFirstTry   = 1.0
	WeightHelpfulEscalation = 0.5

	WeightFailure        = 2.0
	WeightRejectedReport = 1.0
	WeightReacceptance   = 1.0
	WeightViolation      = 1.0
)

// Record is an agent's track record, counted over every run the ledger saw.
type Record struct {
	Agent string `json:"agent"`
	// Model is the model the agent ran on, as orchestrator.ModelID names it
	// ("openai/gpt-4o-mini", "sim/sim"): trust is earned per agent and
	// model. Empty for events that named none.
	Model string `json:"model,omitempty"`
	// Delegations counts the goals offered to the agent.
	Delegations int `json:"delegations"`
	// AlignedFirstTry counts acceptances judged aligned in round 1.
	AlignedFirstTry int `json:"aligned_first_try"`
	// Reacceptances counts acceptances offered again after a misaligned one.
	Reacceptances int `json:"reacceptances"`
	// Declines counts goals declined.
	Declines int `json:"declines"`
	// Violations counts protocol violations.
	Violations int `json:"violations"`
	// Escalations counts the agent's own escalations and clarification
	// questions; HelpfulEscalations those that helped (see the package
	// documentation).
	Escalations        int `json:"escalations"`
	HelpfulEscalations int `json:"helpful_escalations"`
	// VerifiedCompletions counts delegations completed with a verified
	// report.
	VerifiedCompletions int `json:"verified_completions"`
	// RejectedReports counts reports the delegator sent back (revise) or
	// rejected.
	RejectedReports int `json:"rejected_reports"`
	// Failures counts delegations that failed other than by cancellation;
	// Cancelled those cancelled.
	Failures  int `json:"failures"`
	Cancelled int `json:"cancelled"`
	// InfraFailures counts delegations that failed for the infrastructure
	// (the provider failed or was unreachable, a panic outside the agent):
	// recorded, never weighed against the agent.
	InfraFailures int `json:"infra_failures,omitempty"`
	// Runs counts the runs the agent took part in; LastRun is the latest.
	Runs    int    `json:"runs"`
	LastRun string `json:"last_run,omitempty"`
	// Updated is the time of the last event that changed the record.
	Updated time.Time `json:"updated"`
}

// counts returns the record's counters, for merging concurrent saves.
func (r *Record) counts() []*int {
	return []*int{&r.Delegations, &r.AlignedFirstTry, &r.Reacceptances, &r.Declines, &r.Violations, &r.Escalations,
		&r.HelpfulEscalations, &r.VerifiedCompletions, &r.RejectedReports, &r.Failures, &r.Cancelled, &r.InfraFailures, &r.Runs}
}

// Evidence returns the weighted successes and failures of the record.
func (r *Record) Evidence() (successes, failures float64) {
	successes = WeightCompletion*float64(r.VerifiedCompletions) +
		WeightAlignedFirstTry*float64(r.AlignedFirstTry) +
		WeightHelpfulEscalation*float64(r.HelpfulEscalations)
	failures = WeightFailure*float64(r.Failures) +
		WeightRejectedReport*float64(r.RejectedReports) +
		WeightReacceptance*float64(r.Reacceptances) +
		WeightViolation*float64(r.Violations)
	return successes, failures
}

// Beta returns the parameters of the record's posterior. A nil record has
// the prior's.
func (r *Record) Beta() (alpha, beta float64) {
	if r == nil {
		return PriorAlpha, PriorBeta
	}
	s, f := r.Evidence()
	return PriorAlpha + s, PriorBeta + f
}

// Score returns the mean and standard deviation of the record's posterior.
// A nil record has the prior's: 0.5 and about 0.22.
func (r *Record) Score() (mean, sd float64) {
	a, b := r.Beta()
	n := a + b
	return a / n, math.Sqrt(a * b / (n * n * (n + 1)))
}

// The trust levels, as Supervision.Level carries them: the values of
// orchestrator.LevelNew, LevelLow, LevelMedium and LevelHigh, untyped so that
// they serve as strings too.
const (
	LevelNew    = "new"
	LevelLow    = "low"
	LevelMedium = "medium"
	LevelHigh   = "high"
)

// Policy maps scores to supervision. DefaultPolicy documents the defaults.
type Policy struct {
	// The supervision of each level.
	New, Low, Medium, High orchestrator.Supervision
	// An agent is trusted highly when its mean is at least HighMean and its
	// sd at most HighSD.
	HighMean, HighSD float64
	// An agent's trust is low when its mean is below LowMean or its sd
	// above LowSD.
	LowMean, LowSD float64
}

// DefaultPolicy returns the levels of the package documentation.
func DefaultPolicy() Policy {
	return Policy{
		New:      orchestrator.Supervision{Level: LevelNew, ModelJudge: true, ModelVerify: true, ProgressEvery: 5, MaxRevisions: 2},
		Low:      orchestrator.Supervision{Level: LevelLow, ModelJudge: true, ModelVerify: true, ProgressEvery: 3, MaxRevisions: 1},
		Medium:   orchestrator.Supervision{Level: LevelMedium, ModelJudge: true, ModelVerify: true, ProgressEvery: 8, MaxRevisions: 2},
		High:     orchestrator.Supervision{Level: LevelHigh, ModelJudge: false, ModelVerify: false, ProgressEvery: 0, MaxRevisions: 3},
		HighMean: 0.8, HighSD: 0.1,
		LowMean: 0.5, LowSD: 0.2,
	}
}

// Supervision returns the supervision p sets for r; a nil record, or one
// without weighted evidence, is new.
func (p Policy) Supervision(r *Record) orchestrator.Supervision {
	if r == nil {
		return p.New
	}
	if s, f := r.Evidence(); s+f == 0 {
		return p.New
	}
	mean, sd := r.Score()
	switch {
	case mean >= p.HighMean && sd <= p.HighSD:
		return p.High
	case mean < p.LowMean || sd > p.LowSD:
		return p.Low
	}
	return p.Medium
}
