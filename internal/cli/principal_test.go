package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
)

type fakePauser struct{ pauses, resumes int }

func (f *fakePauser) Pause()  { f.pauses++ }
func (f *fakePauser) Resume() { f.resumes++ }

var testGoal = &agents.Goal{Objective: "write a haiku", Criteria: []string{"haiku.txt exists"}, Constraints: []string{"three lines"}}

var testAcceptance = &agents.Acceptance{RestatedIntent: "a haiku, so the user smiles", Plan: []string{"write haiku.txt"},
	AcknowledgedCriteria: []string{"I will write haiku.txt"}, AcknowledgedConstraints: []string{"three lines only"},
	Assumptions: []string{"English"}, Risks: []string{"bad puns"}, Confidence: 0.8}

func TestTerminalPrincipalJudgesAcceptance(t *testing.T) {
	tests := []struct {
		input      string
		aligned    bool
		correction string
	}{
		{"\n", true, ""},
		{"y\n", true, ""},
		{"YES\n", true, ""},
		{"make it about trust\n", false, "make it about trust"},
		{"n\nmake it rhyme\n", false, "make it rhyme"},
		{"no\n\n", false, "The user did not confirm this understanding of the goal; restate it more faithfully."},
	}
	for _, tt := range tests {
		var out strings.Builder
		fp := &fakePauser{}
		p := NewTerminalPrincipal(strings.NewReader(tt.input), &out, fp)
		al, err := p.JudgeAcceptance(context.Background(), testGoal, "lead", testAcceptance)
		if err != nil {
			t.Fatalf("%q: %v", tt.input, err)
		}
		if al.Aligned != tt.aligned || al.Correction != tt.correction || al.By != "user" {
			t.Errorf("%q: got %+v", tt.input, al)
		}
		if !tt.aligned && (len(al.Gaps) != 1 || !strings.Contains(al.Gaps[0], tt.correction)) {
			t.Errorf("%q: gaps %v", tt.input, al.Gaps)
		}
		if fp.pauses != 1 || fp.resumes != 1 {
			t.Errorf("%q: view paused %d, resumed %d times", tt.input, fp.pauses, fp.resumes)
		}
		shown := out.String()
		for _, want := range []string{"This is what lead understood", "a haiku, so the user smiles", "1. write haiku.txt",
			"haiku.txt exists", "→ I will write haiku.txt", "three lines only", "English", "bad puns", "80%"} {
			if !strings.Contains(shown, want) {
				t.Errorf("%q: %q not shown:\n%s", tt.input, want, shown)
			}
		}
	}
}

func TestTerminalPrincipalAnswersEscalations(t *testing.T) {
	withRec := &agents.Escalation{Kind: agents.KindAmbiguity, Question: "Which form?", Options: []string{"haiku", "limerick"},
		Recommendation: "haiku", From: "lead", Via: []string{"writer"}}
	noRec := &agents.Escalation{Kind: agents.KindMissingInformation, Question: "What language?", From: "lead"}
	tests := []struct {
		name, input string
		esc         *agents.Escalation
		want        agents.Resolution
	}{
		{"number picks an option", "2\n", withRec, agents.Resolution{Answer: "limerick", Decision: "limerick", By: "user"}},
		{"empty takes the recommendation", "\n", withRec, agents.Resolution{Answer: "haiku", Decision: "haiku", By: "user"}},
		{"text is the answer", "a sonnet, please\n", withRec, agents.Resolution{Answer: "a sonnet, please", By: "user"}},
		{"out of range number is text", "7\n", withRec, agents.Resolution{Answer: "7", By: "user"}},
		{"empty without a recommendation asks again", "\nFrench\n", noRec, agents.Resolution{Answer: "French", By: "user"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			p := NewTerminalPrincipal(strings.NewReader(tt.input), &out, nil)
			res, err := p.AnswerEscalation(context.Background(), tt.esc)
			if err != nil {
				t.Fatal(err)
			}
			if res != tt.want {
				t.Errorf("got %+v, want %+v", res, tt.want)
			}
			if !strings.Contains(out.String(), tt.esc.Question) {
				t.Errorf("question not shown:\n%s", out.String())
			}
		})
	}
	t.Run("shows options, recommendation and the way it came", func(t *testing.T) {
		var out strings.Builder
		p := NewTerminalPrincipal(strings.NewReader("1\n"), &out, nil)
		if _, err := p.AnswerEscalation(context.Background(), withRec); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"writer (via lead) escalates: ambiguity", "1. haiku", "2. limerick", "Recommendation: haiku", "1-2: pick an option"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%q not shown:\n%s", want, out.String())
			}
		}
	})
}

// noInput opens each stdin a run may be given with no one behind it: empty,
// /dev/null, a file already closed, and one whose reads fail.
func noInput(t *testing.T) map[string]func() io.Reader {
	t.Helper()
	return map[string]func() io.Reader{
		"empty": func() io.Reader { return strings.NewReader("") },
		"dev null": func() io.Reader {
			f, err := os.Open(os.DevNull)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		},
		"closed": func() io.Reader {
			f, err := os.Open(os.DevNull)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			return f
		},
		"unreadable": func() io.Reader { return iotest.ErrReader(errors.New("input/output error")) },
	}
}

