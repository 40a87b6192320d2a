package prompts_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/prompts"
)

func sample() *prompts.Data {
	g := &agents.Goal{Intent: "inform", Objective: "write a note", Criteria: []string{"c1", "c2"}, Constraints: []string{"k1"},
		Context: "ctx", ParentIntents: []string{"root intent"}, Budget: agents.Budget{Steps: 9, Tokens: 900}}
	return &prompts.Data{Agent: "w", Role: "writes", Goal: g, Tools: []string{"write_file"},
		Delegates: []prompts.Peer{{Name: "x", Role: "does x"}}, Peers: []prompts.Peer{{Name: "y", Role: "knows y"}},
		Delegate:     "w",
		Acceptance:   &agents.Acceptance{RestatedIntent: "ri", Plan: []string{"p"}, AcknowledgedCriteria: []string{"a"}, AcknowledgedConstraints: []string{"b"}},
		Escalation:   &agents.Escalation{From: "w", Kind: agents.KindRisk, Question: "q?", Options: []string{"o1"}, Recommendation: "o1", Blocking: true, Via: []string{"v"}},
		Report:       &agents.Report{Result: "r", Criteria: []agents.CriterionResult{{Criterion: "c1", Met: true, Evidence: "e"}}},
		Consultation: &agents.Consultation{From: "w", Question: "cq", Context: "cc"},
		Findings:     []string{"f1"}, Round: 2}
}

func TestEveryTemplateRenders(t *testing.T) {
	s := prompts.Default()
	for _, name := range prompts.Names() {
		out, err := s.Render(name, sample())
		if err != nil || strings.TrimSpace(out) == "" {
			t.Errorf("%s: %v %q", name, err, out)
		}
	}
	sys, _ := s.Render(prompts.DelegateSystem, sample())
	for _, want := range []string{"You are w. writes", "Intent (why): inform", "1. c1\n2. c2", "1. k1", "- root intent", "write_file", "- x: does x", "- y: knows y", "Budget: 9 steps, 900 tokens"} {
		if !strings.Contains(sys, want) {
			t.Errorf("delegate_system lacks %q:\n%s", want, sys)
		}
	}
}

func TestOverrides(t *testing.T) {
	s, err := prompts.New(fstest.MapFS{"offer.tmpl": {Data: []byte("Take it, {{.Agent}}.")}})
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := s.Render(prompts.Offer, sample()); out != "Take it, w." {
		t.Fatalf("override not used: %q", out)
	}
	if out, _ := s.Render(prompts.Nudge, sample()); !strings.Contains(out, "Prose") {
		t.Fatalf("the others must stay built in: %q", out)
	}
	if _, err := prompts.New(fstest.MapFS{"ofer.tmpl": {Data: []byte("x")}}); err == nil || !strings.Contains(err.Error(), "ofer") {
		t.Fatalf("a misspelt template name was accepted: %v", err)
	}
	if _, err := prompts.Default().With(prompts.Offer, "{{.Nope"); err == nil {
		t.Fatal("a broken template was accepted")
	}
	w, err := prompts.Default().With(prompts.Offer, "{{.Missing}}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Render(prompts.Offer, sample()); err == nil {
		t.Fatal("a missing field rendered silently")
	}
}

// A template of text alone is rendered once; an override with actions is
// rendered with its data every time.
func TestStaticTemplates(t *testing.T) {
	s := prompts.Default()
	a, err := s.Render(prompts.Offer, &prompts.Data{Agent: "a"})
	if err != nil || a != strings.TrimSpace(s.Text(prompts.Offer)) {
		t.Fatalf("offer %q, %v", a, err)
	}
	o, err := s.With(prompts.Offer, "{{.Agent}}: the goal above is yours.")
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"a", "b"} {
		if got, err := o.Render(prompts.Offer, &prompts.Data{Agent: who}); err != nil || got != who+": the goal above is yours." {
			t.Errorf("override for %s: %q, %v", who, got, err)
		}
	}
	if got, _ := s.Render(prompts.Offer, nil); got != a {
		t.Errorf("the default changed with an override: %q", got)
	}
}
