// Package serve offers a team to other programs: over the Model Context
// Protocol as a tool, run_goal (NewMCPServer), and over A2A as an agent
// whose tasks are goals (NewA2AHandler). Both carry the protocol across: a
// decline is a declined status (A2A's rejected), an escalation that reaches
// the top is put to the caller (an MCP elicitation, A2A's input-required)
// and the caller's answer resolves it.
//
// A Runner runs each goal; it decides where the run's journal and workspace
// go, so a server holds no team of its own.
package serve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
)

// Runner runs one goal to its end.
type Runner func(ctx context.Context, req *Request) (*Result, error)

// Request is one goal to run.
type Request struct {
	// ID names the run uniquely among the server's (an A2A task id): use it
	// for the run's journal and workspace subdirectory.
	ID string
	// Goal is what the caller entrusts to the team.
	Goal agents.Goal
	// Principal stands above the lead: it confirms the lead's acceptance
	// and answers the escalations that reach the top, the caller's way.
	Principal orchestrator.Principal
	// Sink receives the run's events as they happen, for progress; add it
	// to the runtime's sinks.
	Sink orchestrator.Sink

	// journal is told the journal's path (SetJournal).
	journal func(path string)
}

// SetJournal tells the server where the run's journal is, as soon as the
// Runner knows (before the run starts): a caller that fell so far behind
// that some of the run's events were dropped unsent (MaxBacklog) is told
// how many, and pointed to the journal, which holds them all. Safe to call
// from any goroutine.
func (r *Request) SetJournal(path string) {
	if r.journal != nil {
		r.journal(path)
	}
}

// Result is the end of a run.
type Result struct {
	Outcome *orchestrator.Outcome
	// Journal is the path of the run's journal.
	Journal string
}

// Output is what a caller learns of a finished run: the structured content
// of run_goal's result, and the data part of an A2A task's artifact.
type Output struct {
	// Status is completed (and verified), declined or failed.
	Status string `json:"status"`
	// Result is the lead's report's result, when completed.
	Result string `json:"result,omitempty"`
	// Criteria are the report's criteria, each met or not, with evidence.
	Criteria []Criterion `json:"criteria"`
	// Reason says why the goal was declined or failed.
	Reason string `json:"reason,omitempty"`
	// Missing is what the lead would need to accept, when it declined.
	Missing []string `json:"missing,omitempty"`
	// Run is the run's id and Journal its journal's path.
	Run     string `json:"run"`
	Journal string `json:"journal"`
	// Tokens counts the tokens the whole run spent.
	Tokens int `json:"tokens"`
}

// Criterion is one criterion of a report: met or not, with the evidence.
type Criterion struct {
	Criterion string `json:"criterion"`
	Met       bool   `json:"met"`
	Evidence  string `json:"evidence,omitempty"`
}

// NewOutput summarises a result.
func NewOutput(res *Result) Output {
	out := Output{Status: string(orchestrator.StatusFailed), Criteria: []Criterion{}, Journal: res.Journal}
	o := res.Outcome
	if o == nil {
		out.Reason = "the run ended without an outcome"
		return out
	}
	out.Status, out.Reason, out.Run, out.Tokens = string(o.Status), o.Reason, o.Run, o.Total.Total()
	if o.Report != nil {
		out.Result = o.Report.Result
		for _, c := range o.Report.Criteria {
			out.Criteria = append(out.Criteria, Criterion{Criterion: c.Criterion, Met: c.Met, Evidence: c.Evidence})
		}
	}
	if o.Decline != nil {
		out.Missing = o.Decline.Missing
		if out.Reason == "" {
			out.Reason = o.Decline.Reason
		}
	}
	return out
}

// Text says the outcome in a few lines for people.
func (o Output) Text() string {
	var b strings.Builder
	switch o.Status {
	case string(orchestrator.StatusCompleted):
		fmt.Fprintf(&b, "completed and verified: %s", o.Result)
		for _, c := range o.Criteria {
			mark := "met"
			if !c.Met {
				mark = "NOT met"
			}
			fmt.Fprintf(&b, "\n- %s: %s", c.Criterion, mark)
			if c.Evidence != "" {
				fmt.Fprintf(&b, " (%s)", c.Evidence)
			}
		}
	case string(orchestrator.StatusDeclined):
		fmt.Fprintf(&b, "declined: %s", o.Reason)
		if len(o.Missing) > 0 {
			fmt.Fprintf(&b, "\nmissing: %s", strings.Join(o.Missing, "; "))
		}
	default:
		fmt.Fprintf(&b, "failed: %s", o.Reason)
	}
	fmt.Fprintf(&b, "\njournal: %s", o.Journal)
	return b.String()
}