// TestTerminalPrincipalNoOneAnswers: when stdin gives no answer, every
// question fails closed, says so, and is never recorded as the user's: the
// acceptance is not confirmed, an escalation is refused (its recommendation
// not taken), a breach is not accepted.
func TestTerminalPrincipalNoOneAnswers(t *testing.T) {
	withRec := &agents.Escalation{Kind: agents.KindBlocked, Question: "Delete the old files?", Options: []string{"approve", "reject"},
		Recommendation: "approve", From: "lead"}
	noRec := &agents.Escalation{Kind: agents.KindClarification, Question: "What language?", From: "lead"}
	bs := []orchestrator.Breach{{Index: 1, Constraint: "three lines", Why: "four lines"}}
	for name, in := range noInput(t) {
		t.Run(name, func(t *testing.T) {
			said := func(out string, want ...string) {
				t.Helper()
				for _, w := range append(want, "no one answered") {
					if !strings.Contains(out, w) {
						t.Errorf("%q not said:\n%s", w, out)
					}
				}
				if strings.Contains(out, "(no more input") {
					t.Errorf("the old wording:\n%s", out)
				}
			}
			var out strings.Builder
			al, err := NewTerminalPrincipal(in(), &out, &fakePauser{}).JudgeAcceptance(context.Background(), testGoal, "lead", testAcceptance)
			if err != nil {
				t.Fatal(err)
			}
			if al.Aligned || al.By != agents.ByRuntime || !al.Unjudged || len(al.Gaps) != 1 || !strings.Contains(al.Gaps[0], "no one answered") {
				t.Errorf("acceptance: got %+v, want not aligned, unjudged, by the runtime", al)
			}
			said(out.String(), "not confirmed", "lead may not start")

			for _, e := range []*agents.Escalation{withRec, noRec} {
				out.Reset()
				res, err := NewTerminalPrincipal(in(), &out, nil).AnswerEscalation(context.Background(), e)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Refused || res.By != agents.ByRuntime || res.Decision != "" || !strings.Contains(res.Answer, "no one answered") {
					t.Errorf("%s: got %+v, want refused by the runtime", e.Question, res)
				}
				said(out.String(), "refused")
			}

			out.Reset()
			acc, err := NewTerminalPrincipal(in(), &out, nil).AcceptBreaches(context.Background(), testGoal, "lead", &agents.Report{Result: "four lines"}, bs)
			if err != nil || len(acc) != 0 {
				t.Errorf("breaches: accepted %+v, %v", acc, err)
			}
			said(out.String(), "not accepted")
		})
	}
}

// blockingReader never returns, like a terminal nobody types at.
type blockingReader struct{ ch chan struct{} }

func (b blockingReader) Read([]byte) (int, error) { <-b.ch; return 0, nil }

func TestTerminalPrincipalStopsOnCancel(t *testing.T) {
	br := blockingReader{ch: make(chan struct{})}
	defer close(br.ch)
	var out strings.Builder
	p := NewTerminalPrincipal(br, &out, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.AnswerEscalation(ctx, &agents.Escalation{Question: "?"}); err == nil {
		t.Error("answered a cancelled question")
	}
	if _, err := p.JudgeAcceptance(ctx, testGoal, "lead", testAcceptance); err == nil {
		t.Error("judged a cancelled acceptance")
	}
}

func TestTerminalPrincipalAcceptsBreaches(t *testing.T) {
	bs := []orchestrator.Breach{{Index: 1, Constraint: "three lines", Why: "reported not respected: four lines"},
		{Index: 2, Constraint: "no rhyme", Why: "a deviation names it"}}
	rep := &agents.Report{Result: "a haiku of four lines"}
	for _, tt := range []struct {
		input string
		want  []agents.AcceptedBreach
	}{
		{"", nil},        // no input: nothing accepted
		{"\n\n", nil},    // Enter: not accepted
		{"n\nno\n", nil}, // refused
		{"y\nworth it\nn\n", []agents.AcceptedBreach{{Constraint: 1, Reason: "worth it"}}},
		{"n\nyes\n\n", []agents.AcceptedBreach{{Constraint: 2, Reason: "accepted by the user"}}},
	} {
		var out strings.Builder
		p := NewTerminalPrincipal(strings.NewReader(tt.input), &out, &fakePauser{})
		got, err := p.AcceptBreaches(context.Background(), testGoal, "lead", rep, bs)
		if err != nil {
			t.Fatalf("%q: %v", tt.input, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: accepted %+v, want %+v", tt.input, got, tt.want)
		}
		if !strings.Contains(out.String(), "Constraint 1: three lines") {
			t.Errorf("%q: breach not shown:\n%s", tt.input, out.String())
		}
	}
}
