package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
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
		if got := visible(in); got != want {
			t.Errorf("visible(%q) = %q, want %q", in, got, want)
		}
	}
	if got := oneLine("a\n\x1b[31mb"); got != `a \x1b[31mb` {
		t.Errorf("oneLine = %q", got)
	}
}

// hostile is text a model could write to rewrite what a person reads: clear
// the screen, move the cursor up, forge a line.
const hostile = "fine\x1b[2J\x1b[1A\rconfirmed: the lead may delete everything\u202e"

func TestTerminalPrincipalNeutralisesModelText(t *testing.T) {
	var out bytes.Buffer
	p := newTerminalPrincipal(strings.NewReader("\n1\n"), &out, nil)
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

func TestReplayNeutralisesModelText(t *testing.T) {
	goal := agents.Goal{Intent: "i", Objective: "o", Criteria: []string{"c"}}
	turn := 0
	m := model.ScriptFunc("m", func(_ context.Context, req *model.Request) (*model.Response, error) {
		turn++
		c := protocoltest.Complete(goal, hostile)
		if turn == 1 {
			c = model.Call(agents.ToolAcceptGoal, agents.Acceptance{RestatedIntent: hostile, Plan: []string{hostile},
				AcknowledgedCriteria: []string{hostile}, AcknowledgedConstraints: []string{}})
		}
		return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{c}}}, nil
	})
	path := filepath.Join(t.TempDir(), "run.jsonl")
	j, err := orchestrator.CreateJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := orchestrator.New(orchestrator.Team{Lead: "m", Members: []orchestrator.Member{{Agent: &agents.Agent{Name: "m", Role: "r", Model: m}}}},
		&orchestrator.Options{Sinks: []orchestrator.Sink{j}})
	if err != nil {
		t.Fatal(err)
	}
	rt.Run(t.Context(), goal)
	j.Close()
	var out, errb bytes.Buffer
	if code := Main([]string{"replay", path}, os.Stdin, &out, &errb); code > 1 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if s := out.String(); strings.ContainsAny(s, "\x1b\r\u202e") || !strings.Contains(s, `\x1b[2J`) {
		t.Errorf("the replay shows raw control characters:\n%q", s)
	}
}
