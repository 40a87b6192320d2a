package orchestrator

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

// ErrNotResumable is matched by the error of Resume for a journal a run
// cannot continue from: not a run's journal, already finished, cancelled,
// written without full model responses, or by another team.
var ErrNotResumable = errors.New("journal not resumable")

// ResumeOptions are the parts of a run Resume cannot read from its journal.
// The zero value is usable.
type ResumeOptions struct {
	// Verifiers are the programmatic verifiers of the run's goal (Go
	// functions, which a journal cannot hold): as many as the run had, in
	// its order. A resume given fewer or more is refused, so that a report
	// is never accepted unchecked.
	Verifiers []agents.Verifier
	// InFlightToEffects sends an action tool call that was in flight when
	// the run stopped to the run's Effects (Options.Effects) instead of
	// recovering it as Resume does by default: for effects that know each
	// call's fate, such as a durable-execution engine's, which return the
	// recorded result of a call that finished and never start one twice.
	// Only effects that say so (CallRecorder) get them: with any others —
	// LiveEffects, which would simply run the call again — the calls in
	// flight are recovered as by default.
	InFlightToEffects bool
	// Legacy accepts a journal whose run.started records no goal digest
	// (GoalHash): one written before runs recorded it. Its goal and
	// configuration are then believed as the journal holds them.
	Legacy bool
}

// ErrNotRecorded is matched by the error of a model call that Replay found
// no record of: the run did something its journal does not hold.
var ErrNotRecorded = errors.New("effect not recorded in the journal")

// Resume continues the run whose journal is events (as ReadJournal returns
// them) on this runtime, which must run the same team; opts, which may be
// nil, gives what the journal cannot hold. It replays what the
// journal recorded — every model response, tool result and decision comes
// from the journal, no model is called and no tool runs again — and goes
// live from the first effect that was not recorded. A tool call that was in
// flight when the run stopped (called, no result) is run again if its tool is
// idempotent or reconciles (agents.Reconciler) to not done; otherwise the
// delegate's delegator (at the root, the Principal) is asked whether to run
// it again, and it is not unless the answer says so.
//
// The sinks receive a run.resumed event and then only the events that were
// not in the journal, numbered after its last: appended to the same journal,
// the file reads as one run. The outcome and error are those of Run. A
// journal that cannot be resumed is an error matching ErrNotResumable, with
// no event emitted.
func (rt *Runtime) Resume(ctx context.Context, events []*Event, opts *ResumeOptions) (*Outcome, error) {
	if opts == nil {
		opts = &ResumeOptions{}
	}
	start, err := rt.resumable(events, opts.Legacy)
	if err != nil {
		return nil, err
	}
	if n := len(opts.Verifiers); n != start.Verifiers {
		return nil, fmt.Errorf("%w: the run's goal had %d programmatic verifiers, %d given (ResumeOptions.Verifiers)", ErrNotResumable, start.Verifiers, n)
	}
	r := rt.newRun(start.Run)
	r.replay = newReplay(events, r.fx)
	// A call in flight goes to effects that know its fate, never to ones
	// that would just make it again.
	r.replay.inFlightToNext = opts.InFlightToEffects && recordsCalls(r.fx)
	r.fx = r.replay
	r.seq = events[len(events)-1].Seq
	resumes := 1
	for _, e := range events {
		if e.Type == EventRunResumed {
			resumes++
		}
	}
	r.emit(ctx, &Event{Type: EventRunResumed, Agent: rt.lead.name, Attempt: resumes})
	g := *start.Goal
	g.Verifiers = opts.Verifiers
	return r.finishRun(ctx, r.entrust(ctx, nil, rt.lead, &g, rt.rootGrant(&g), siteRoot))
}

