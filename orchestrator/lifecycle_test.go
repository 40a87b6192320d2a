package orchestrator_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

func TestDeclineIsReassigned(t *testing.T) {
	g := noteGoal
	lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("a", g)), turn(complete(g, "done", "d3")))
	a := model.NewScripted("a", turn(call(agents.ToolDeclineGoal, agents.Decline{Reason: "not my field", SuggestedAgent: "c"})))
	b := model.NewScripted("b") // never offered: the decliner suggested c
	c := model.NewScripted("c", turn(accept(g)), turn(complete(g, "c did it")))
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"a", "b", "c"}},
		{Agent: &agents.Agent{Name: "a", Role: "a", Model: a}, Supervision: structural},
		{Agent: &agents.Agent{Name: "b", Role: "b", Model: b}, Supervision: structural},
		{Agent: &agents.Agent{Name: "c", Role: "c", Model: c}, Supervision: structural},
	}}, &orchestrator.Options{Limits: orchestrator.Limits{MaxReassign: 2}})
	out, err := rt.Run(t.Context(), g)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	re := ofType(mem.Events(), orchestrator.EventGoalReassigned)
	if len(re) != 1 || re[0].Delegation != "d2" || re[0].Agent != "c" {
		t.Fatalf("reassignments: %s", mustJSON(re))
	}
	if len(out.Children) != 2 || out.Children[0].Status != orchestrator.StatusDeclined ||
		out.Children[1].Status != orchestrator.StatusCompleted || out.Children[1].ReassignedFrom != "d2" {
		t.Fatalf("children: %s", mustJSON(out.Children))
	}
	if b.Calls() != 0 {
		t.Fatal("b was offered the goal although the decliner suggested c")
	}
	if got := lastToolMessage(lead.Requests()[2]); !strings.Contains(got, `"agent":"c"`) || !strings.Contains(got, "c did it") {
		t.Fatalf("lead got %q", got)
	}
	checkJournal(t, mem.Events())
}

func TestDeclineWithNoOneElseFails(t *testing.T) {
	m := model.NewScripted("m", turn(call(agents.ToolDeclineGoal, agents.Decline{Reason: "cannot", Missing: []string{"access"}})))
	rt, _ := newRuntime(t, solo(m), nil)
	out, err := rt.Run(t.Context(), noteGoal)
	if !errors.Is(err, orchestrator.ErrDeclined) || out.Status != orchestrator.StatusDeclined || out.Decline.Reason != "cannot" {
		t.Fatalf("err %v, outcome %+v", err, out)
	}
}

func TestStructuralGapIsFedBack(t *testing.T) {
	g := noteGoal
	// No constraint acknowledged: a structural gap, found without asking the
	// delegator's model.
	drift := call(agents.ToolAcceptGoal, agents.Acceptance{RestatedIntent: "sell more", Plan: []string{"write"},
		AcknowledgedCriteria: []string{"ok"}, AcknowledgedConstraints: []string{}})
	lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("w", g)), turn(judge(true)), turn(complete(g, "done", "d2")))
	w := model.NewScripted("w", turn(drift), turn(accept(g)), turn(complete(g, "done")))
	judged := orchestrator.Supervision{ModelJudge: true}
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
		{Agent: &agents.Agent{Name: "w", Role: "writes", Model: w}, Supervision: &judged},
	}}, nil)
	if _, err := rt.Run(t.Context(), g); err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	judgedEv := ofType(mem.Events(), orchestrator.EventAlignmentJudged)
	if len(judgedEv) != 3 {
		t.Fatalf("%d alignment judgements:\n%s", len(judgedEv), types(mem.Events()))
	}
	if j := judgedEv[1]; *j.Aligned || j.Alignment.By != "structural" || !strings.Contains(strings.Join(j.Alignment.Gaps, ";"), "0 constraints acknowledged") {
		t.Fatalf("first judgement of w: %s", mustJSON(j))
	}
	if j := judgedEv[2]; !*j.Aligned || j.Alignment.By != "lead" {
		t.Fatalf("second judgement of w: %s", mustJSON(j))
	}
	if got := lastToolMessage(w.Requests()[1]); !strings.Contains(got, "not aligned") || !strings.Contains(got, "constraints") {
		t.Fatalf("the delegate was told %q", got)
	}
	if lead.Calls() != 4 {
		t.Fatalf("the lead's model was called %d times, want 4 (judged once)", lead.Calls())
	}
}

