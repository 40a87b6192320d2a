package prompts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/entrust-dev/entrust/agents"
)

// The built-in templates with actions are also written out in Go below: a
// render through them writes, byte for byte, what text/template writes from
// the same source and data, without reflection (text/template took about a
// fifth of a delegation's CPU). Each is pinned to the SHA-256 of the source
// it mirrors: a Set uses it only for that exact text, so an override, or a
// built-in template edited without its Go twin, renders through
// text/template as before (and TestCompiledMatchTemplates fails until the
// twin is brought up to date). A twin declines data holding types it does
// not know (a Goal that is not a *agents.Goal…); text/template renders
// those too.
//
// Read each twin beside its template: text/template's "{{-" trims the
// white space before it, so "\n{{- range .X}}\n- {{.}}" writes "\n- x"
// for each x.

// twin names the Go twin of a built-in template (0: none). Twins are called
// through twin.render, a switch rather than a function value, so that the
// buffer a render writes into can live on the caller's stack.
type twin int

const (
	noTwin twin = iota
	twinDelegateSystem
	twinDelegatorSystem
	twinJudgeAlignment
	twinVerifyReport
	twinMisaligned
	twinNudge
	twinAnswerEscalation
	twinCompact
	twinConsult
	twinConsultSystem
)

// compiled holds, for each built-in template with a Go twin, the twin and
// the hex SHA-256 of the template source it mirrors.
var compiled = map[string]struct {
	twin twin
	sum  string
}{
	DelegateSystem:   {twinDelegateSystem, "0d3ad8a08c118ef1a184ea1bd0ca083672685382f08e4cc07dff0487699ab6ff"},
	DelegatorSystem:  {twinDelegatorSystem, "10546eebb2325a6181b2173d1dca6cd3ecab81098694fe33e3dced13ed9a0044"},
	JudgeAlignment:   {twinJudgeAlignment, "b07c278fa8cca107adf2e48e29b44696835de9a6f23e11504a192c8d64ca10e2"},
	VerifyReport:     {twinVerifyReport, "cf0d5ef6cca217b4ede86b4bd1fb7be19f83b1c7602d8270fbabe776e6e85c3e"},
	Misaligned:       {twinMisaligned, "6d5f44651c328b22b1aac76bc626e17657aaa54880c09141db10bcc78ee189fd"},
	Nudge:            {twinNudge, "ff27adf1808357d52b2990c65e131e4b6b6d5c35f4f4f3d8dd22645bd1895b8e"},
	AnswerEscalation: {twinAnswerEscalation, "1f387429724f418a229e52b594009d6377ca700e8f8444fd8d7a6c665922424d"},
	Compact:          {twinCompact, "c03ab0275086c66f14276b6f36a66cb55ba3a0044c60186f2c5012a79be12187"},
	Consult:          {twinConsult, "da13642c7da42fbc6ab0bde00d5e050a43da32eaaceefc5fd00905ca4820c79d"},
	ConsultSystem:    {twinConsultSystem, "a5085ecbca5054ce370f457fc3122da59c5033fb124819028a2249b2cdc1a364"},
}

// compiledFor returns the Go twin of template name for source text, if
// there is one for exactly that text.
func compiledFor(name, text string) twin {
	c, ok := compiled[name]
	if !ok || c.sum != sourceSum(text) {
		return noTwin
	}
	return c.twin
}

// render appends the output of t for d to b; ok is false when d holds a
// type t does not know (text/template renders it then).
func (t twin) render(b []byte, d *Data) (out []byte, ok bool) {
	switch t {
	case twinDelegateSystem:
		return delegateSystem(b, d)
	case twinDelegatorSystem:
		return delegatorSystem(b, d)
	case twinJudgeAlignment:
		return judgeAlignment(b, d)
	case twinVerifyReport:
		return verifyReport(b, d)
	case twinMisaligned:
		return misaligned(b, d)
	case twinNudge:
		return nudge(b, d)
	case twinAnswerEscalation:
		return answerEscalation(b, d)
	case twinCompact:
		return compact(b, d)
	case twinConsult:
		return consult(b, d)
	case twinConsultSystem:
		return consultSystem(b, d)
	}
	return b, false
}

func sourceSum(text string) string {
	s := sha256.Sum256([]byte(text))
	return hex.EncodeToString(s[:])
}

// asGoal returns the goal a Data field holds: ok is false for a type the
// twins do not know. A nil interface and a nil *agents.Goal are both no
// goal, as {{with}} sees them.
func asGoal(v any) (*agents.Goal, bool) {
	if v == nil {
		return nil, true
	}
	g, ok := v.(*agents.Goal)
	return g, ok
}

// as is asGoal for the other acts.
func as[T any](v any) (*T, bool) {
	if v == nil {
		return nil, true
	}
	p, ok := v.(*T)
	return p, ok
}

// you writes "You are {{.Agent}}. {{.Role}}".
func you(b []byte, d *Data) []byte {
	b = labeled(b, "You are ", d.Agent)
	b = append(b, ". "...)
	return append(b, d.Role...)
}