// Replay runs the finished or unfinished run of events again on this
// runtime without calling any model, tool, Principal or Supervisor: every
// effect comes from the journal. It returns the events the run emitted, in
// order, with the journal's times — for a journal this runtime's team wrote,
// the journal's own events save their latencies — and sends them to no sink.
// A model call the journal does not hold fails with ErrNotRecorded, and a
// tool call with an error result saying so: the outcome then shows where the
// replay left the journal.
func (rt *Runtime) Replay(ctx context.Context, events []*Event) ([]*Event, *Outcome, error) {
	if len(events) == 0 || events[0].Type != EventRunStarted || events[0].Goal == nil {
		return nil, nil, fmt.Errorf("%w: it does not begin with run.started", ErrNotResumable)
	}
	start := events[0]
	r := rt.newRun(start.Run)
	r.replay = newReplay(events, offline{r.fx})
	r.fx = r.replay
	var got []*Event
	r.observe = func(e *Event) { got = append(got, e) }
	g := *start.Goal
	// The goal's verifiers are never called: their findings are recorded.
	for range start.Verifiers {
		g.Verifiers = append(g.Verifiers, func(*agents.Goal, *agents.Report) ([]string, error) {
			return nil, fmt.Errorf("%w: a verifier's findings", ErrNotRecorded)
		})
	}
	started := rt.startEvent(ctx, &g)
	r.emit(ctx, &started)
	out, err := r.finishRun(ctx, r.entrust(ctx, nil, rt.lead, &g, rt.rootGrant(&g), siteRoot))
	return got, out, err
}

// CanResume returns nil when Resume can continue the run of events with
// opts (which may be nil), else an error matching ErrNotResumable that says
// why.
func (rt *Runtime) CanResume(events []*Event, opts *ResumeOptions) error {
	if opts == nil {
		opts = &ResumeOptions{}
	}
	_, err := rt.resumable(events, opts.Legacy)
	return err
}

// GoalDigest returns the digest of a run.started event's goal, configuration
// and number of verifiers, which the event records as its GoalHash: a
// journal whose goal or configuration was changed after the run started no
// longer matches it. It does not stand against someone who can also rewrite
// the digest; a sealed journal (Journal.Seal) does.
func GoalDigest(start *Event) string {
	b, err := json.Marshal(struct {
		Goal      *agents.Goal    `json:"goal"`
		Config    json.RawMessage `json:"config,omitempty"`
		Verifiers int             `json:"verifiers"`
	}{start.Goal, start.Config, start.Verifiers})
	if err != nil {
		return "" // matches no recorded digest
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// resumable checks that events are the journal of an unfinished run of this
// team with what a resume needs, and returns its run.started event.
func (rt *Runtime) resumable(events []*Event, legacy bool) (*Event, error) {
	bad := func(format string, args ...any) (*Event, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrNotResumable}, args...)...)
	}
	if len(events) == 0 {
		return bad("the journal is empty")
	}
	start := events[0]
	if start.Type != EventRunStarted || start.Goal == nil {
		return bad("it does not begin with run.started and its goal")
	}
	if start.TeamHash == "" {
		return bad("it was written before runs could be resumed (no team hash on run.started)")
	}
	if h := rt.TeamHash(); start.TeamHash != h {
		return bad("it is a run of another team (team hash %s, this team's is %s)", start.TeamHash, h)
	}
	switch h := GoalDigest(start); {
	case start.GoalHash == "" && !legacy:
		return bad("its run.started records no digest of the goal (goal_hash): it was written before runs recorded one, or the digest was removed (ResumeOptions.Legacy accepts it)")
	case start.GoalHash != "" && start.GoalHash != h:
		return bad("its goal or configuration is not the one the run started with (goal hash %s, run.started's holds %s)", h, start.GoalHash)
	}
	// The turns whose model answer the journal holds: an action tool call
	// without the answer that asked for it would be reconciled as the call
	// a new answer asks for, not the one the journal holds.
	answered := map[Key]bool{}
	for _, e := range events {
		turn := Key{Delegation: e.Delegation, Conversation: e.Conversation, Turn: e.Turn}
		switch {
		case e.Type == EventModelCalled && e.Message != nil:
			answered[turn] = true
		case e.Type == EventToolCalled && !agents.IsProtocolTool(e.Tool) && !answered[turn]:
			return bad("its call of %s (event %d) has no model answer that asked for it before it (a journal of a run whose endpoint was found down, written before such answers were kept): a resume could not tell which call it was", e.Tool, e.Seq)
		}
		switch {
		case e.Run != start.Run:
			return bad("event %d is of run %q, not %q", e.Seq, e.Run, start.Run)
		case e.Type == EventRunFinished:
			return bad("the run finished (%s at event %d)", e.Status, e.Seq)
		case e.Type == EventGoalFailed && e.Cause == CauseCancelled:
			return bad("the run was cancelled (%s, event %d); start it again", e.Delegation, e.Seq)
		case e.Type == EventModelCalled && e.Error == "" && e.Message == nil:
			return bad("model.called (event %d) does not hold the model's response", e.Seq)
		}
	}
	return start, nil
}

