package sim

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/words"
)

// The tools of the workspace (package workspace) the simulator knows how to
// use; it names them rather than importing the package.
const (
	toolWriteFile = "write_file"
	toolListFiles = "list_files"
)

func (g *goalInfo) objective() string {
	switch {
	case strings.TrimSpace(g.Objective) != "":
		return g.Objective
	case strings.TrimSpace(g.Intent) != "":
		return g.Intent
	}
	return "the task my delegator gave me"
}

func (g *goalInfo) intent() string {
	if strings.TrimSpace(g.Intent) != "" {
		return g.Intent
	}
	return g.objective()
}

// notePaths are the files the simulator writes its work to: the first file
// each criterion names (agents.NamedFiles), else the last the objective
// names, else a slug of the objective. A file a criterion says must not be
// (agents.RequiredFiles) is not one to write.
func (g *goalInfo) notePaths() []string {
	var out []string
	for _, c := range g.Criteria {
		if fs := agents.RequiredFiles(c); len(fs) > 0 && !slices.Contains(out, fs[0]) {
			out = append(out, fs[0])
		}
	}
	if len(out) == 0 {
		if fs := agents.NamedFiles(g.objective()); len(fs) > 0 {
			out = append(out, fs[len(fs)-1])
		}
	}
	if len(out) == 0 {
		out = append(out, slug(g.objective())+".md")
	}
	return out
}

// notePath is the first file the simulator writes.
func (g *goalInfo) notePath() string { return g.notePaths()[0] }

// impossible reports whether the goal marks itself undoable: the word
// "impossible" in its objective or a constraint.
func (g *goalInfo) impossible() (string, bool) {
	for _, c := range append([]string{g.Objective}, g.Constraints...) {
		if hasWord(c, "impossible") {
			return c, true
		}
	}
	return "", false
}

// unclear reports whether the goal's context says something is unclear or
// missing.
func (g *goalInfo) unclear() bool {
	l := strings.ToLower(g.Context)
	return strings.Contains(l, "ambiguous") || strings.Contains(l, "unclear") || strings.Contains(l, "missing")
}

// asksAdvice reports whether the goal's context asks for a peer's advice.
func (g *goalInfo) asksAdvice() bool {
	l := strings.ToLower(g.Context)
	return strings.Contains(l, "consult") || strings.Contains(l, "advice") || strings.Contains(l, "second opinion")
}

// delegates returns the agents to delegate to: the first listed, and every
// other whose role shares a word with the goal. With the delegate tool
// offered, its enum has the last word on who may be named.
func (v *view) delegates() []peer {
	g := &v.goal
	ds := slices.Clone(g.Delegates)
	if def, ok := v.offered[agents.ToolDelegate]; ok {
		allowed := enum(def, "agent")
		if len(allowed) > 0 {
			ds = slices.DeleteFunc(ds, func(p peer) bool { return !slices.Contains(allowed, p.Name) })
			if len(ds) == 0 {
				for _, n := range allowed {
					ds = append(ds, peer{Name: n})
				}
			}
		}
	}
	purpose := strings.Join(append([]string{g.Intent, g.Objective}, g.Criteria...), " ")
	var out []peer
	for i, d := range ds {
		if i == 0 || overlap(d.Role, purpose) {
			out = append(out, d)
		}
	}
	return out
}

// peers returns the agents the simulator may consult.
func (v *view) peers() []string {
	var names []string
	for _, p := range v.goal.Peers {
		names = append(names, p.Name)
	}
	if def, ok := v.offered[agents.ToolConsult]; ok {
		if allowed := enum(def, "agent"); len(allowed) > 0 {
			names = slices.DeleteFunc(names, func(n string) bool { return !slices.Contains(allowed, n) })
			if len(names) == 0 {
				names = allowed
			}
		}
	}
	return names
}

// ---- offered: accept, decline or ask ----