// labeled writes label, then v.
func labeled[S ~string](b []byte, label string, v S) []byte {
	return append(append(b, label...), v...)
}

// items writes "\n{{- range .}}\n- {{.}}{{- end}}" over list.
func items(b []byte, list []string) []byte {
	for _, s := range list {
		b = labeled(b, "\n- ", s)
	}
	return b
}

// heading writes "\nTITLE", the line above a list.
func heading(b []byte, title string) []byte {
	return append(append(b, '\n'), title...)
}

// titled writes "\n{{- if .}}\nTITLE{{range .}}\n- {{.}}{{end}}{{end}}":
// the list under its title, or nothing when it is empty.
func titled(b []byte, title string, list []string) []byte {
	if len(list) == 0 {
		return b
	}
	return items(heading(b, title), list)
}

// numbered is titled with "{{inc $i}}. {{$c}}" for each item.
func numbered(b []byte, title string, list []string) []byte {
	if len(list) == 0 {
		return b
	}
	b = heading(b, title)
	for i, s := range list {
		b = append(b, '\n')
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = labeled(b, ". ", s)
	}
	return b
}

// peers writes "\n- {{.Name}}: {{.Role}}" for each peer under title, or
// nothing when there are none.
func peers(b []byte, title string, ps []Peer) []byte {
	if len(ps) == 0 {
		return b
	}
	b = heading(b, title)
	for _, p := range ps {
		b = labeled(b, "\n- ", p.Name)
		b = labeled(b, ": ", p.Role)
	}
	return b
}

// join writes {{join list sep}}.
func join(b []byte, list []string, sep string) []byte {
	for i, s := range list {
		if i > 0 {
			b = append(b, sep...)
		}
		b = append(b, s...)
	}
	return b
}

func delegateSystem(b []byte, d *Data) ([]byte, bool) {
	g, ok := asGoal(d.Goal)
	if !ok {
		return b, false
	}
	b = you(b, d)
	b = append(b, "\n\nProtocol: every act is a tool call; prose is commentary.\n"...)
	if g != nil {
		b = labeled(b, "\n# The goal\nIntent (why): ", g.Intent)
		b = labeled(b, "\nObjective (what): ", g.Objective)
		b = numbered(b, "Success criteria:", g.Criteria)
		b = numbered(b, "Constraints:", g.Constraints)
		if g.Context != "" {
			b = labeled(b, "\nContext: ", g.Context)
		}
		b = titled(b, "This serves, from the top down:", g.ParentIntents)
		if g.Budget.Steps != 0 {
			b = append(b, "\nBudget: "...)
			b = strconv.AppendInt(b, int64(g.Budget.Steps), 10)
			b = append(b, " steps"...)
			if g.Budget.Tokens != 0 {
				b = append(b, ", "...)
				b = strconv.AppendInt(b, int64(g.Budget.Tokens), 10)
				b = append(b, " tokens"...)
			}
			b = append(b, '.')
		}
	}
	b = append(b, '\n')
	if len(d.Tools) > 0 {
		b = append(b, "\nTools granted to you once aligned: "...)
		b = join(b, d.Tools, ", ")
		b = append(b, '.')
	} else {
		b = append(b, "\nNo action tools are granted to you: you work by reasoning"...)
		if len(d.Delegates) > 0 {
			b = append(b, " and delegation"...)
		}
		b = append(b, '.')
	}
	b = peers(b, "You may delegate (delegate) to:", d.Delegates)
	b = peers(b, "You may consult (consult):", d.Peers)
	return append(b, '\n'), true
}

func delegatorSystem(b []byte, d *Data) ([]byte, bool) {
	g, ok := asGoal(d.Goal)
	if !ok {
		return b, false
	}
	b = you(b, d)
	b = append(b, "\nYou delegated a goal; act on what your delegate sent, with the tool offered.\n"...)
	if g != nil {
		b = labeled(b, "\nThe goal you delegated:\nIntent: ", g.Intent)
		b = labeled(b, "\nObjective: ", g.Objective)
		b = numbered(b, "Success criteria:", g.Criteria)
		b = numbered(b, "Constraints:", g.Constraints)
	}
	return append(b, '\n'), true
}

func judgeAlignment(b []byte, d *Data) ([]byte, bool) {
	a, ok := as[agents.Acceptance](d.Acceptance)
	if !ok {
		return b, false
	}
	b = append(b, d.Delegate...)
	b = append(b, " answered your goal with this acceptance:\n"...)
	if a != nil {
		b = labeled(b, "Restated intent: ", a.RestatedIntent)
		b = append(b, "\nPlan:"...)
		b = items(b, a.Plan)
		b = append(b, "\nAcknowledged criteria:"...)
		b = items(b, a.AcknowledgedCriteria)
		b = append(b, "\nAcknowledged constraints:"...)
		b = items(b, a.AcknowledgedConstraints)
		b = titled(b, "Assumptions:", a.Assumptions)
		b = titled(b, "Risks:", a.Risks)
		b = append(b, "\nConfidence: "...)
		b = fmt.Append(b, a.Confidence) // as text/template prints it
	}
	b = titled(b, "The runtime's structural checks found:", d.Findings)
	return append(b, "\nIs it aligned with your intent?\n"...), true
}

