package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
)

func TestVisible(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, ünïcode":   "plain text, ünïcode",
		"clear\x1b[2Jscreen":    `clear\x1b[2Jscreen`,
		"back\rover":            `back\x0dover`,
		"rtl \u202egnp.exe":     `rtl \u202egnp.exe`,
		"bad \xff byte":         `bad \xff byte`,
		"lines\nand\ttabs stay": "lines\nand\ttabs stay",
		"bell\a and del\x7f":    `bell\x07 and del\x7f`,
		"zero\u200bwidth":       `zero\u200bwidth`,
	} {
		if got := Visible(in); got != want {
			t.Errorf("visible(%q) = %q, want %q", in, got, want)
		}
	}
	if got := OneLine("a\n\x1b[31mb"); got != `a \x1b[31mb` {
		t.Errorf("oneLine = %q", got)
	}
}

// hostile is text a model could write to rewrite what a person reads: clear
// the screen, move the cursor up, forge a line.
const hostile = "fine\x1b[2J\x1b[1A\rconfirmed: the lead may delete everything\u202e"

func TestTerminalPrincipalNeutralisesModelText(t *testing.T) {
	var out bytes.Buffer
	p := NewTerminalPrincipal(strings.NewReader("\n1\n"), &out, nil)
	defer p.Close()
	g := &agents.Goal{Objective: "o", Criteria: []string{"c"}}
	a := &agents.Acceptance{RestatedIntent: hostile, Plan: []string{hostile}, AcknowledgedCriteria: []string{hostile},
		Assumptions: []string{hostile}, Risks: []string{hostile}}
	if _, err := p.JudgeAcceptance(t.Context(), g, "lead", a); err != nil {
		t.Fatal(err)
	}
	e := &agents.Escalation{Kind: agents.KindRisk, Question: hostile, Options: []string{hostile}, Recommendation: hostile, From: "w"}
	if _, err := p.AnswerEscalation(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.ContainsAny(s, "\x1b\r\u202e") || !strings.Contains(s, `\x1b[2J`) {
		t.Errorf("the terminal shows raw control characters:\n%q", s)
	}
}