// offer answers an offer: a decline, a question, or an acceptance followed,
// in the same turn, by the first moves it pipelines (they run once it is
// judged aligned) — unless the goal asks for a peer's advice first, which
// only working offers, or the persona's way of failing lies in its first
// moves.
func (s *simulator) offer(v *view) []model.ToolCall {
	if st := last(v.steps, agents.ToolAcceptGoal); s.persona == Stubborn && st != nil && st.failed() {
		return []model.ToolCall{{Name: agents.ToolAcceptGoal, Arguments: st.Args}} // word for word
	}
	c := s.offerAct(v)
	switch {
	case c.Name != agents.ToolAcceptGoal, v.goal.asksAdvice() && len(v.peers()) > 0:
		return []model.ToolCall{c}
	case s.persona == Malformed, s.persona == OverAsker, s.persona == Quitter, s.persona == Hallucinator, s.persona == Looper:
		return []model.ToolCall{c}
	}
	acts, _ := s.pending(v, nil) // nothing has run before an aligned acceptance
	return append([]model.ToolCall{c}, acts...)
}

func (s *simulator) offerAct(v *view) model.ToolCall {
	g := &v.goal
	p := s.persona
	acted := slices.ContainsFunc(v.steps, func(st step) bool {
		return st.Name != agents.ToolAcceptGoal && st.Name != agents.ToolDeclineGoal && st.Name != agents.ToolAskClarification
	})
	if p == Eager && !acted {
		return eagerCall(v)
	}
	if c, ok := g.impossible(); ok && p != YesMan && v.offers(agents.ToolDeclineGoal) {
		return model.Call(agents.ToolDeclineGoal, agents.Decline{
			Reason:          fmt.Sprintf("The goal cannot be done as stated: it says %q.", clip(c, 160)),
			Missing:         []string{"a version of the goal that can be done"},
			CounterProposal: "Relax or drop what is marked impossible and offer the goal again; I will accept it.",
		})
	}
	if v.offers(agents.ToolAskClarification) && count(v.steps, agents.ToolAskClarification) == 0 {
		switch {
		case p == OverAsker:
			opts := []string{"Yes, exactly as written", "No, I will rephrase it"}
			return model.Call(agents.ToolAskClarification, agents.Clarification{
				Question:       fmt.Sprintf("Before I accept: do you really want me to %s, exactly as written?", lowerFirst(sentence(g.objective()))),
				Options:        opts,
				Recommendation: opts[0],
			})
		case p != Silent && g.unclear():
			opts := []string{"Take the most common interpretation and state it as an assumption", "Wait until the missing details are supplied"}
			return model.Call(agents.ToolAskClarification, agents.Clarification{
				Question:       fmt.Sprintf("The context says: %q. What should I assume before I accept %q?", clip(g.Context, 200), clip(g.objective(), 120)),
				Options:        opts,
				Recommendation: opts[0],
			})
		}
	}
	return model.Call(agents.ToolAcceptGoal, s.acceptance(v))
}

