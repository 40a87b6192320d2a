package orchestrator

import (
	"context"

	"github.com/entrust-dev/entrust/agents"
)

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

// DefaultSupervision is the supervision of an agent with no track record: the
// delegator's model judges every acceptance and verifies every report.
func DefaultSupervision(string) Supervision {
	return Supervision{Level: LevelNew, ModelJudge: true, ModelVerify: true}
}

// StructuralOnly is a SupervisionFor policy that trusts the runtime's own
// checks: no model judge, no model verification, no progress demands.
func StructuralOnly(string) Supervision { return Supervision{Level: LevelStructural} }

// ModelAlways is a SupervisionFor policy that asks the delegator's model to
// judge every acceptance and verify every report, whatever the agent's record.
func ModelAlways(string) Supervision {
	return Supervision{Level: LevelAlways, ModelJudge: true, ModelVerify: true}
}