func TestMisalignedOnceThenAligned(t *testing.T) {
	g := noteGoal
	lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("w", g)),
		turn(judge(false, "you missed the point: inform, not sell")), turn(judge(true)), turn(complete(g, "done", "d2")))
	w := model.NewScripted("w", turn(accept(g)), turn(accept(g)), turn(complete(g, "done")))
	judged := orchestrator.Supervision{ModelJudge: true}
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
		{Agent: &agents.Agent{Name: "w", Role: "writes", Model: w}, Supervision: &judged},
	}}, nil)
	out, err := rt.Run(t.Context(), g)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	if got := lastToolMessage(w.Requests()[1]); !strings.Contains(got, "inform, not sell") {
		t.Fatalf("the gap did not reach the delegate: %q", got)
	}
	if c := out.Children[0]; c.AlignmentRounds != 2 || !c.Alignment.Aligned || c.Alignment.By != "lead" {
		t.Fatalf("worker: rounds %d alignment %+v", c.AlignmentRounds, c.Alignment)
	}
}

func TestConsultation(t *testing.T) {
	g := noteGoal
	m := model.NewScripted("m", turn(accept(g)),
		turn(call(agents.ToolConsult, agents.ConsultArgs{Agent: "expert", Question: "how brief is brief?"})),
		turn(complete(g, "done")))
	expert := model.NewScripted("expert", model.Text("Three sentences at most."))
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "m", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "m", Role: "writes", Model: m}, Consults: []string{"expert"}},
		{Agent: &agents.Agent{Name: "expert", Role: "knows style", Model: expert}},
	}}, nil)
	out, err := rt.Run(t.Context(), g)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := lastToolMessage(m.Requests()[2]); got != "Three sentences at most." {
		t.Fatalf("the asker got %q", got)
	}
	if len(out.Consultations) != 1 || out.Consultations[0].Answer != "Three sentences at most." {
		t.Fatalf("consultations %+v", out.Consultations)
	}
	// Responsibility stays with the asker: the expert was never offered the goal.
	if n := len(ofType(mem.Events(), orchestrator.EventGoalOffered)); n != 1 {
		t.Fatalf("%d goals offered", n)
	}
	if len(expert.Requests()[0].Tools) != 0 || !strings.Contains(expert.Requests()[0].Messages[1].Content, "how brief is brief?") {
		t.Fatalf("expert was asked %+v", expert.Requests()[0])
	}
	// Its usage counts to the asker.
	var consultUsage int
	for _, e := range ofType(mem.Events(), orchestrator.EventModelCalled) {
		if e.Purpose == "consult" {
			consultUsage += e.Usage.Total()
		}
	}
	if consultUsage == 0 || out.Usage.Total() <= consultUsage {
		t.Fatalf("consult usage %d not in the asker's %d", consultUsage, out.Usage.Total())
	}
}