// acceptance restates the goal in its own words (restate), never the
// goal's own (the runtime catches a copy, words.NearCopy). After a
// misaligned judgement it restates the intent with care and fixes what the
// judgement lists.
func (s *simulator) acceptance(v *view) agents.Acceptance {
	g := &v.goal
	var gaps []string
	misaligned := 0
	for i := range v.steps {
		if st := &v.steps[i]; st.Name == agents.ToolAcceptGoal && st.failed() {
			misaligned++
			gaps = misalignedGaps(st.Result)
		}
	}
	intent, obj := sentence(g.intent()), sentence(g.objective())
	a := agents.Acceptance{Confidence: 0.8}
	switch {
	case !g.Parsed:
		a.RestatedIntent = "I understand the purpose is to do what my delegator asks: " + clip(v.user, 200)
	case s.persona == Drifter && misaligned == 0, s.persona == Stubborn:
		a.RestatedIntent = "I understand the purpose is to " + drift(g)
	default:
		a.RestatedIntent = restatement(g, intent, obj, misaligned > 0)
	}

	ds := v.delegates()
	if len(ds) > 0 {
		a.Plan = append(a.Plan, "delegate to "+names(ds)+" and wait for their verified outcomes")
		a.Risks = append(a.Risks, "a delegate may decline or fail; I would then escalate")
	}
	if peers := v.peers(); len(peers) > 0 && g.asksAdvice() {
		a.Plan = append(a.Plan, "consult "+peers[0]+" for advice before acting")
	}
	if slices.Contains(g.Tools, toolWriteFile) {
		a.Plan = append(a.Plan, fmt.Sprintf("%s %s: a note that addresses the objective and each criterion", toolWriteFile, strings.Join(g.notePaths(), ", ")))
	}
	if len(a.Plan) == 0 {
		a.Plan = append(a.Plan, "work the objective out by reasoning and give the answer in my report")
	}
	a.Plan = append(a.Plan, "complete_goal with evidence for every criterion")
	for _, t := range refusedTools(gaps) {
		a.Plan = slices.DeleteFunc(a.Plan, func(p string) bool { return strings.Contains(p, t) })
	}
	if len(a.Plan) == 0 {
		a.Plan = []string{"report the result with evidence for every criterion"}
	}

	a.AcknowledgedCriteria = make([]string, 0, len(g.Criteria))
	for _, c := range g.Criteria {
		a.AcknowledgedCriteria = append(a.AcknowledgedCriteria, fmt.Sprintf("I will make sure that %s, and my report will show the evidence.", lowerFirst(sentence(c))))
	}
	a.AcknowledgedConstraints = make([]string, 0, len(g.Constraints))
	for _, c := range g.Constraints {
		a.AcknowledgedConstraints = append(a.AcknowledgedConstraints, fmt.Sprintf("I will respect it: %s.", lowerFirst(sentence(c))))
	}
	wantC, wantK := wantedCounts(gaps)
	a.AcknowledgedCriteria = fit(a.AcknowledgedCriteria, wantC, "I will meet success criterion %d as stated and show the evidence.")
	a.AcknowledgedConstraints = fit(a.AcknowledgedConstraints, wantK, "I will respect constraint %d as stated.")

	if st := last(v.steps, agents.ToolAskClarification); st != nil && st.Answered && !st.failed() {
		a.Assumptions = append(a.Assumptions, "as answered: "+clip(st.Result, 200))
	}
	for _, gap := range gaps {
		a.Assumptions = append(a.Assumptions, "addressed: "+clip(gap, 200))
	}
	if !g.Parsed {
		a.Assumptions = append(a.Assumptions, "I could not read the goal's details; I follow the offer as written")
	}
	if len(a.Risks) == 0 {
		a.Risks = []string{"the criteria may be read more strictly than I read them; I will report any deviation"}
	}
	// Within the schema's bounds, as a model must be, however long the goal.
	a.RestatedIntent = clip(a.RestatedIntent, agents.MaxText-8)
	for _, l := range [][]string{a.Plan, a.AcknowledgedCriteria, a.AcknowledgedConstraints, a.Assumptions, a.Risks} {
		for i := range l {
			l[i] = clip(l[i], agents.MaxItem-8)
		}
	}
	return a
}

// fit pads or cuts entries to n (when n >= 0), padding with a numbered
// generic entry.
func fit(entries []string, n int, pad string) []string {
	if n < 0 {
		return entries
	}
	if len(entries) > n {
		return entries[:n]
	}
	for len(entries) < n {
		entries = append(entries, fmt.Sprintf(pad, len(entries)+1))
	}
	return entries
}

// restatement says what the goal is for in the simulator's own words: the
// gist of its intent and objective, turned round when in their order it
// would still read as a copy of the goal's words (words.NearCopy, which
// the runtime checks). careful is the restatement after a misaligned
// judgement.
func restatement(g *goalInfo, intent, obj string, careful bool) string {
	say := func(reversed bool) string {
		i, o := restate(intent, reversed), restate(obj, reversed)
		switch {
		case careful:
			return fmt.Sprintf("To restate it with care, in my own words: the purpose turns on %s, and the work that serves it on %s.", i, o)
		case intent == obj:
			return fmt.Sprintf("As I understand it, the purpose turns on %s.", i)
		}
		return fmt.Sprintf("As I understand it, the purpose turns on %s; I will serve it with %s.", i, o)
	}
	r := say(false)
	for _, copied := range []string{g.Intent, g.Objective, g.Intent + "\n" + g.Objective, g.Objective + "\n" + g.Intent} {
		if words.NearCopy(r, copied) {
			return say(true)
		}
	}
	return r
}

