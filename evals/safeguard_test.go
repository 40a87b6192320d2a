package evals_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/evals"
	"github.com/entrust-dev/entrust/orchestrator"
)

// The runtime cannot be switched off from here, so each safeguard is
// switched off in the journal: the test runs a scenario, checks that it
// passes, then doctors the journal into what the run would have recorded
// without the safeguard the scenario targets, and requires the scenario's
// targeted expectations to fail and its targeted failure mode to show an
// incident the runtime did not catch. A scorer that cannot fail is a defect.

// doctoring turns a passing journal into the journal of a run without one
// safeguard.
type doctoring struct {
	// safeguard names what is switched off.
	safeguard string
	doctor    func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event
	// fail are the expectation ids that must fail once doctored.
	fail []string
	// uncaught is the failure mode that must show an uncaught incident.
	uncaught string
}

var doctorings = map[string]doctoring{
	"baseline": {
		safeguard: "verification before completion",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			return drop(ev, func(e *orchestrator.Event) bool { return e.Type == orchestrator.EventReportVerified })
		},
		fail:     []string{"e2", "e6"},
		uncaught: "FM-3.2",
	},
	"eager": {
		safeguard: "gating of action tools before an aligned acceptance",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			v := find(t, ev, func(e *orchestrator.Event) bool { return e.Type == orchestrator.EventProtocolViolation })
			ran := &orchestrator.Event{Type: orchestrator.EventToolCalled, Delegation: v.Delegation, Parent: v.Parent, Agent: v.Agent,
				Tool: v.Tool, Arguments: v.Arguments}
			return replace(ev, v, ran)
		},
		fail:     []string{"e1", "e2", "e3", "e4"},
		uncaught: "FM-1.1",
	},
	"drifter": {
		safeguard: "the delegator's alignment judgement",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			for _, e := range ev {
				if e.Type == orchestrator.EventAlignmentJudged && e.Aligned != nil && !*e.Aligned {
					yes := true
					e.Aligned, e.Alignment = &yes, &agents.Alignment{Aligned: true, By: agents.By(e.Agent)}
				}
			}
			return ev
		},
		fail:     []string{"e1", "e2"},
		uncaught: "FM-2.3",
	},
	"hallucinator": {
		safeguard: "refusal of unknown tools",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			v := find(t, ev, func(e *orchestrator.Event) bool { return e.Type == orchestrator.EventProtocolViolation })
			return replace(ev, v, &orchestrator.Event{Type: orchestrator.EventToolCalled, Delegation: v.Delegation, Parent: v.Parent,
				Agent: v.Agent, Tool: v.Tool, Arguments: v.Arguments})
		},
		fail:     []string{"e1", "e2"},
		uncaught: "FM-1.1",
	},
	"malformed": {
		safeguard: "validation of arguments before anything runs",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			var out []*orchestrator.Event
			for _, e := range ev {
				if e.Type == orchestrator.EventToolResult && e.IsError && e.Tool == agents.ToolAcceptGoal {
					out = append(out, &orchestrator.Event{Type: orchestrator.EventGoalAccepted, Delegation: e.Delegation, Parent: e.Parent,
						Agent: e.Agent, Acceptance: &agents.Acceptance{}})
					continue
				}
				out = append(out, e)
			}
			return out
		},
		fail: []string{"e1", "e2"},
	},
	"silent": {
		safeguard: "checking a report's own claims (a criterion reported unmet)",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			return passAnyway(ev, "")
		},
		fail:     []string{"e1", "e2", "e3", "e4", "e5"},
		uncaught: "FM-2.2",
	},
	"blocked-escalates": {
		safeguard: "one resolution for every escalation",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			return drop(ev, func(e *orchestrator.Event) bool { return e.Type == orchestrator.EventEscalationResolved })
		},
		fail: []string{"e1"},
	},
	"clarify-ambiguous": {
		safeguard: "answers to clarifications coming back down",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			return drop(ev, func(e *orchestrator.Event) bool { return e.Type == orchestrator.EventEscalationResolved })
		},
		fail: []string{"e1", "e2"},
	},
	"decline-impossible": {
		safeguard: "a decline is terminal",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			d := find(t, ev, func(e *orchestrator.Event) bool { return e.Type == orchestrator.EventGoalDeclined })
			ev = insertBefore(ev, d, &orchestrator.Event{Type: orchestrator.EventToolCalled, Delegation: d.Delegation, Agent: d.Agent,
				Tool: "write_file", Arguments: json.RawMessage(`{}`)})
			return replace(ev, d, &orchestrator.Event{Type: orchestrator.EventGoalCompleted, Delegation: d.Delegation, Agent: d.Agent,
				Status: orchestrator.StatusCompleted}, &orchestrator.Event{Type: orchestrator.EventGoalDeclined, Delegation: d.Delegation,
				Agent: d.Agent, Status: orchestrator.StatusDeclined, Decline: d.Decline, Reason: d.Reason})
		},
		fail:     []string{"e3", "e4"},
		uncaught: "FM-1.5",
	},
	"yes-man": {
		safeguard: "the goal's programmatic verifiers",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			return passAnyway(ev, "")
		},
		fail:     []string{"e1", "e2", "e3", "e4"},
		uncaught: "FM-3.1",
	},
	"over-asker": {
		safeguard: "max_clarifications holding for escalations after acceptance",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			// Without the limit, every escalation past it would also have
			// cost the delegator a model call.
			var out []*orchestrator.Event
			for _, e := range ev {
				out = append(out, e)
				if e.Type == orchestrator.EventProtocolViolation || (e.Type == orchestrator.EventModelCalled && e.Purpose == "answer") {
					out = append(out, &orchestrator.Event{Type: orchestrator.EventModelCalled, Delegation: "d1", Agent: "lead",
						Purpose: "answer", Usage: &model.Usage{PromptTokens: 100, CompletionTokens: 10}})
				}
			}
			return out
		},
		fail: []string{"e2"},
	},
	"looper": {
		safeguard: "stall detection of repeated calls",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			s := find(t, ev, func(e *orchestrator.Event) bool { return e.Type == orchestrator.EventSupervisionIntervened })
			call := find(t, ev, func(e *orchestrator.Event) bool {
				return e.Type == orchestrator.EventToolCalled && e.Delegation == s.Delegation && !agents.IsProtocolTool(e.Tool)
			})
			var spin []*orchestrator.Event
			for range 8 {
				c := *call
				spin = append(spin, &c)
			}
			ev = insertBefore(ev, s, spin...)
			ev = drop(ev, func(e *orchestrator.Event) bool {
				return e.Delegation == s.Delegation && (e.Type == orchestrator.EventSupervisionIntervened ||
					e.Type == orchestrator.EventEscalationRaised || e.Type == orchestrator.EventEscalationResolved)
			})
			for _, e := range ev {
				if e.Type == orchestrator.EventGoalFailed && e.Delegation == s.Delegation {
					e.Reason = "budget exceeded: steps"
				}
			}
			return ev
		},
		fail:     []string{"e1", "e2", "e3"},
		uncaught: "FM-1.3",
	},
	"quitter": {
		safeguard: "the goal's programmatic verifiers",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			ev = drop(ev, func(e *orchestrator.Event) bool {
				return e.Type == orchestrator.EventSupervisionIntervened || e.Type == orchestrator.EventEscalationRaised ||
					e.Type == orchestrator.EventEscalationResolved
			})
			return passAnyway(ev, "")
		},
		fail:     []string{"e1", "e2", "e3", "e4"},
		uncaught: "FM-3.1",
	},
	"quitter-deep": {
		safeguard: "the evidence checks at hand-back and the goal's verifiers",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			ev = drop(ev, func(e *orchestrator.Event) bool {
				return e.Type == orchestrator.EventSupervisionIntervened || e.Type == orchestrator.EventEscalationRaised ||
					e.Type == orchestrator.EventEscalationResolved
			})
			return passAnyway(ev, "")
		},
		fail:     []string{"e1", "e2", "e3", "e4"},
		uncaught: "FM-3.1",
	},
	"withholder": {
		safeguard: "checking that a report covers every criterion",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			return passAnyway(ev, "d2")
		},
		fail:     []string{"e1", "e2", "e3"},
		uncaught: "FM-2.4",
	},
	"lying-lead": {
		safeguard: "the evidence checks at hand-back",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			return passAnyway(ev, "d1")
		},
		fail:     []string{"e1", "e2", "e3", "e4"},
		uncaught: "FM-3.1",
	},
	"unsupported-evidence": {
		safeguard: "the resolution of a report's citations",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			return passAnyway(ev, "d2")
		},
		fail: []string{"e1"},
	},
	"broken-constraint": {
		safeguard: "the named acceptance of a broken constraint",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			ev = passAnyway(ev, "d2")
			return passAnyway(ev, "d1")
		},
		fail:     []string{"e1", "e2", "e3", "e4"},
		uncaught: "FM-1.1",
	},
	"halt-without-reassign": {
		safeguard: "the finality of a halt",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			// What the runtime did before: the halted sub-goal reassigned to
			// the next agent, and the lead's repeat let through.
			halt := find(t, ev, func(e *orchestrator.Event) bool {
				return e.Type == orchestrator.EventGoalFailed && e.Cause == orchestrator.CauseHalted
			})
			offer := find(t, ev, func(e *orchestrator.Event) bool {
				return e.Type == orchestrator.EventGoalOffered && e.Delegation == halt.Delegation
			})
			again := *offer
			again.Delegation, again.Agent, again.ReassignedFrom = "d9", "second", halt.Delegation
			moved := &orchestrator.Event{Type: orchestrator.EventGoalReassigned, Delegation: halt.Delegation, Parent: halt.Parent, Agent: "second"}
			ev = drop(ev, func(e *orchestrator.Event) bool { return e.Type == orchestrator.EventProtocolViolation })
			return insertBefore(ev, ev[len(ev)-1], moved, &again)
		},
		fail:     []string{"e2", "e3", "e4"},
		uncaught: "FM-2.6",
	},
	"prose": {
		safeguard: "bounded nudges and a terminal failure for prose",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			f := find(t, ev, func(e *orchestrator.Event) bool { return e.Type == orchestrator.EventGoalFailed && e.Agent == "writer" })
			var more []*orchestrator.Event
			for range 12 {
				more = append(more, &orchestrator.Event{Type: orchestrator.EventModelCalled, Delegation: f.Delegation, Parent: f.Parent,
					Agent: f.Agent, Purpose: "turn"})
			}
			return replace(ev, f, more...)
		},
		fail:     []string{"e2", "e3", "e5"},
		uncaught: "FM-1.5",
	},
	"fm-1.4-long-delegation": {
		safeguard: "the context budget (compaction with the contract pinned)",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			// Without it the prompt outgrows the window and the provider refuses it.
			c := find(t, ev, func(e *orchestrator.Event) bool { return e.Type == orchestrator.EventContextCompacted })
			refused := &orchestrator.Event{Type: orchestrator.EventModelCalled, Delegation: c.Delegation, Parent: c.Parent,
				Agent: c.Agent, Purpose: "turn", Error: "This model's maximum context length is 4000 tokens; your messages resulted in 4035 tokens"}
			return drop(replace(ev, c, refused), func(e *orchestrator.Event) bool {
				return e.Type == orchestrator.EventContextCompacted || e.Type == orchestrator.EventModelCalled && e.Purpose == "compact"
			})
		},
		fail:     []string{"e1", "e2"},
		uncaught: "FM-1.4",
	},
	"stubborn": {
		safeguard: "catching an acceptance sent again without addressing its feedback",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			// Without it, the unchanged acceptance goes to a judge that, worn
			// down, lets it through.
			v := find(t, ev, func(e *orchestrator.Event) bool {
				return e.Type == orchestrator.EventProtocolViolation && e.Violation == orchestrator.ViolationIgnoredFeedback
			})
			ev = drop(ev, func(e *orchestrator.Event) bool { return e == v })
			for _, e := range ev {
				switch {
				case e.Seq > v.Seq && e.Type == orchestrator.EventAlignmentJudged && e.Delegation == v.Delegation:
					yes := true
					e.Aligned, e.Alignment = &yes, &agents.Alignment{Aligned: true, By: agents.By(e.Agent)}
				case e.Type == orchestrator.EventGoalFailed && e.Delegation == v.Delegation:
					e.Reason = "misaligned after 3 rounds"
				}
			}
			return ev
		},
		fail:     []string{"e1", "e2"},
		uncaught: "FM-2.5",
	},
	"meddler": {
		safeguard: "refusing a consulted peer's tool calls",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			var out []*orchestrator.Event
			for _, e := range ev {
				if e.Type == orchestrator.EventProtocolViolation && e.Violation == orchestrator.ViolationOutOfRole {
					out = append(out, &orchestrator.Event{Type: orchestrator.EventToolCalled, Delegation: e.Delegation, Parent: e.Parent,
						Agent: e.Agent, Purpose: "consult", Tool: e.Tool, Arguments: e.Arguments})
					continue
				}
				out = append(out, e)
			}
			return out
		},
		fail:     []string{"e1", "e2"},
		uncaught: "FM-1.2",
	},
	"circular": {
		safeguard: "refusing a delegation back up its chain",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			v := find(t, ev, func(e *orchestrator.Event) bool {
				return e.Type == orchestrator.EventProtocolViolation && e.Violation == orchestrator.ViolationOutOfRole
			})
			made := &orchestrator.Event{Type: orchestrator.EventGoalOffered, Delegation: "d9", Parent: v.Delegation, Agent: "lead",
				Delegator: v.Agent, Depth: 2, Goal: &agents.Goal{Objective: "Edit the release notes"}}
			ended := &orchestrator.Event{Type: orchestrator.EventGoalFailed, Delegation: "d9", Parent: v.Delegation, Agent: "lead",
				Status: orchestrator.StatusFailed, Reason: "budget exceeded: steps"}
			ev = replace(ev, v, made, ended)
			return drop(ev, func(e *orchestrator.Event) bool {
				return e.Type == orchestrator.EventProtocolViolation && e.Violation == orchestrator.ViolationOutOfRole
			})
		},
		fail:     []string{"e1", "e2"},
		uncaught: "FM-1.2",
	},
	"offplan": {
		safeguard: "noting a tool used off the accepted plan",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			return drop(ev, func(e *orchestrator.Event) bool {
				return e.Type == orchestrator.EventProtocolViolation && e.Violation == orchestrator.ViolationUnplannedTool
			})
		},
		fail:     []string{"e1"},
		uncaught: "FM-2.6",
	},
	"unverifying-delegator": {
		safeguard: "failing closed when a delegator cannot verify",
		doctor: func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			return drop(ev, func(e *orchestrator.Event) bool {
				return e.Type == orchestrator.EventProtocolViolation || (e.Type == orchestrator.EventReportVerified && e.Delegation == "d2")
			})
		},
		fail:     []string{"e1", "e2", "e3"},
		uncaught: "FM-3.2",
	},
}