func TestVerificationReviseLoop(t *testing.T) {
	g := noteGoal
	written := false
	g.Verifiers = []agents.Verifier{func(*agents.Goal, *agents.Report) ([]string, error) {
		if !written {
			written = true // the first report fails the check, the second passes
			return []string{"no note file found"}, nil
		}
		return nil, nil
	}}
	m := model.NewScripted("m", turn(accept(g)), turn(complete(g, "first")), turn(complete(g, "second")))
	rt, _ := newRuntime(t, solo(m), nil)
	out, err := rt.Run(t.Context(), g)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if out.Revisions != 1 || out.Report.Result != "second" {
		t.Fatalf("revisions %d result %q", out.Revisions, out.Report.Result)
	}
	if got := lastToolMessage(m.Requests()[2]); !strings.Contains(got, "no note file found") {
		t.Fatalf("feedback %q", got)
	}
	t.Run("bounded", func(t *testing.T) {
		g := noteGoal
		g.Verifiers = []agents.Verifier{func(*agents.Goal, *agents.Report) ([]string, error) { return []string{"never good"}, nil }}
		m := model.NewScripted("m", turn(accept(g)), turn(complete(g, "1")), turn(complete(g, "2")), turn(complete(g, "3")), turn(complete(g, "4")))
		rt, _ := newRuntime(t, solo(m), nil)
		out, err := rt.Run(t.Context(), g)
		if !errors.Is(err, orchestrator.ErrFailed) || !strings.Contains(out.Reason, "report rejected") || out.Verification.Verdict != agents.VerdictReject {
			t.Fatalf("err %v reason %q", err, out.Reason)
		}
	})
}

func TestProseInsteadOfProtocolCall(t *testing.T) {
	g := noteGoal
	t.Run("nudged, then recovers", func(t *testing.T) {
		m := model.NewScripted("m", model.Text("Sure, I will do it!"), turn(accept(g)), turn(complete(g, "done")))
		rt, _ := newRuntime(t, solo(m), nil)
		if _, err := rt.Run(t.Context(), g); err != nil {
			t.Fatal(err)
		}
		nudge := m.Requests()[1].Messages
		if last := nudge[len(nudge)-1]; last.Role != model.RoleUser || !strings.Contains(last.Content, "accept_goal") {
			t.Fatalf("nudge %+v", last)
		}
	})
	t.Run("bounded, then fails", func(t *testing.T) {
		m := model.NewScripted("m", model.Text("a"), model.Text("b"), model.Text("c"), model.Text("d"))
		rt, mem := newRuntime(t, solo(m), &orchestrator.Options{Limits: orchestrator.Limits{MaxNudges: 2}})
		out, err := rt.Run(t.Context(), g)
		if !errors.Is(err, agents.ErrNoToolCall) || !strings.Contains(out.Reason, "prose") || m.Calls() != 3 {
			t.Fatalf("err %v reason %q calls %d", err, out.Reason, m.Calls())
		}
		checkJournal(t, mem.Events())
	})
}