// drift returns an intent with no meaningful word in common with the goal.
func drift(g *goalInfo) string {
	purpose := g.Intent + " " + g.Objective
	candidates := []string{
		"maximise quarterly advertising revenue through aggressive upselling.",
		"reorganise the warehouse inventory by colour and weight.",
		"compose a sonnet celebrating autumn leaves and harvest moons.",
	}
	for _, c := range candidates {
		if !overlap(c, purpose) {
			return c
		}
	}
	return "zzyzx qwpf."
}

func names(ps []peer) string {
	ns := make([]string, len(ps))
	for i, p := range ps {
		ns[i] = p.Name
	}
	switch len(ns) {
	case 1:
		return ns[0]
	case 2:
		return ns[0] + " and " + ns[1]
	}
	return strings.Join(ns[:len(ns)-1], ", ") + " and " + ns[len(ns)-1]
}

// eagerCall is an action tool called before acceptance: the write_file the
// simulator would make later, or whatever it is granted.
func eagerCall(v *view) model.ToolCall {
	g := &v.goal
	name := toolWriteFile
	switch {
	case slices.Contains(g.Tools, toolWriteFile):
	case len(g.Tools) > 0:
		name = g.Tools[0]
	case len(g.Delegates) > 0:
		return model.Call(agents.ToolDelegate, delegateArgs(g, peer{Name: g.Delegates[0].Name}, 0))
	}
	switch name {
	case toolWriteFile:
		return model.Call(name, map[string]string{"path": g.notePath(), "content": "# " + sentence(g.objective()) + "\n"})
	case toolListFiles:
		return model.Call(name, map[string]string{"path": "."})
	}
	return model.Call(name, map[string]any{})
}

// ---- working: act, then complete ----

func (s *simulator) work(v *view) []model.ToolCall {
	g := &v.goal
	p := s.persona
	ws := workingSteps(v.steps)
	switch {
	case p == Hallucinator && count(v.steps, "run_shell") == 0:
		return []model.ToolCall{model.Call("run_shell", map[string]string{"command": "ls -la"})}
	case p == Looper:
		return []model.ToolCall{loopCall(v)}
	case p == Offplan && v.offers(toolListFiles) && count(v.steps, toolListFiles) == 0:
		return []model.ToolCall{model.Call(toolListFiles, map[string]string{"path": "."})} // its plan names no such step
	case p == Quitter:
		rep := agents.Report{Result: "Done.", Criteria: []agents.CriterionResult{}, Constraints: respected(g), Confidence: 0.95}
		for _, c := range g.Criteria {
			rep.Criteria = append(rep.Criteria, agents.CriterionResult{Criterion: c, Met: true, Evidence: "Done."})
		}
		return []model.ToolCall{model.Call(agents.ToolCompleteGoal, unrestated(v, rep))}
	case v.offers(agents.ToolReportProgress) && progressAsked(v.req.Messages):
		// The report rides in the same turn as the next move.
		rest := s.work(&view{req: withoutLastUser(v.req), offered: v.offered, system: v.system, goal: v.goal, steps: v.steps, user: v.user})
		return append([]model.ToolCall{progress(v, ws)}, rest...)
	}
	if acts, what := s.pending(v, ws); len(acts) > 0 {
		if p == OverAsker && v.offers(agents.ToolEscalate) && !lastAssistantCalled(v.req.Messages, agents.ToolEscalate) {
			opts := []string{"Go ahead", "Hold off"}
			no := false
			return []model.ToolCall{model.Call(agents.ToolEscalate, agents.EscalateArgs{
				Kind:           agents.KindAmbiguity,
				Question:       fmt.Sprintf("Before I %s: is that what you want?", what),
				Options:        opts,
				Recommendation: opts[0],
				Blocking:       &no,
			})}
		}
		return acts
	}
	if fails := failures(ws); len(fails) > 0 && p != Silent && v.offers(agents.ToolEscalate) && !escalatedBlocked(ws) {
		opts := []string{"Complete without it and note the deviation", "Stop here"}
		yes := true
		return []model.ToolCall{model.Call(agents.ToolEscalate, agents.EscalateArgs{
			Kind:           agents.KindBlocked,
			Question:       strings.Join(fails, "; ") + ". How should I proceed?",
			Options:        opts,
			Recommendation: opts[0],
			Blocking:       &yes,
		})}
	}
	return []model.ToolCall{s.complete(v, ws)}
}