// TeamHash returns a digest of what the runtime's team is made of: each
// member's name, role, model, tools, delegates, consultations, budget and
// supervision, and the grants. Resume refuses a journal of another team.
func (rt *Runtime) TeamHash() string { return rt.teamHash }

// inFlight reports whether the journal holds a call of an action tool made
// at k whose result it does not hold.
func (p *replay) inFlight(k Key) bool {
	if p.inFlightToNext {
		return false
	}
	_, called := p.called[k]
	_, done := p.results[k]
	return called && !done
}

// recoverInFlight decides what to do with an action tool call that was in
// flight when the run stopped: ok false runs it again; ok true gives res to
// the model instead. Idempotent tools run again; a Reconciler says whether
// the call took effect; for any other tool the delegator is asked, and the
// call is not run again unless the answer says so.
func (d *delegation) recoverInFlight(ctx context.Context, site *callSite, t agents.Tool) (res agents.Result, ok bool) {
	if agents.IsIdempotent(t) {
		return agents.Result{}, false
	}
	if rc, isRC := t.(agents.Reconciler); isRC {
		res, done, err := rc.Reconcile(ctx, site.call.Arguments)
		if err == nil {
			return res, done
		}
	}
	esc := &agents.Escalation{Kind: agents.KindRisk, Blocking: true, From: d.m.name, Delegation: d.id, Goal: d.goal, Origin: "runtime",
		Question: fmt.Sprintf("The run stopped while %s was running %s with %s, and resumed. Whether that call took effect cannot be told. Run it again?",
			d.m.name, site.call.Name, model.ClipText(string(journalArgs(site.call.Arguments)), 300)),
		Options:        []string{rerunYes, rerunNo},
		Recommendation: rerunNo}
	ans := d.escalateUp(ctx, esc, EventEscalationRaised, site.key.String()+"/in-flight")
	if !ans.Refused && saysRerun(ans) {
		return agents.Result{}, false
	}
	return agents.Errorf("not run again: the run stopped while this call was in flight, and %s decided not to run it again (%s). Check its effect before relying on it.",
		ans.By, ans.Answer), true
}

const (
	rerunYes = "run it again"
	rerunNo  = "do not run it again"
)

// saysRerun tells whether an answer to the in-flight question chose
// rerunYes: its decision (or, with none, its answer) is that option and
// nothing else, whatever the case and a closing full stop. Anything else —
// "don't run it again", "run it again? no", prose — keeps the call unrun:
// a call that may have taken effect runs twice only when someone said so
// plainly.
func saysRerun(ans agents.Resolution) bool {
	said := ans.Decision
	if strings.TrimSpace(said) == "" {
		said = ans.Answer
	}
	return strings.ToLower(strings.TrimRight(strings.TrimSpace(said), ".!")) == rerunYes
}

// replay is the Effects of a resumed or replayed run: what the journal
// recorded for a key, else next's. It also tells the events the run emits
// again (which the journal holds) from new ones.
type replay struct {
	next Effects
	// inFlightToNext leaves the calls in flight to next (ResumeOptions).
	inFlightToNext bool
	models         map[Key]*Event
	retries        map[Key][]*Event
	failovers      map[Key][]*Event
	called         map[Key]*Event
	results        map[Key]*Event
	decisions      map[Key]Decision
	ids            map[string]string // kind and site → id
	used           map[string]bool   // the recorded ids

	mu      sync.Mutex
	pending map[eventID][]*Event // recorded events not yet emitted again
}