func TestSupervision(t *testing.T) {
	g := noteGoal
	progress := func(s string) model.ToolCall {
		return call(agents.ToolReportProgress, agents.ProgressReport{Summary: s, Percent: 50})
	}
	t.Run("redirect and halt", func(t *testing.T) {
		m := model.NewScripted("m", turn(accept(g)), turn(progress("half")), turn(progress("more")), turn(complete(g, "x")))
		n := 0
		rt, mem := newRuntime(t, solo(m), &orchestrator.Options{Supervisor: func(_ context.Context, p orchestrator.ProgressInfo) orchestrator.Intervention {
			n++
			if n == 1 {
				return orchestrator.Intervention{Action: orchestrator.ActionRedirect, Instruction: "focus on brevity"}
			}
			return orchestrator.Intervention{Action: orchestrator.ActionHalt, Reason: "out of time"}
		}})
		out, _ := rt.Run(t.Context(), g)
		if got := lastToolMessage(m.Requests()[2]); !strings.Contains(got, "focus on brevity") {
			t.Fatalf("redirect not delivered: %q", got)
		}
		if out.Status != orchestrator.StatusFailed || !strings.Contains(out.Reason, "halted by supervisor") || m.Calls() != 3 {
			t.Fatalf("%s %q calls %d", out.Status, out.Reason, m.Calls())
		}
		if n := len(ofType(mem.Events(), orchestrator.EventSupervisionIntervened)); n != 2 {
			t.Fatalf("%d interventions", n)
		}
	})
	t.Run("repeated call is a stall, escalated to the delegator", func(t *testing.T) {
		same := call(agents.ToolReportProgress, agents.ProgressReport{Summary: "same"})
		lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("w", g)),
			turn(call(agents.ToolAnswerEscalation, agents.AnswerArgs{Answer: "stop repeating; finish"})), turn(complete(g, "done", "d2")))
		w := model.NewScripted("w", turn(accept(g)), turn(same), turn(same), turn(same), turn(complete(g, "done")))
		rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
			{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
			{Agent: &agents.Agent{Name: "w", Role: "writes", Model: w}, Supervision: structural},
		}}, nil)
		if _, err := rt.Run(t.Context(), g); err != nil {
			t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
		}
		iv := ofType(mem.Events(), orchestrator.EventSupervisionIntervened)
		if len(iv) != 1 || iv[0].Intervention.Action != orchestrator.ActionStalled {
			t.Fatalf("interventions %s", mustJSON(iv))
		}
		// Typed as a repetition (FM-1.3), once a stall.
		var rep []*orchestrator.Event
		for _, e := range ofType(mem.Events(), orchestrator.EventProtocolViolation) {
			if e.Violation == orchestrator.ViolationRepeated {
				rep = append(rep, e)
			}
		}
		if len(rep) != 1 || rep[0].Agent != "w" || rep[0].Tool != agents.ToolReportProgress {
			t.Fatalf("repeated violations %s", mustJSON(rep))
		}
		reqs := w.Requests()
		last := reqs[len(reqs)-1].Messages
		if got := last[len(last)-1].Content; !strings.Contains(got, "stop repeating") {
			t.Fatalf("the delegator's answer did not reach the delegate: %q", got)
		}
		checkEscalationsResolvedOnce(t, mem.Events(), 1)
	})
	t.Run("progress demanded by supervision", func(t *testing.T) {
		m := model.NewScripted("m", turn(accept(g)), turn(call("note", map[string]string{"text": "a"})),
			turn(withID("n2", call("note", map[string]string{"text": "b"}))), turn(complete(g, "x", "n2")))
		rec := newRecorder(t, "note")
		rt, _ := newRuntime(t, orchestrator.Team{Lead: "m", Members: []orchestrator.Member{
			{Agent: &agents.Agent{Name: "m", Role: "writes", Model: m, Tools: []agents.Tool{rec.tool}}, Supervision: &orchestrator.Supervision{ProgressEvery: 2}},
		}}, nil)
		if _, err := rt.Run(t.Context(), g); err != nil {
			t.Fatal(err)
		}
		msgs := m.Requests()[2].Messages
		if got := msgs[len(msgs)-1].Content; !strings.Contains(got, "report_progress") {
			t.Fatalf("no reminder after 2 steps: %q", got)
		}
	})
}

func TestSiblingsRunConcurrentlyAndStopWithTheRun(t *testing.T) {
	g := noteGoal
	const n = 6
	release := make(chan struct{})
	arrived := make(chan struct{}, n)
	w := model.ScriptFunc("w", func(ctx context.Context, req *model.Request) (*model.Response, error) {
		if len(req.Messages) == 2 {
			return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{accept(g)}}}, nil
		}
		arrived <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{complete(g, "ok")}}}, nil
	})
	calls := make([]model.ToolCall, n)
	for i := range calls {
		calls[i] = delegateTo("w", g)
		calls[i].Arguments = []byte(strings.Replace(string(calls[i].Arguments), "write a note", "write note "+string(rune('a'+i)), 1))
	}
	lead := model.NewScripted("lead", turn(accept(g)), turn(calls...), turn(complete(g, "all", "d2")))
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
		{Agent: &agents.Agent{Name: "w", Role: "works", Model: w}, Supervision: structural},
	}}, nil)
	before := runtime.NumGoroutine()
	done := make(chan error, 1)
	go func() { _, err := rt.Run(t.Context(), g); done <- err }()
	for range n { // all siblings are working at once
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("siblings did not run concurrently")
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > before {
		t.Fatalf("%d goroutines outlive the run (before: %d)", got, before)
	}
}