// progressAsked reports whether the conversation's last message is a
// reminder to report progress.
func progressAsked(msgs []model.Message) bool {
	if len(msgs) == 0 || msgs[len(msgs)-1].Role != model.RoleUser {
		return false
	}
	l := strings.ToLower(msgs[len(msgs)-1].Content)
	return strings.Contains(l, "report your progress") || strings.Contains(l, "report progress")
}

// withoutLastUser is req without its last message, a reminder.
func withoutLastUser(req *model.Request) *model.Request {
	cp := *req
	cp.Messages = cp.Messages[:len(cp.Messages)-1]
	return &cp
}

func progress(v *view, ws []step) model.ToolCall {
	var done []string
	for i := range ws {
		st := &ws[i]
		if st.Answered && !st.failed() && (!agents.IsProtocolTool(st.Name) || st.Name == agents.ToolDelegate) {
			done = append(done, st.Name)
		}
	}
	pr := agents.ProgressReport{Summary: "Nothing done yet; starting on " + clip(v.goal.objective(), 120) + ".", Percent: 10,
		Next: "do the work, then complete_goal"}
	if len(done) > 0 {
		pr.Summary = "Done so far: " + strings.Join(done, ", ") + "."
		pr.Percent = 60
		pr.Next = "complete_goal with evidence for every criterion"
	}
	return model.Call(agents.ToolReportProgress, pr)
}

// loopCall is the looper's one call, the same every time.
func loopCall(v *view) model.ToolCall {
	g := &v.goal
	switch {
	case v.offers(toolListFiles):
		return model.Call(toolListFiles, map[string]string{"path": "."})
	case v.offers(toolWriteFile):
		return model.Call(toolWriteFile, map[string]string{"path": g.notePath(), "content": "# " + sentence(g.objective()) + "\n"})
	case v.offers(agents.ToolReportProgress):
		return model.Call(agents.ToolReportProgress, agents.ProgressReport{Summary: "Still working on it."})
	}
	for _, t := range v.req.Tools {
		if t.Name != agents.ToolCompleteGoal {
			return model.Call(t.Name, map[string]any{})
		}
	}
	return model.Call(agents.ToolCompleteGoal, map[string]any{})
}

// settled reports whether attempts at one action need no more tries:
// one succeeded, two failed, or a delegation came back with its outcome.
func settled(attempts []*step) (ok, done bool) {
	fails := 0
	for _, st := range attempts {
		if !st.Answered {
			continue
		}
		if !st.failed() {
			return true, true
		}
		if st.Name == agents.ToolDelegate {
			if _, final := st.outcomeOf(); final {
				return false, true
			}
		}
		fails++
	}
	return false, fails >= 2
}

func stepsOf(ws []step, name string, match func(*step) bool) []*step {
	var out []*step
	for i := range ws {
		if ws[i].Name == name && (match == nil || match(&ws[i])) {
			out = append(out, &ws[i])
		}
	}
	return out
}

