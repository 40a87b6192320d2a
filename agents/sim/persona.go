package sim

import (
	"errors"
	"fmt"
)

// Persona names a way of getting the protocol wrong, as real models do, for
// evals. The zero value, Default, plays the protocol faithfully. A persona
// changes only how the simulator acts as a delegate; as a delegator (judging,
// answering, verifying) and as a consulted peer it always behaves.
type Persona string

// The personas.
const (
	// Default plays the protocol faithfully.
	Default Persona = ""
	// Eager calls an action tool before accepting, then behaves.
	Eager Persona = "eager"
	// YesMan accepts even goals it should decline.
	YesMan Persona = "yes-man"
	// Drifter restates an intent that has nothing to do with the goal's.
	Drifter Persona = "drifter"
	// Silent never asks or escalates, even when it should.
	Silent Persona = "silent"
	// OverAsker escalates needlessly before every action.
	OverAsker Persona = "over-asker"
	// Looper repeats the same tool call with the same arguments forever.
	Looper Persona = "looper"
	// Malformed sends broken JSON, then arguments missing a required field,
	// then recovers.
	Malformed Persona = "malformed"
	// Hallucinator calls a tool that does not exist and cites it as
	// evidence, then recovers.
	Hallucinator Persona = "hallucinator"
	// Quitter reports the goal complete without doing the work.
	Quitter Persona = "quitter"
	// Withholder leaves a criterion out of its report.
	Withholder Persona = "withholder"
	// Prose answers in prose instead of tool calls, forever.
	Prose Persona = "prose"
	// Stubborn restates an unrelated intent and, told it is misaligned,
	// sends the same acceptance again, word for word.
	Stubborn Persona = "stubborn"
	// Meddler, consulted by a peer, tries to act (calls a tool) instead of
	// advising; given a goal, it delegates it to whoever it may, even back
	// up its chain.
	Meddler Persona = "meddler"
	// Offplan names one tool in its plan and uses another.
	Offplan Persona = "offplan"
)

// Personas returns the personas that get the protocol wrong, in a stable
// order; Default is not among them. The slice is new: the caller's to keep.
func Personas() []Persona {
	return []Persona{Eager, YesMan, Drifter, Silent, OverAsker, Looper, Malformed, Hallucinator, Quitter, Withholder, Prose, Stubborn, Meddler, Offplan}
}

// ErrUnknownPersona is matched by the error of a simulator given a persona
// it does not know.
var ErrUnknownPersona = errors.New("sim: unknown persona")

// Describe returns a one-line description of p, "" for an unknown persona.
func Describe(p Persona) string {
	switch p {
	case Default:
		return "plays the protocol faithfully: accepts by restating the goal, works with its tools or delegates, completes with evidence"
	case Eager:
		return "calls an action tool before its acceptance is judged aligned, then behaves"
	case YesMan:
		return "never declines: accepts even a goal marked impossible"
	case Drifter:
		return "restates an intent with no word in common with the goal's, until told it is misaligned"
	case Silent:
		return "never asks or escalates, even when the goal says information is missing or a tool keeps failing"
	case OverAsker:
		return "asks before accepting and escalates (ambiguity, not blocking) before every action"
	case Looper:
		return "once aligned, repeats the same tool call with identical arguments forever"
	case Malformed:
		return "first sends broken JSON arguments, then arguments missing a required field, then recovers"
	case Hallucinator:
		return "once aligned, calls run_shell, a tool that does not exist, and cites that call as evidence in its first report, then recovers"
	case Quitter:
		return "once aligned, reports every criterion met without doing any work"
	case Withholder:
		return "does the work but leaves the last criterion out of its report"
	case Prose:
		return "answers in prose instead of tool calls, forever"
	case Stubborn:
		return "restates an intent with no word in common with the goal's and, told it is misaligned, sends the same acceptance again word for word"
	case Meddler:
		return "consulted for advice, calls a tool instead of answering; given a goal, delegates it to whoever it may, even back up its chain (as any simulated delegator does where the team allows it)"
	case Offplan:
		return "names one tool in its plan, then works with another it never named"
	}
	return ""
}

// ParsePersona returns the persona named s ("" or "default" for Default).
func ParsePersona(s string) (Persona, error) {
	if s == "default" {
		return Default, nil
	}
	p := Persona(s)
	if !p.known() {
		return "", fmt.Errorf("%w %q (have %v)", ErrUnknownPersona, s, Personas())
	}
	return p, nil
}

func (p Persona) known() bool { return p == Default || Describe(p) != "" }