func TestSystemPromptIsAStablePrefix(t *testing.T) {
	g := noteGoal
	rec := newRecorder(t, "note")
	m := model.NewScripted("m", turn(accept(g)), turn(withID("n1", call("note", map[string]string{"text": "a"}))), turn(complete(g, "x", "n1")))
	rt, _ := newRuntime(t, solo(m, rec.tool), nil)
	if _, err := rt.Run(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	reqs := m.Requests()
	for i := 1; i < len(reqs); i++ {
		prev, cur := reqs[i-1].Messages, reqs[i].Messages
		if len(cur) <= len(prev) {
			t.Fatalf("turn %d does not extend the conversation", i)
		}
		for j := range prev {
			if mustJSON(prev[j]) != mustJSON(cur[j]) {
				t.Fatalf("turn %d changed message %d: the prompt prefix is not stable", i, j)
			}
		}
	}
	sys := reqs[0].Messages[0].Content
	for _, want := range []string{"You are solo. does things", "Intent (why): keep the team informed", "1. a note is written", "1. be brief"} {
		if !strings.Contains(sys, want) {
			t.Errorf("system prompt lacks %q:\n%s", want, sys)
		}
	}
	// Before acceptance the granted tools (to pipeline after accept_goal)
	// and the three acts of an offer; after, the granted tools and the
	// working protocol, without report_progress unless supervision asks
	// for progress.
	names := func(r *model.Request) (s []string) {
		for _, d := range r.Tools {
			s = append(s, d.Name)
		}
		return s
	}
	if got := strings.Join(names(reqs[0]), ","); got != "note,accept_goal,decline_goal,ask_clarification" {
		t.Fatalf("offered before acceptance: %s", got)
	}
	if got := strings.Join(names(reqs[1]), ","); got != "note,escalate,complete_goal" {
		t.Fatalf("offered after alignment: %s", got)
	}
	if reqs[0].ToolChoice.Mode != model.ChoiceRequired {
		t.Fatalf("tool choice %+v, want required", reqs[0].ToolChoice)
	}
}

func TestMalformedArgumentsKeepTheJournalValid(t *testing.T) {
	g := noteGoal
	m := model.NewScripted("m",
		turn(model.Call(agents.ToolAcceptGoal, `{"restated_intent": "trunc`)), // broken JSON
		turn(model.Call(agents.ToolAcceptGoal, `{"plan":["x"]}`)),             // missing required fields
		turn(accept(g)), turn(complete(g, "done")))
	var buf strings.Builder
	j := orchestrator.NewJournal(&buf)
	rt, _ := newRuntime(t, solo(m), &orchestrator.Options{Sinks: []orchestrator.Sink{j}})
	out, err := rt.Run(t.Context(), g)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	events, torn, err := orchestrator.ReadJournal(strings.NewReader(buf.String()))
	if err != nil || torn {
		t.Fatalf("journal unreadable: %v torn=%v", err, torn)
	}
	var errs []string
	for _, e := range ofType(events, orchestrator.EventToolResult) {
		if e.IsError {
			errs = append(errs, e.Result)
		}
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "not valid JSON") || !strings.Contains(errs[1], "missing propert") {
		t.Fatalf("tool errors %q", errs)
	}
	if out.AlignmentRounds != 1 {
		t.Fatalf("invalid calls counted as acceptances: %d rounds", out.AlignmentRounds)
	}
}

func TestPlanNamingAnUngrantedTool(t *testing.T) {
	g := noteGoal
	search, other := newRecorder(t, "search"), newRecorder(t, "note")
	// "research" is not the tool "search"; "search" itself is not granted.
	note := withID("n1", call("note", map[string]string{"text": "a"}))
	m := model.NewScripted("m", turn(accept(g, "research the topic", "note it")), turn(accept(g, "search the web")), turn(accept(g, "note it")), turn(note), turn(complete(g, "x", "n1")))
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "m", Grants: []string{"note"}, Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "m", Role: "r", Model: m, Tools: []agents.Tool{other.tool}}},
		{Agent: &agents.Agent{Name: "s", Role: "r", Model: m, Tools: []agents.Tool{search.tool}}},
	}}, nil)
	if _, err := rt.Run(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	j := ofType(mem.Events(), orchestrator.EventAlignmentJudged)
	if len(j) != 1 || !*j[0].Aligned {
		// the first acceptance is aligned: "research" does not name a tool
		t.Fatalf("judgements %s", mustJSON(j))
	}
	rt2, mem2 := newRuntime(t, orchestrator.Team{Lead: "m", Grants: []string{"note"}, Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "m", Role: "r", Model: model.NewScripted("m2", turn(accept(g, "search the web")), turn(accept(g, "note it")), turn(note), turn(complete(g, "x", "n1"))), Tools: []agents.Tool{other.tool}}},
		{Agent: &agents.Agent{Name: "s", Role: "r", Model: m, Tools: []agents.Tool{search.tool}}},
	}}, nil)
	if _, err := rt2.Run(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	j = ofType(mem2.Events(), orchestrator.EventAlignmentJudged)
	if len(j) != 2 || *j[0].Aligned || !strings.Contains(j[0].Alignment.Gaps[0], "search, which is not granted") {
		t.Fatalf("judgements %s", mustJSON(j))
	}
}