// pending returns the calls of the next actions not yet settled, and a
// description of them: a consultation the goal asks for, the delegations,
// the note (again after a revision). The delegations go out together.
func (s *simulator) pending(v *view, ws []step) ([]model.ToolCall, string) {
	g := &v.goal
	if peers := v.peers(); len(peers) > 0 && v.offers(agents.ToolConsult) && g.asksAdvice() {
		if _, done := settled(stepsOf(ws, agents.ToolConsult, nil)); !done {
			return []model.ToolCall{model.Call(agents.ToolConsult, agents.ConsultArgs{Agent: peers[0],
				Question: fmt.Sprintf("How would you approach this: %s?", clip(sentence(g.objective()), 300)),
				Context:  "It serves: " + clip(g.intent(), 300)})}, "consult " + peers[0]
		}
	}
	if v.offers(agents.ToolDelegate) {
		var cs []model.ToolCall
		var to []peer
		for i, d := range v.delegates() {
			byAgent := func(st *step) bool { return st.arg("agent") == d.Name }
			if _, done := settled(stepsOf(ws, agents.ToolDelegate, byAgent)); !done {
				cs = append(cs, model.Call(agents.ToolDelegate, delegateArgs(g, d, i)))
				to = append(to, d)
			}
		}
		if len(cs) > 0 {
			return cs, "delegate to " + names(to)
		}
	}
	if v.offers(toolWriteFile) {
		since := ws
		if i := lastIndex(ws, agents.ToolCompleteGoal); i >= 0 {
			since = ws[i+1:]
		}
		var cs []model.ToolCall
		var paths []string
		for _, p := range g.notePaths() {
			byPath := func(st *step) bool { return st.arg("path") == p }
			if _, done := settled(stepsOf(since, toolWriteFile, byPath)); !done {
				cs = append(cs, model.Call(toolWriteFile, map[string]string{"path": p, "content": note(v, ws)}))
				paths = append(paths, p)
			}
		}
		if len(cs) > 0 {
			return cs, "write " + strings.Join(paths, ", ")
		}
	}
	return nil, ""
}

func lastIndex(ws []step, name string) int {
	for i := len(ws) - 1; i >= 0; i-- {
		if ws[i].Name == name {
			return i
		}
	}
	return -1
}

func delegateArgs(g *goalInfo, d peer, i int) agents.DelegateArgs {
	a := agents.DelegateArgs{
		Agent:       d.Name,
		Intent:      sentence(g.intent()),
		Objective:   g.objective(),
		Criteria:    append([]string{}, g.Criteria...),
		Constraints: g.Constraints,
		Context:     g.Context,
	}
	if i > 0 && d.Role != "" {
		a.Objective = fmt.Sprintf("%s (your part, as %s: %s)", sentence(g.objective()), d.Name, sentence(d.Role))
	}
	return a
}

// note is the markdown the simulator writes: the objective addressed, the
// criteria listed, the delegates' results, and the feedback of each revision.
func note(v *view, ws []step) string {
	g := &v.goal
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", sentence(g.objective()))
	fmt.Fprintf(&b, "Purpose: %s.\n\n", sentence(g.intent()))
	fmt.Fprintf(&b, "This note addresses the objective: %s.\n", lowerFirst(sentence(g.objective())))
	if g.Context != "" {
		fmt.Fprintf(&b, "\n## Context\n\n%s\n", g.Context)
	}
	if len(g.Criteria) > 0 {
		b.WriteString("\n## Success criteria\n\n")
		for i, c := range g.Criteria {
			fmt.Fprintf(&b, "%d. %s — addressed in this note.\n", i+1, sentence(c))
		}
	}
	if len(g.Constraints) > 0 {
		b.WriteString("\n## Constraints respected\n\n")
		for i, c := range g.Constraints {
			fmt.Fprintf(&b, "%d. %s\n", i+1, sentence(c))
		}
	}
	var from []string
	for i := range ws {
		if ws[i].Name == agents.ToolDelegate {
			if o, ok := ws[i].outcomeOf(); ok && o.Status == "completed" {
				from = append(from, fmt.Sprintf("- %s: %s", o.Agent, clip(o.Result, 300)))
			}
		}
		if ws[i].Name == agents.ToolConsult && ws[i].Answered && !ws[i].failed() {
			from = append(from, fmt.Sprintf("- advice from %s: %s", ws[i].arg("agent"), clip(ws[i].Result, 300)))
		}
	}
	if len(from) > 0 {
		b.WriteString("\n## From others\n\n" + strings.Join(from, "\n") + "\n")
	}
	n := 0
	for i := range ws {
		if ws[i].Name == agents.ToolCompleteGoal && ws[i].Answered {
			n++
			fmt.Fprintf(&b, "\n## Revision %d\n\nFeedback addressed: %s\n", n, ws[i].Result)
		}
	}
	return b.String()
}

