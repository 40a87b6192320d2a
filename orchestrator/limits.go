package orchestrator

import (
	"github.com/entrust-dev/entrust/agents"
)

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
	MaxClarifications int // ask_clarification calls before acceptance, and escalate calls after it [3 each]; one more is refused as a violation
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