// Goal builds the goal of a request from the caller's words.
func Goal(objective string, criteria, constraints []string) (agents.Goal, error) {
	objective = strings.TrimSpace(objective)
	if objective == "" {
		return agents.Goal{}, errors.New("no goal: say what the team should achieve")
	}
	for _, c := range append(criteria, constraints...) {
		if strings.TrimSpace(c) == "" {
			return agents.Goal{}, errors.New("an empty criterion or constraint")
		}
	}
	return agents.Goal{Objective: objective, Criteria: criteria, Constraints: constraints}, nil
}

// question is an escalation that reached the top, waiting for the caller.
type question struct {
	esc    *agents.Escalation
	answer chan agents.Resolution
}

// job is a run in the background: the server's requests come and go, and
// an escalation may wait between two of them.
type job struct {
	cancel    context.CancelCauseFunc
	questions chan *question
	done      chan struct{}
	res       *Result
	err       error
	// canceled says the caller cancelled the run.
	canceled atomic.Bool
	// idle bounds how long a question may wait for the caller's answer
	// (0: for ever); parked ends the run when it has waited that long.
	idle   time.Duration
	parked *time.Timer

	mu       sync.Mutex
	listener listener              // who hears the run's events now
	queue    []*orchestrator.Event // events not yet heard (at most MaxBacklog)
	dropped  int                   // events dropped unheard before queue's first
	journal  string                // the run's journal (Request.SetJournal)
	pending  *question             // the question the caller was asked

	// The run's events reach the listener from a goroutine of the job's,
	// never from the run's emit (which holds the run's lock): a slow or
	// hostile client stalls its own delivery, not the run. wake says the
	// queue grew; delivering is held while events go to a listener, so
	// they go in order and a listener that left hears no more.
	wake       chan struct{}
	delivering sync.Mutex
}

// MaxBacklog bounds the events of a run a server keeps for its caller
// that the caller has not been sent yet (nobody listens between two
// requests, or the client reads slowly): past it the oldest are dropped,
// and the caller is told how many, in its stream (an MCP progress
// notification, an A2A status message), before the next event it is sent.
// The run's journal holds every event.
const MaxBacklog = 1024

// listener hears a run's events, in order: missed, when not 0, is how many
// events before e were dropped unsent (MaxBacklog), and journal where the
// run's journal is ("" if the Runner did not say).
type listener func(e *orchestrator.Event, missed int, journal string)

// missedNote says to a caller that missed of a run's events were dropped
// unsent, and where they all are.
func missedNote(missed int, journal string) string {
	where := "the run's journal holds every event (its path comes with the result)"
	if journal != "" {
		where = "the run's journal holds every event: " + journal
	}
	return fmt.Sprintf("%d of the run's events were dropped unsent (the server keeps at most %d for a caller that falls behind): %s", missed, MaxBacklog, where)
}

// DefaultIdleTimeout is how long a run waits for the caller's answer to a
// question when a server's options say nothing: past it, the run ends.
const DefaultIdleTimeout = 10 * time.Minute

// ErrIdle is the cause of the end of a run whose question waited longer
// than the server's idle timeout for the caller's answer; the run's journal
// records it as the reason its delegations were cancelled.
var ErrIdle = errors.New("the caller did not answer the team's question in time; the server ended the run")

// idleTimeout is the idle timeout of options' d: 0 is the default,
// negative none.
func idleTimeout(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultIdleTimeout
	case d < 0:
		return 0
	}
	return d
}

// how says how a job's run puts questions to its caller.
type how struct {
	// ask: escalations that reach the top wait for the caller (next
	// returns them), at most idle (0: no bound); otherwise fallback
	// answers them.
	ask      bool
	fallback orchestrator.Principal
	idle     time.Duration
	// confirm, with ask, puts the lead's acceptance to the caller once the
	// fallback found it aligned; otherwise the fallback's judgement stands.
	confirm bool
}