// failures describes the actions that failed for good.
func failures(ws []step) []string {
	var out []string
	seen := map[string]bool{}
	for i := range ws {
		st := &ws[i]
		if !st.Answered || !st.failed() || (st.Name != toolWriteFile && st.Name != agents.ToolDelegate && st.Name != agents.ToolConsult) {
			continue
		}
		key := st.Name + "\x00" + st.arg("agent")
		var attempts []*step
		if st.Name == agents.ToolDelegate {
			attempts = stepsOf(ws, st.Name, func(o *step) bool { return o.arg("agent") == st.arg("agent") })
		} else {
			attempts = stepsOf(ws, st.Name, nil)
		}
		if ok, done := settled(attempts); ok || !done || seen[key] {
			continue
		}
		seen[key] = true
		what := st.Name
		if a := st.arg("agent"); a != "" {
			what += " " + a
		}
		reason := st.Result
		if o, ok := st.outcomeOf(); ok {
			reason = fmt.Sprintf("%s (%s)", o.Status, o.Reason)
		}
		out = append(out, fmt.Sprintf("%s failed: %s", what, clip(reason, 200)))
	}
	return out
}

func escalatedBlocked(ws []step) bool {
	for i := range ws {
		if ws[i].Name == agents.ToolEscalate && ws[i].arg("kind") == string(agents.KindBlocked) {
			return true
		}
	}
	return false
}