func TestDelegatorPlanMayNameToolsItGrants(t *testing.T) {
	g := noteGoal
	rec := newRecorder(t, "note")
	lead := model.NewScripted("lead", turn(accept(g, "have worker note the summary")), turn(delegateTo("w", g)), turn(complete(g, "done", "d2")))
	w := model.NewScripted("w", turn(accept(g, "note the summary")), turn(withID("n1", call("note", map[string]string{"text": "s"}))), turn(complete(g, "done", "n1")))
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
		{Agent: &agents.Agent{Name: "w", Role: "writes", Model: w, Tools: []agents.Tool{rec.tool}}, Supervision: structural},
	}}, nil)
	if _, err := rt.Run(t.Context(), g); err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	for _, j := range ofType(mem.Events(), orchestrator.EventAlignmentJudged) {
		if !*j.Aligned {
			t.Fatalf("judged misaligned: %s", mustJSON(j))
		}
	}
}

func TestReadJournalTornAndMalformed(t *testing.T) {
	good := `{"seq":1,"type":"run.started"}` + "\n" + `{"seq":2,"type":"run.finished"}` + "\n"
	for _, tc := range []struct {
		name      string
		data      string
		events    int
		truncated bool
		wantErr   bool
	}{
		{"whole", good, 2, false, false},
		{"torn last line", good + `{"seq":3,"ty`, 2, true, false},
		{"malformed last line with its newline", good + `{"seq": garbage}` + "\n", 2, false, true},
		{"malformed middle line", `{"seq":1}` + "\nnope\n" + `{"seq":2}` + "\n", 1, false, true},
		{"no trailing newline but valid", strings.TrimSuffix(good, "\n"), 2, false, false},
	} {
		events, truncated, err := orchestrator.ReadJournal(strings.NewReader(tc.data))
		if len(events) != tc.events || truncated != tc.truncated || (err != nil) != tc.wantErr {
			t.Errorf("%s: %d events, truncated %v, err %v", tc.name, len(events), truncated, err)
		}
	}
}