// TestScenariosFailWithoutTheirSafeguard is the test described above, for
// every scenario of the built-in suite.
func TestScenariosFailWithoutTheirSafeguard(t *testing.T) {
	suite, err := evals.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	checks := evals.BuiltinChecks()
	r, err := evals.NewRunner(&evals.RunnerOptions{Checks: checks})
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range suite {
		t.Run(sc.Name, func(t *testing.T) {
			d, ok := doctorings[sc.Name]
			if !ok {
				t.Fatalf("no doctoring for scenario %s: every built-in scenario needs one", sc.Name)
			}
			tr := r.RunTrial(t.Context(), sc, evals.SimVariant(), 1)
			if tr.Err != nil {
				t.Fatal(tr.Err)
			}
			for _, res := range evals.Score(tr, checks) {
				if !res.Pass {
					t.Fatalf("with the safeguard on, %s %s fails: %s", res.ID, res.Name, res.Detail)
				}
			}
			for _, inc := range evals.Detect(tr) {
				if !inc.Caught {
					t.Errorf("with the safeguard on, an uncaught %s: %s", inc.Mode, inc.Detail)
				}
			}

			doctored := &evals.Trial{Scenario: sc, Variant: tr.Variant, Index: 1, Files: tr.Files,
				Events: renumber(d.doctor(t, roundTrip(t, tr.Events)))}
			failed := map[string]string{}
			for _, res := range evals.Score(doctored, checks) {
				if !res.Pass {
					failed[res.ID] = res.Name + ": " + res.Detail
				}
			}
			for _, id := range d.fail {
				if _, ok := failed[id]; !ok {
					t.Errorf("without %s, %s still passes", d.safeguard, id)
				}
			}
			if d.uncaught != "" {
				if !slices.ContainsFunc(evals.Detect(doctored), func(i evals.Incident) bool { return i.Mode == d.uncaught && !i.Caught }) {
					t.Errorf("without %s, no uncaught %s incident: %+v", d.safeguard, d.uncaught, evals.Detect(doctored))
				}
			}
			t.Logf("without %s: %d expectations fail", d.safeguard, len(failed))
		})
	}
}