// complete reports the goal: every criterion met with the evidence of what
// was done, or not met when every attempt failed.
func (s *simulator) complete(v *view, ws []step) model.ToolCall {
	g := &v.goal
	var wrote *step
	var cites []string // what the evidence rests on: the writes and the delegations that completed
	for i := range ws {
		if ws[i].Name == toolWriteFile && ws[i].Answered && !ws[i].failed() {
			wrote = &ws[i]
			cites = append(cites, ws[i].ID)
		}
	}
	var done, failed []outcome
	for i := range ws {
		if ws[i].Name != agents.ToolDelegate {
			continue
		}
		if o, ok := ws[i].outcomeOf(); ok {
			if o.Status == "completed" {
				done = append(done, o)
				cites = append(cites, o.Delegation)
			} else {
				failed = append(failed, o)
			}
		}
	}
	tried := wrote != nil || len(done) > 0 || len(failed) > 0 || len(failures(ws)) > 0

	var result []string
	if wrote != nil {
		result = append(result, fmt.Sprintf("Wrote %s, a note that addresses the objective (%s) and each criterion.", wrote.arg("path"), clip(sentence(g.objective()), 160)))
	}
	for _, o := range done {
		result = append(result, fmt.Sprintf("%s completed its part: %s", o.Agent, clip(o.Result, 300)))
	}
	if !tried {
		result = append(result, fmt.Sprintf("Worked out by reasoning: to %s, which serves %s, I took each criterion in turn: %s.",
			lowerFirst(sentence(g.objective())), lowerFirst(sentence(g.intent())), strings.Join(g.Criteria, "; ")))
	}
	if len(result) == 0 {
		result = append(result, "The work could not be done: "+strings.Join(failures(ws), "; ")+".")
	}

	rep := agents.Report{Result: strings.Join(result, "\n"), Criteria: make([]agents.CriterionResult, 0, len(g.Criteria)), Confidence: 0.8}
	for i, c := range g.Criteria {
		var ev []string
		if wrote != nil {
			ev = append(ev, fmt.Sprintf("%s addresses it as criterion %d (%s)", wrote.arg("path"), i+1, clip(wrote.Result, 80)))
		}
		for _, o := range done {
			e := fmt.Sprintf("%s completed it: %s", o.Agent, clip(o.Result, 160))
			for _, oc := range o.Criteria {
				if strings.EqualFold(strings.TrimSpace(oc.Criterion), strings.TrimSpace(c)) && oc.Evidence != "" {
					e = fmt.Sprintf("%s: %s", o.Agent, clip(oc.Evidence, 160))
				}
			}
			ev = append(ev, e)
		}
		cr := agents.CriterionResult{Criterion: c, Met: len(ev) > 0, Evidence: strings.Join(ev, "; ")}
		if cr.Met {
			cr.Cites = slices.DeleteFunc(slices.Clone(cites), func(id string) bool { return id == "" })
		}
		if !tried {
			cr.Met, cr.Evidence = true, "addressed in the result, by reasoning"
		}
		if s.persona == Hallucinator && count(ws, agents.ToolCompleteGoal) == 0 {
			if st := last(v.steps, "run_shell"); st != nil && st.ID != "" {
				// It cites the call that never ran as if it had checked the work.
				cr.Evidence += fmt.Sprintf("; checked with run_shell (call %s)", st.ID)
				cr.Cites = append(cr.Cites, st.ID)
			}
		}
		if !cr.Met {
			cr.Evidence = "not done: " + strings.Join(failures(ws), "; ")
		}
		rep.Criteria = append(rep.Criteria, cr)
	}
	if s.persona == Withholder && len(rep.Criteria) > 0 {
		rep.Criteria = rep.Criteria[:len(rep.Criteria)-1]
	}
	rep.Constraints = respected(g)
	rep.Deviations = append(rep.Deviations, failures(ws)...)
	for i := range ws {
		st := &ws[i]
		switch {
		case st.Name == agents.ToolEscalate && st.arg("kind") == string(agents.KindBlocked) && st.Answered:
			rep.Deviations = append(rep.Deviations, "escalated that I was blocked; the answer: "+clip(st.Result, 200))
		case st.Name == agents.ToolCompleteGoal && st.Answered:
			// Feedback that names a constraint is not quoted: the deviation
			// would read as a breach of it (the feedback is in the note).
			fb := clip(st.Result, 200)
			if namesConstraint.MatchString(fb) {
				fb = "see the note"
			}
			rep.Deviations = append(rep.Deviations, "revised after feedback: "+fb)
		}
	}
	if len(failures(ws)) > 0 {
		rep.Confidence = 0.4
	}
	return model.Call(agents.ToolCompleteGoal, unrestated(v, rep))
}

// unrestated leaves out of rep the criteria's and constraints' texts when
// complete_goal's definition does not show them, as a model fills what it
// is shown: the runtime matches the entries by position.
func unrestated(v *view, rep agents.Report) agents.Report {
	def := v.offered[agents.ToolCompleteGoal].Parameters
	if !bytes.Contains(def, []byte(`"criterion":`)) {
		for i := range rep.Criteria {
			rep.Criteria[i].Criterion = ""
		}
	}
	if !bytes.Contains(def, []byte(`"constraint":`)) {
		for i := range rep.Constraints {
			rep.Constraints[i].Constraint = ""
		}
	}
	return rep
}

// respected reports each of the goal's constraints respected: the simulator
// keeps within them.
func respected(g *goalInfo) []agents.ConstraintResult {
	out := make([]agents.ConstraintResult, 0, len(g.Constraints))
	for _, c := range g.Constraints {
		out = append(out, agents.ConstraintResult{Constraint: c, Respected: true, Evidence: "kept to it: " + clip(sentence(c), 120)})
	}
	return out
}

// namesConstraint matches a mention of a goal's constraint by number, as
// the runtime reads deviations.
var namesConstraint = regexp.MustCompile(`(?i)\bconstraints?\s*(?:no\.?\s*|number\s*|#\s*)?\d`)