// eventID is what tells one event of a run from another, times aside.
type eventID struct {
	typ                      EventType
	delegation, conversation string
	turn, call, round        int
	id, tool, callID, agent  string
	reason, site             string
}

func idOf(e *Event) eventID {
	return eventID{typ: e.Type, delegation: e.Delegation, conversation: e.Conversation, turn: e.Turn, call: e.CallIndex,
		round: e.Round, id: e.ID, tool: e.Tool, callID: e.CallID, agent: e.Agent, reason: e.Reason, site: e.Site}
}

func newReplay(events []*Event, next Effects) *replay {
	p := &replay{next: next, models: map[Key]*Event{}, retries: map[Key][]*Event{}, failovers: map[Key][]*Event{}, called: map[Key]*Event{},
		results: map[Key]*Event{}, decisions: map[Key]Decision{}, ids: map[string]string{}, used: map[string]bool{},
		pending: map[eventID][]*Event{}}
	for _, e := range events {
		k := Key{Delegation: e.Delegation, Conversation: e.Conversation, Turn: e.Turn, Call: e.CallIndex}
		switch e.Type {
		case EventRunStarted, EventRunResumed:
			continue
		case EventModelCalled:
			p.models[k] = e
		case EventModelRetried:
			p.retries[k] = append(p.retries[k], e)
		case EventModelFailover:
			p.failovers[k] = append(p.failovers[k], e)
		case EventToolCalled:
			p.called[k] = e
		case EventToolResult:
			p.results[k] = e
		case EventAlignmentJudged:
			if e.Parent == "" && e.Alignment != nil {
				p.decisions[Key{Delegation: e.Delegation, Conversation: "principal judge", Turn: e.Round}] = Decision{Alignment: e.Alignment}
			}
		case EventEscalationResolved:
			if e.Resolution != nil {
				p.decisions[Key{Delegation: e.Delegation, Conversation: "principal answer " + e.ID}] = Decision{Resolution: e.Resolution}
			}
		case EventReportVerified:
			if e.Parent == "" && e.Verification != nil {
				p.decisions[Key{Delegation: e.Delegation, Conversation: "principal verify", Turn: e.Round}] = Decision{Verification: e.Verification}
				p.decisions[Key{Delegation: e.Delegation, Conversation: "principal breaches", Turn: e.Round}] = Decision{Breaches: e.Verification.AcceptedBreaches}
			}
			// The runtime's checks ran for every report; the journal
			// records what they found only when they found something.
			checks := e.Checks
			if checks == nil {
				checks = &Checks{}
			}
			p.decisions[Key{Delegation: e.Delegation, Conversation: "checks", Turn: e.Round}] = Decision{Checks: checks}
		case EventSupervisionIntervened:
			if e.Conversation == "supervise" && e.Intervention != nil {
				p.decisions[k] = Decision{Intervention: e.Intervention}
			}
		case EventGoalOffered:
			p.recordID("d", e.Site, e.Delegation)
			if e.Supervision != nil {
				p.decisions[Key{Delegation: e.Delegation, Conversation: "supervision"}] = Decision{Supervision: e.Supervision}
			}
		case EventEscalationRaised, EventClarificationAsked:
			p.recordID("e", e.Site, e.ID)
		case EventConsultationAsked:
			p.recordID("c", e.Site, e.ID)
		}
		id := idOf(e)
		p.pending[id] = append(p.pending[id], e)
	}
	return p
}

func (p *replay) recordID(kind, site, id string) {
	if site != "" && id != "" {
		p.ids[kind+" "+site] = id
	}
	p.used[id] = true
}

// again reports whether e is an event the journal holds, not yet emitted
// again, and returns the recorded one.
func (p *replay) again(e *Event) (*Event, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := idOf(e)
	q := p.pending[id]
	if len(q) == 0 {
		return nil, false
	}
	p.pending[id] = q[1:]
	return q[0], true
}