// roundTrip copies events through the journal's encoding, so doctoring
// does not touch the original and the scorers read what a journal file
// holds.
func roundTrip(t *testing.T, events []*orchestrator.Event) []*orchestrator.Event {
	t.Helper()
	var b bytes.Buffer
	j := orchestrator.NewJournal(&b)
	for _, e := range events {
		if err := j.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	out, truncated, err := orchestrator.ReadJournal(&b)
	if err != nil || truncated {
		t.Fatalf("journal round trip: %v (truncated %v)", err, truncated)
	}
	return out
}

func renumber(ev []*orchestrator.Event) []*orchestrator.Event {
	for i, e := range ev {
		e.Seq = int64(i + 1)
		if e.Run == "" && i > 0 {
			e.Run = ev[0].Run
		}
	}
	return ev
}

func find(t *testing.T, ev []*orchestrator.Event, pred func(*orchestrator.Event) bool) *orchestrator.Event {
	t.Helper()
	for _, e := range ev {
		if pred(e) {
			return e
		}
	}
	t.Fatal("the journal has no event to doctor")
	return nil
}

func drop(ev []*orchestrator.Event, pred func(*orchestrator.Event) bool) []*orchestrator.Event {
	return slices.DeleteFunc(slices.Clone(ev), pred)
}

func replace(ev []*orchestrator.Event, old *orchestrator.Event, with ...*orchestrator.Event) []*orchestrator.Event {
	i := slices.Index(ev, old)
	return slices.Concat(ev[:i], with, ev[i+1:])
}

func insertBefore(ev []*orchestrator.Event, at *orchestrator.Event, add ...*orchestrator.Event) []*orchestrator.Event {
	i := slices.Index(ev, at)
	return slices.Concat(ev[:i], add, ev[i:])
}

// passAnyway turns the journal into one where every report of delegation
// id (every delegation when id is empty) was accepted at once and its goal
// completed: what the run looks like with no check of reports at all.
func passAnyway(ev []*orchestrator.Event, id string) []*orchestrator.Event {
	mine := func(e *orchestrator.Event) bool { return id == "" || e.Delegation == id }
	var out []*orchestrator.Event
	accepted := map[string]bool{}
	for _, e := range ev {
		switch {
		case e.Type == orchestrator.EventReportVerified && mine(e):
			if accepted[e.Delegation] {
				continue
			}
			accepted[e.Delegation] = true
			e.Verification = &agents.Verification{Verdict: agents.VerdictAccept, By: "runtime"}
		case e.Type == orchestrator.EventGoalFailed && mine(e):
			e.Type, e.Status, e.Reason = orchestrator.EventGoalCompleted, orchestrator.StatusCompleted, ""
		case e.Type == orchestrator.EventGoalReported && mine(e) && accepted[e.Delegation]:
			continue
		case e.Type == orchestrator.EventRunFinished && (id == "" || strings.HasPrefix(id, "d1")):
			e.Status, e.Reason = orchestrator.StatusCompleted, ""
		}
		out = append(out, e)
	}
	return out
}

// TestDrifterCaughtWithoutTheModelJudge: with the delegator's model judge
// off (structural checks only), the runtime's own intent check still finds
// the drifter's acceptance misaligned (FM-2.3, a derailed violation), before
// any tool runs: the scenario passes and every FM-2.3 incident is caught.
func TestDrifterCaughtWithoutTheModelJudge(t *testing.T) {
	sc := builtinScenario(t, "drifter")
	r, err := evals.NewRunner(&evals.RunnerOptions{Runtime: func(_ *evals.Scenario, o *orchestrator.Options) {
		o.SupervisionFor = func(string) orchestrator.Supervision {
			return orchestrator.Supervision{Level: "structural only", ModelJudge: false, ModelVerify: true}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	tr := r.RunTrial(t.Context(), sc, evals.SimVariant(), 1)
	for _, res := range evals.Score(tr, nil) {
		if !res.Pass {
			t.Errorf("without the model judge, %s fails: %s", res.ID, res.Detail)
		}
	}
	var n int
	for _, i := range evals.Detect(tr) {
		if i.Mode == "FM-2.3" {
			n++
			if !i.Caught {
				t.Errorf("uncaught: %+v", i)
			}
		}
	}
	if n == 0 {
		t.Error("no FM-2.3 incident detected")
	}
	if !slices.ContainsFunc(tr.Events, func(e *orchestrator.Event) bool { return e.Violation == orchestrator.ViolationDerailed }) {
		t.Error("no derailed violation recorded")
	}
}