func verifyReport(b []byte, d *Data) ([]byte, bool) {
	r, ok := as[agents.Report](d.Report)
	if !ok {
		return b, false
	}
	b = append(b, d.Delegate...)
	b = append(b, " reports the goal complete"...)
	if d.Round > 1 {
		b = append(b, " (revision "...)
		b = strconv.AppendInt(b, int64(d.Round), 10)
		b = append(b, ')')
	}
	b = append(b, ":\n"...)
	if r != nil {
		b = labeled(b, "Result: ", r.Result)
		b = append(b, "\nCriteria:"...)
		for _, c := range r.Criteria {
			b = labeled(b, "\n- ", c.Criterion)
			b = append(b, ": "...)
			b = mark(b, c.Met, "met", "NOT met", c.Evidence)
		}
		if len(r.Constraints) > 0 {
			b = append(b, "\nConstraints:"...)
			for _, c := range r.Constraints {
				b = labeled(b, "\n- ", c.Constraint)
				b = append(b, ": "...)
				b = mark(b, c.Respected, "respected", "BROKEN", c.Evidence)
			}
		}
		b = titled(b, "Deviations:", r.Deviations)
	}
	b = titled(b, "The runtime's checks found:", d.Findings)
	b = titled(b, "The runtime noted (weigh it; it is not a failed check):", d.Notes)
	return append(b, "\nVerify it against the criteria.\n"...), true
}

// mark writes "{{if ok}}yes{{else}}no{{end}}{{if .Evidence}} — evidence: {{.Evidence}}{{end}}".
func mark(b []byte, ok bool, yes, no, evidence string) []byte {
	if ok {
		b = append(b, yes...)
	} else {
		b = append(b, no...)
	}
	if evidence != "" {
		b = labeled(b, " — evidence: ", evidence)
	}
	return b
}

func misaligned(b []byte, d *Data) ([]byte, bool) {
	b = append(b, "Your acceptance is not aligned with the delegator's intent (round "...)
	b = strconv.AppendInt(b, int64(d.Round), 10)
	b = append(b, ")."...)
	b = items(b, d.Findings)
	return append(b, "\nCall accept_goal again addressing every point, or decline_goal.\n"...), true
}

func nudge(b []byte, d *Data) ([]byte, bool) {
	b = append(b, "Prose is commentary, not a protocol act. Answer with one of your tools"...)
	if len(d.Tools) > 0 {
		b = append(b, ": "...)
		b = join(b, d.Tools, ", ")
	}
	return append(b, ".\n"...), true
}

func answerEscalation(b []byte, d *Data) ([]byte, bool) {
	e, ok := as[agents.Escalation](d.Escalation)
	if !ok {
		return b, false
	}
	if e != nil {
		b = append(b, e.From...)
		b = labeled(b, " escalates (", e.Kind)
		if e.Blocking {
			b = append(b, ", blocking"...)
		}
		b = labeled(b, "):\n", e.Question)
		b = titled(b, "Options:", e.Options)
		if e.Recommendation != "" {
			b = labeled(b, "\nTheir recommendation: ", e.Recommendation)
		}
		if len(e.Via) > 0 {
			b = append(b, "\nIt reached you through: "...)
			b = join(b, e.Via, " → ")
			b = append(b, '.')
		}
	}
	return append(b, "\nAnswer it with answer_escalation, or, if it is beyond what you can decide, pass it up with escalate.\n"...), true
}

func compact(b []byte, d *Data) ([]byte, bool) {
	g, ok := asGoal(d.Goal)
	if !ok {
		return b, false
	}
	b = you(b, d)
	b = append(b, "\nYour conversation has grown past your context budget, so its older turns are folded into a summary that you will read in their place. Write that summary for yourself, in plain prose without tool calls: what you did, what you found, which files you read or wrote and what they hold, what is done and what is left — above all every fact the goal's success criteria depend on. Your goal, your acceptance and every answer and correction you received are kept in full elsewhere: do not repeat them. Be brief."...)
	if g != nil {
		b = labeled(b, "\nThe goal you work on: ", g.Objective)
		b = numbered(b, "Success criteria:", g.Criteria)
	}
	return append(b, '\n'), true
}

func consult(b []byte, d *Data) ([]byte, bool) {
	c, ok := as[agents.Consultation](d.Consultation)
	if !ok {
		return b, false
	}
	if c != nil {
		b = append(b, c.From...)
		b = labeled(b, " asks: ", c.Question)
		if c.Context != "" {
			b = labeled(b, "\nContext: ", c.Context)
		}
	}
	return append(b, '\n'), true
}

func consultSystem(b []byte, d *Data) ([]byte, bool) {
	b = you(b, d)
	return append(b, "\nA peer asks for your advice. Responsibility for the work stays with them: answer the question plainly, in prose, without calling tools.\n"...), true
}