// A restated intent with no word of the goal's intent and objective, or one
// that only copies them, is not aligned structurally (MAST FM-2.3): recorded
// as a derailed violation, fed back, and the delegator's model is not asked.
// Careful paraphrases go on to the judge.
func TestDerailedIntentIsNotAligned(t *testing.T) {
	g := agents.Goal{Intent: "Help on-call engineers restore the payment service quickly at night.",
		Objective: "Write a runbook for payment outages", Criteria: []string{"the runbook names the first three checks"}}
	restate := func(s string) model.ToolCall {
		return call(agents.ToolAcceptGoal, agents.Acceptance{RestatedIntent: s, Plan: []string{"write it"},
			AcknowledgedCriteria: []string{"three checks named"}, AcknowledgedConstraints: []string{}})
	}
	for _, tc := range []struct {
		restated string
		derailed bool
	}{
		{"Deliver what my delegator needs.", true},
		{"I will do what is asked, for the purpose it serves.", true},
		{"Help on-call engineers restore the payment service quickly at night.", true},
		{"write a runbook for payment outages.", true},
		{"HELP on-call engineers: restore the payment service, quickly, at night!", true},
		{"I will help on-call engineers restore the payment service quickly at night.", true},
		{"Write a runbook for payment outages. Help on-call engineers restore the payment service quickly at night.", true},
		// A stock phrase around a copy is still a copy.
		{"I understand the purpose: help on-call engineers restore the payment service quickly at night.", true},
		{"I understand the purpose: help on-call engineers restore the payment service quickly at night. That is why I will write a runbook for payment outages.", true},
		{"To restate it precisely, the purpose is: help on-call engineers restore the payment service quickly at night.", true},
		{"In my own words, the goal is to help on-call engineers restore the payment service quickly at night.", true},
		// Filler adverbs or another order are no words of its own (third
		// review, finding 9).
		{"Basically, the goal here is simply to help on-call engineers restore the payment service quickly at night.", true},
		{"At night, quickly restore the payment service: help on-call engineers.", true},
		// What the agent says of its own is a restatement, stock phrase or not.
		{"I understand the purpose: whoever is paged at night must get payments flowing again before customers notice.", false},
		{"As I understand it, the purpose turns on help, engineers, restore, payment, service, quickly and night.", false},
		{"Help on-call engineers restore the payment service quickly at night, so customers can keep paying while the team sleeps.", false},
		{"Help the on-call engineers bring the payment service back quickly when it fails at night.", false},
		{"So whoever is paged can bring payments back fast in the small hours.", false},
		{"Give the night rota a guide for getting the payments system up again.", false},
		{"A runbook lets the responder recover from an outage without guessing.", false},
	} {
		t.Run(tc.restated, func(t *testing.T) {
			leadTurns := []model.Turn{turn(accept(g)), turn(delegateTo("w", g))}
			if !tc.derailed {
				leadTurns = append(leadTurns, turn(judge(true)))
			}
			leadTurns = append(leadTurns, turn(judge(true)), turn(complete(g, "done", "d2")))
			lead := model.NewScripted("lead", leadTurns...)
			w := model.NewScripted("w", turn(restate(tc.restated)), turn(accept(g)), turn(complete(g, "done")))
			judged := orchestrator.Supervision{ModelJudge: true}
			rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
				{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
				{Agent: &agents.Agent{Name: "w", Role: "writes", Model: w}, Supervision: &judged},
			}}, nil)
			out, err := rt.Run(t.Context(), g)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
			}
			first := ofType(mem.Events(), orchestrator.EventAlignmentJudged)[1]
			var derailed []*orchestrator.Event
			for _, e := range ofType(mem.Events(), orchestrator.EventProtocolViolation) {
				if e.Violation == orchestrator.ViolationDerailed {
					derailed = append(derailed, e)
				}
			}
			if !tc.derailed {
				if !*first.Aligned || first.Alignment.By != "lead" || len(derailed) != 0 {
					t.Fatalf("a paraphrase was refused: %s\n%s", mustJSON(first), types(mem.Events()))
				}
				return
			}
			if *first.Aligned || first.Alignment.By != agents.ByStructural || !strings.Contains(strings.Join(first.Alignment.Gaps, ";"), "in your own words") {
				t.Fatalf("first judgement of w: %s", mustJSON(first))
			}
			if len(derailed) != 1 || derailed[0].Agent != "w" {
				t.Fatalf("derailed violations %+v", derailed)
			}
			if out.Status != orchestrator.StatusCompleted {
				t.Fatalf("status %s: %s", out.Status, out.Reason)
			}
		})
	}
}