// start runs req in the background under ctx, asking as h says. The run's
// events go to the job's listener.
func start(ctx context.Context, run Runner, req *Request, h how) *job {
	ctx, cancel := context.WithCancelCause(ctx)
	fallback := h.fallback
	j := &job{cancel: cancel, questions: make(chan *question), done: make(chan struct{}), wake: make(chan struct{}, 1), idle: h.idle}
	req.journal = func(path string) {
		j.mu.Lock()
		j.journal = path
		j.mu.Unlock()
	}
	req.Sink = orchestrator.SinkFunc(func(ctx context.Context, e *orchestrator.Event) error {
		// The run starts before the request that started it listens, and
		// goes on between two requests: what happens meanwhile is kept for
		// the next listener rather than lost — up to MaxBacklog, past
		// which the oldest are dropped and counted.
		j.mu.Lock()
		if len(j.queue) == MaxBacklog {
			j.queue = append(j.queue[:0], j.queue[1:]...)
			j.dropped++
		}
		j.queue = append(j.queue, e)
		j.mu.Unlock()
		j.poke()
		return nil
	})
	go func() {
		for {
			select {
			case <-j.wake:
				j.deliver()
			case <-j.done:
				j.deliver()
				return
			}
		}
	}()
	req.Principal = fallback
	if h.ask {
		answer := func(ctx context.Context, e *agents.Escalation) (agents.Resolution, error) {
			q := &question{esc: e, answer: make(chan agents.Resolution, 1)}
			select {
			case j.questions <- q:
			case <-ctx.Done():
				return agents.Resolution{}, context.Cause(ctx)
			}
			select {
			case r := <-q.answer:
				return r, nil
			case <-ctx.Done():
				return agents.Resolution{}, context.Cause(ctx)
			}
		}
		judge := fallback.JudgeAcceptance
		if h.confirm {
			judge = func(ctx context.Context, g *agents.Goal, agent string, a *agents.Acceptance) (agents.Alignment, error) {
				al, err := fallback.JudgeAcceptance(ctx, g, agent, a)
				if err != nil || !al.Aligned {
					return al, err
				}
				r, err := answer(ctx, confirmation(agent, a))
				if err != nil {
					return agents.Alignment{}, err
				}
				return confirmed(r), nil
			}
		}
		req.Principal = orchestrator.PrincipalFuncs{Judge: judge, Answer: answer}
	}
	go func() {
		defer close(j.done)
		defer cancel(nil)
		j.res, j.err = run(ctx, req)
	}()
	return j
}

// poke tells the job's delivery that there is something to deliver.
func (j *job) poke() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// deliver gives the listener, if any, the events it has not heard, in
// order, telling it first how many were dropped unheard.
func (j *job) deliver() {
	j.delivering.Lock()
	defer j.delivering.Unlock()
	for {
		j.mu.Lock()
		fn, batch, missed, journal := j.listener, j.queue, j.dropped, j.journal
		if fn == nil || len(batch) == 0 {
			j.mu.Unlock()
			return
		}
		j.queue, j.dropped = nil, 0
		j.mu.Unlock()
		for _, e := range batch {
			fn(e, missed, journal)
			missed = 0
		}
	}
}

// listen makes fn hear the run's events: first those no listener heard
// yet, then each as it comes. nil stops the listener there was, once it
// has heard every event emitted so far.
func (j *job) listen(fn listener) {
	if fn == nil {
		j.deliver()
	}
	j.delivering.Lock()
	j.mu.Lock()
	j.listener = fn
	j.mu.Unlock()
	j.delivering.Unlock()
	if fn != nil {
		j.poke()
	}
}