// Generate returns the recorded response, telling the context's trace of
// the recorded retries, or calls next.
func (p *replay) Generate(ctx context.Context, k Key, m model.Model, req *model.Request) (Generated, error) {
	e, ok := p.models[k]
	if !ok {
		return p.next.Generate(ctx, k, m, req)
	}
	// Retries and failovers are replayed in the order they happened: a
	// fallback's retries come after the failover to it.
	if t := model.ContextTrace(ctx); t != nil {
		events := append(slices.Clone(p.retries[k]), p.failovers[k]...)
		slices.SortStableFunc(events, func(a, b *Event) int { return cmp.Compare(a.Seq, b.Seq) })
		for _, r := range events {
			switch {
			case r.Type == EventModelRetried && t.Retried != nil:
				t.Retried(ctx, r.Attempt, errors.New(r.Error), time.Duration(r.WaitMS*1e6))
			case r.Type == EventModelFailover && t.FailedOver != nil:
				t.FailedOver(ctx, r.Model, r.Fallback, errors.New(r.Error))
			}
		}
	}
	g := Generated{Latency: time.Duration(e.LatencyMS * 1e6)}
	if e.Error != "" {
		return g, errors.New(e.Error)
	}
	resp := &model.Response{FinishReason: e.FinishReason, Model: e.Model}
	if e.ResponseModel != "" {
		resp.Model = e.ResponseModel
	}
	if e.Message != nil {
		resp.Message = *e.Message
		resp.Message.ToolCalls = slices.Clone(e.Message.ToolCalls)
		for _, i := range e.RawArguments {
			var raw string
			if i < len(resp.Message.ToolCalls) && json.Unmarshal(resp.Message.ToolCalls[i].Arguments, &raw) == nil {
				resp.Message.ToolCalls[i].Arguments = json.RawMessage(raw)
			}
		}
	}
	if e.Usage != nil {
		resp.Usage = *e.Usage
	}
	g.Response = resp
	return g, nil
}

// CallTool returns the recorded result, or calls next.
func (p *replay) CallTool(ctx context.Context, k Key, t agents.Tool, call *model.ToolCall) Called {
	if e, ok := p.results[k]; ok {
		return Called{Result: agents.Result{Content: e.Result, IsError: e.IsError}, Latency: time.Duration(e.LatencyMS * 1e6)}
	}
	return p.next.CallTool(ctx, k, t, call)
}

// Decide returns the recorded decision, or calls next. A Supervisor that
// intervened not is recorded by the result of the progress report it
// answered.
func (p *replay) Decide(ctx context.Context, k Key, ask func(context.Context) (Decision, error)) (Decision, error) {
	if d, ok := p.decisions[k]; ok {
		return d, nil
	}
	if k.Conversation == "supervise" {
		if _, ok := p.results[Key{Delegation: k.Delegation, Turn: k.Turn, Call: k.Call}]; ok {
			return Decision{Intervention: &Intervention{Action: ActionContinue}}, nil
		}
	}
	return p.next.Decide(ctx, k, ask)
}

// NewID returns the id recorded at site, or a fresh one of next's that the
// journal does not hold.
func (p *replay) NewID(kind, site string) string {
	if id, ok := p.ids[kind+" "+site]; ok {
		return id
	}
	for {
		if id := p.next.NewID(kind, site); !p.used[id] {
			return id
		}
	}
}

// Now is next's clock.
func (p *replay) Now() time.Time { return p.next.Now() }

// offline are the effects of Replay past the journal: nothing is called.
type offline struct{ Effects }

func (offline) Generate(_ context.Context, k Key, _ model.Model, _ *model.Request) (Generated, error) {
	return Generated{}, fmt.Errorf("%w: model call %s", ErrNotRecorded, k)
}

func (offline) CallTool(_ context.Context, k Key, _ agents.Tool, call *model.ToolCall) Called {
	return Called{Result: agents.Errorf("%s: %v: tool call %s", call.Name, ErrNotRecorded, k)}
}

func (offline) Decide(_ context.Context, k Key, _ func(context.Context) (Decision, error)) (Decision, error) {
	return Decision{}, fmt.Errorf("%w: decision %s", ErrNotRecorded, k)
}
