package sim

import (
	"reflect"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/prompts"
)

// These tests pin the simulator's reading of the built-in templates: each
// renders a template with known data and parses it back. A template change
// that breaks them changes what the simulator sees.

func mustRender(t *testing.T, name string, d *prompts.Data) string {
	t.Helper()
	s, err := prompts.Default().Render(name, d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseDelegateSystem(t *testing.T) {
	g := agents.Goal{
		Intent:        "Help new contributors get productive",
		Objective:     "Write an onboarding guide",
		Criteria:      []string{"Explains the build", "Lists who to ask:\nthe maintainers"},
		Constraints:   []string{"No secrets"},
		Context:       "Team of five.\nSecond line.",
		ParentIntents: []string{"Grow the project"},
		Budget:        agents.Budget{Steps: 10, Tokens: 1000},
	}
	d := &prompts.Data{Agent: "writer", Role: "Writes docs. Carefully.", Goal: &g, Tools: []string{"write_file", "read_file"},
		Delegates: []prompts.Peer{{Name: "editor", Role: "Edits prose: tone, length."}, {Name: "checker", Role: "Checks facts."}},
		Peers:     []prompts.Peer{{Name: "lawyer", Role: "Knows licences."}}}
	got := parseGoal(mustRender(t, prompts.DelegateSystem, d))
	want := goalInfo{
		Agent: "writer", Role: "Writes docs. Carefully.",
		Intent: g.Intent, Objective: g.Objective, Criteria: g.Criteria, Constraints: g.Constraints,
		Context: g.Context, Parents: g.ParentIntents, Tools: d.Tools,
		Delegates: []peer{{"editor", "Edits prose: tone, length."}, {"checker", "Checks facts."}},
		Peers:     []peer{{"lawyer", "Knows licences."}},
		Parsed:    true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseGoal:\n got %+v\nwant %+v", got, want)
	}

	// A bare goal: no criteria, constraints, tools or delegates.
	bare := agents.Goal{Intent: "Why", Objective: "What"}
	got = parseGoal(mustRender(t, prompts.DelegateSystem, &prompts.Data{Agent: "a", Goal: &bare}))
	if got.Intent != "Why" || got.Objective != "What" || got.Criteria != nil || got.Tools != nil || got.Delegates != nil || !got.Parsed {
		t.Errorf("bare goal: %+v", got)
	}
}

func TestParseDelegatorSystem(t *testing.T) {
	g := agents.Goal{Intent: "I", Objective: "O", Criteria: []string{"c1", "c2"}, Constraints: []string{"k1"}}
	got := parseGoal(mustRender(t, prompts.DelegatorSystem, &prompts.Data{Agent: "lead", Role: "Leads.", Goal: &g}))
	if got.Agent != "lead" || got.Intent != "I" || got.Objective != "O" ||
		!reflect.DeepEqual(got.Criteria, g.Criteria) || !reflect.DeepEqual(got.Constraints, g.Constraints) {
		t.Errorf("parseGoal(delegator) = %+v", got)
	}
}

func TestParseUnknownPrompt(t *testing.T) {
	got := parseGoal("Do something useful.")
	if got.Parsed || got.Intent != "" {
		t.Errorf("parseGoal(free text) = %+v", got)
	}
	if got := parseAcceptance("hello"); got.Parsed {
		t.Errorf("parseAcceptance(free text) = %+v", got)
	}
	if got := parseReport("hello"); got.Parsed {
		t.Errorf("parseReport(free text) = %+v", got)
	}
}

func TestParseAcceptance(t *testing.T) {
	a := agents.Acceptance{RestatedIntent: "To help.\nReally.", Plan: []string{"p1", "p2"}, AcknowledgedCriteria: []string{"c1"},
		AcknowledgedConstraints: nil, Assumptions: []string{"as1"}, Confidence: 0.7}
	text := mustRender(t, prompts.JudgeAlignment, &prompts.Data{Delegate: "writer", Acceptance: &a, Findings: []string{"f1"}})
	got := parseAcceptance(text)
	want := acceptanceInfo{Delegate: "writer", RestatedIntent: a.RestatedIntent, Plan: a.Plan, Criteria: a.AcknowledgedCriteria,
		Assumptions: a.Assumptions, Findings: []string{"f1"}, Parsed: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseAcceptance:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseReport(t *testing.T) {
	r := agents.Report{Result: "Done: it works.", Criteria: []agents.CriterionResult{
		{Criterion: "Builds: yes", Met: true, Evidence: "go build ok"},
		{Criterion: "Tested", Met: false},
		{Criterion: "Listed", Met: true},
	}, Deviations: []string{"d1"}}
	for _, round := range []int{1, 3} {
		text := mustRender(t, prompts.VerifyReport, &prompts.Data{Delegate: "writer", Report: &r, Round: round, Findings: []string{"f"}})
		got := parseReport(text)
		want := reportInfo{Delegate: "writer", Revision: round, Result: r.Result, Findings: []string{"f"}, Parsed: true,
			Criteria: []criterionInfo{{"Builds: yes", "go build ok", true}, {"Tested", "", false}, {"Listed", "", true}}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round %d parseReport:\n got %+v\nwant %+v", round, got, want)
		}
	}
}

func TestParseEscalation(t *testing.T) {
	e := agents.Escalation{From: "writer", Kind: agents.KindBlocked, Blocking: true, Question: "Which one?\nReally.",
		Options: []string{"a", "b"}, Recommendation: "b", Via: []string{"x", "y"}}
	got := parseEscalation(mustRender(t, prompts.AnswerEscalation, &prompts.Data{Escalation: &e}))
	want := escalationInfo{From: "writer", Kind: "blocked", Blocking: true, Question: e.Question, Options: e.Options, Recommendation: "b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseEscalation:\n got %+v\nwant %+v", got, want)
	}
	e = agents.Escalation{From: "w", Kind: agents.KindAmbiguity, Question: "Q?"}
	got = parseEscalation(mustRender(t, prompts.AnswerEscalation, &prompts.Data{Escalation: &e}))
	if got.Question != "Q?" || got.Blocking || got.Options != nil || got.Recommendation != "" {
		t.Errorf("parseEscalation(bare) = %+v", got)
	}
}

func TestParseConsult(t *testing.T) {
	c := agents.Consultation{From: "writer", Question: "How long?", Context: "A guide."}
	got := parseConsult(mustRender(t, prompts.Consult, &prompts.Data{Consultation: &c}))
	if got != (consultInfo{From: "writer", Question: "How long?", Context: "A guide."}) {
		t.Errorf("parseConsult = %+v", got)
	}
}

func TestMisalignedFeedback(t *testing.T) {
	text := mustRender(t, prompts.Misaligned, &prompts.Data{Round: 1, Findings: []string{
		"1 criteria acknowledged, the goal has 3: acknowledge each, in order",
		"0 constraints acknowledged, the goal has 2: acknowledge each, in order",
		"the plan uses run_shell, which is not granted to you (granted: [write_file])",
	}})
	gaps := misalignedGaps(text)
	if len(gaps) != 3 {
		t.Fatalf("gaps = %q", gaps)
	}
	if c, k := wantedCounts(gaps); c != 3 || k != 2 {
		t.Errorf("wantedCounts = %d, %d", c, k)
	}
	if got := refusedTools(gaps); !reflect.DeepEqual(got, []string{"run_shell"}) {
		t.Errorf("refusedTools = %q", got)
	}
}

func TestWords(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"Help new contributors", "helping contributor onboarding", true},
		{"Writes the guides", "write a guide", true},
		{"maximise quarterly advertising revenue", "Write an onboarding guide for new contributors", false},
		{"that with from this", "that with from this", false}, // stopwords only
		{"API docs", "api docs", true},
	}
	for _, c := range cases {
		if got := overlap(c.a, c.b); got != c.want {
			t.Errorf("overlap(%q, %q) = %v", c.a, c.b, got)
		}
	}
	for in, want := range map[string]string{
		"Write an onboarding guide for the repository!": "write-an-onboarding-guide-for-the-repository",
		"   ":          "note",
		"Café déjà vu": "caf-d-j-vu",
		"a very long objective that goes on and on and on forever and ever": "a-very-long-objective-that-goes-on-and-on-and-on",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
	if !hasWord("This is Impossible.", "impossible") || hasWord("impossibly", "impossible") {
		t.Error("hasWord")
	}
}