// next waits until the run asks a question (q, which is then pending) or
// ends (q nil), or ctx ends (err). A question left pending longer than the
// job's idle timeout ends the run (ErrIdle).
func (j *job) next(ctx context.Context) (*question, error) {
	select {
	case q := <-j.questions:
		j.mu.Lock()
		j.pending = q
		if j.idle > 0 {
			j.parked = time.AfterFunc(j.idle, func() {
				j.mu.Lock()
				still := j.pending == q
				j.mu.Unlock()
				if still {
					j.cancel(fmt.Errorf("%w (no answer for %s)", ErrIdle, j.idle))
				}
			})
		}
		j.mu.Unlock()
		return q, nil
	case <-j.done:
		return nil, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// take returns the pending question, if any, which the caller answers.
func (j *job) take() *question {
	j.mu.Lock()
	defer j.mu.Unlock()
	q := j.pending
	j.pending = nil
	if j.parked != nil {
		j.parked.Stop()
		j.parked = nil
	}
	return q
}

// stop cancels the run and waits for its end.
func (j *job) stop() {
	j.cancel(nil)
	<-j.done
}

// defaultMaxRuns bounds a server's runs when its options say nothing.
const defaultMaxRuns = 8

// ErrBusy is matched by the refusal of a goal while a server runs as many
// goals as it may.
var ErrBusy = errors.New("the server runs as many goals as it may: try again later")

// registry holds a server's runs by key.
type registry struct {
	max int // 0: defaultMaxRuns; negative: no bound
	mu  sync.Mutex
	m   map[string]*job
}

// add starts a run with mk and holds it under key, unless the server runs
// as many as it may (ErrBusy). The run is let go once it ends; wg counts
// the goroutine that waits for that.
func (r *registry) add(key string, wg *sync.WaitGroup, mk func() *job) (*job, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	limit := r.max
	if limit == 0 {
		limit = defaultMaxRuns
	}
	if limit > 0 && len(r.m) >= limit {
		return nil, ErrBusy
	}
	if r.m == nil {
		r.m = map[string]*job{}
	}
	j := mk()
	r.m[key] = j
	wg.Go(func() {
		<-j.done
		r.mu.Lock()
		delete(r.m, key)
		r.mu.Unlock()
	})
	return j, nil
}

func (r *registry) get(key string) (*job, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	j, ok := r.m[key]
	return j, ok
}

// stopAll cancels every run and waits for their ends.
func (r *registry) stopAll() {
	r.mu.Lock()
	all := make([]*job, 0, len(r.m))
	for _, j := range r.m {
		all = append(all, j)
	}
	r.mu.Unlock()
	for _, j := range all {
		j.stop()
	}
}

// KindAcceptance is the kind of the question that puts the lead's
// acceptance to the caller (MCPOptions.ConfirmAcceptance,
// A2AOptions.ConfirmAcceptance).
const KindAcceptance agents.EscalationKind = "acceptance"

// The options of the acceptance question.
const (
	acceptYes = "Yes, that is what I mean"
	acceptNo  = "No, restate it"
)

// confirmation is the question that puts agent's acceptance to the caller.
// It has no recommendation: no answer does not confirm.
func confirmation(agent string, a *agents.Acceptance) *agents.Escalation {
	var b strings.Builder
	fmt.Fprintf(&b, "%s accepted your goal as: %s", agent, a.RestatedIntent)
	for i, p := range a.Plan {
		fmt.Fprintf(&b, "\n  plan %d. %s", i+1, p)
	}
	for _, x := range a.Assumptions {
		fmt.Fprintf(&b, "\n  assumes: %s", x)
	}
	b.WriteString("\nIs this what you mean? If not, say what to correct.")
	return &agents.Escalation{Kind: KindAcceptance, From: agent, Question: b.String(), Options: []string{acceptYes, acceptNo}}
}

// confirmed is the alignment the caller's answer to the acceptance question
// gives: aligned only when the caller chose yes; otherwise its words are
// the correction the lead accepts again with.
func confirmed(r agents.Resolution) agents.Alignment {
	if !r.Refused && r.Decision == acceptYes {
		return agents.Alignment{Aligned: true, By: "user"}
	}
	said := strings.TrimSpace(r.Answer)
	if r.Refused || said == "" || said == acceptNo {
		said = "The caller did not confirm this understanding of the goal; restate it more faithfully."
	}
	return agents.Alignment{Aligned: false, Gaps: []string{"the caller says: " + said}, Correction: said, By: "user"}
}

// resolve turns a caller's answer into a resolution: an option named by
// its text or its number is a decision; empty takes the recommendation.
func resolve(e *agents.Escalation, answer string) agents.Resolution {
	answer = strings.TrimSpace(answer)
	if answer == "" {
		answer = e.Recommendation
	}
	if answer == "" {
		return agents.Resolution{Refused: true, Answer: "no answer was given", By: "user"}
	}
	for i, o := range e.Options {
		if strings.EqualFold(answer, o) || answer == fmt.Sprint(i+1) {
			return agents.Resolution{Answer: o, Decision: o, By: "user"}
		}
	}
	return agents.Resolution{Answer: answer, By: "user"}
}

// describe says an escalation for the caller.
func describe(e *agents.Escalation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, from %s): %s", "The team asks", e.Kind, e.From, e.Question)
	for i, o := range e.Options {
		fmt.Fprintf(&b, "\n%d. %s", i+1, o)
	}
	if e.Recommendation != "" {
		fmt.Fprintf(&b, "\nRecommended: %s", e.Recommendation)
	}
	return b.String()
}

// eventLine says an event in one line, for progress.
func eventLine(e *orchestrator.Event) string {
	s := string(e.Type)
	if e.Delegation != "" {
		s = e.Delegation + " " + e.Agent + ": " + s
	}
	if e.Tool != "" {
		s += " " + e.Tool
	}
	return s
}
