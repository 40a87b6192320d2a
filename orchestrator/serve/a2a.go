package serve

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/a2aproject/a2a-go/a2a"
	"github.com/a2aproject/a2a-go/a2asrv"
	"github.com/a2aproject/a2a-go/a2asrv/eventqueue"
	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
)

// A2AOptions configure NewA2AServer; nil is usable.
type A2AOptions struct {
	// Name names the agent on its card; default "entrust team".
	Name string
	// Description describes it, e.g. the lead's role.
	Description string
	// URL is where clients reach the server's JSON-RPC endpoint, as the
	// card says it; default "http://localhost/".
	URL string
	// Version is the agent's version on its card; default "0".
	Version string
	// MaxRuns bounds the tasks run at once (a task waiting for an answer
	// counts): 0 means 8, a negative number no bound. A task beyond it is
	// rejected.
	MaxRuns int
	// IdleTimeout bounds how long a task stays input-required waiting for
	// the client's answer: past it the run ends (ErrIdle, which its journal
	// records) and its place among MaxRuns is freed; a later message to the
	// task fails. 0 means DefaultIdleTimeout, a negative number no bound.
	IdleTimeout time.Duration
	// ConfirmAcceptance puts the lead's acceptance of each goal (its
	// restated intent, plan and assumptions) to the client: the task goes
	// input-required with a question of kind "acceptance", and the lead
	// starts only when the client answers yes (option 1), accepting again
	// with the client's correction otherwise. Off, the policy confirms it.
	ConfirmAcceptance bool
}

// A2AServer serves a team as an A2A v0.3 agent over JSON-RPC: a user's
// message is a goal, a task its run. It is an http.Handler: the agent card
// at /.well-known/agent-card.json, JSON-RPC at /.
type A2AServer struct {
	card     *a2a.AgentCard
	mux      *http.ServeMux
	run      Runner
	base     context.Context
	stopBase context.CancelFunc
	jobs     registry
	idle     time.Duration
	confirm  bool
	wg       sync.WaitGroup
}

// Card returns the agent card of a team served over A2A.
func Card(opts *A2AOptions) *a2a.AgentCard {
	var o A2AOptions
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = "entrust team"
	}
	if o.URL == "" {
		o.URL = "http://localhost/"
	}
	if o.Version == "" {
		o.Version = "0"
	}
	desc := o.Description
	if desc == "" {
		desc = "A team of agents that must accept a goal before they act."
	}
	return &a2a.AgentCard{
		Name:               o.Name,
		Description:        desc,
		URL:                o.URL,
		Version:            o.Version,
		ProtocolVersion:    "0.3.0",
		PreferredTransport: a2a.TransportProtocolJSONRPC,
		DefaultInputModes:  []string{"text/plain", "application/json"},
		DefaultOutputModes: []string{"text/plain", "application/json"},
		Capabilities:       a2a.AgentCapabilities{Streaming: true},
		Skills: []a2a.AgentSkill{{
			ID:   "run_goal",
			Name: "Run a goal",
			Description: "Send the goal as text; a data part may carry criteria and constraints ({\"criteria\": [...], \"constraints\": [...]}). " +
				"The lead accepts or declines it (rejected, with the reason and what is missing), the team works, and the report comes back " +
				"as an artifact (text, and data with each criterion met or not). A question the team cannot answer itself sets the task to " +
				"input-required: answer it with a message on the same task.",
			Tags:     []string{"delegation", "agents", "verification"},
			Examples: []string{"Write a haiku about delegation to haiku.txt"},
		}},
	}
}

// NewA2AServer returns the server of a team whose goals run with run.
// Tasks run concurrently, each as its own run (Request.ID is the task id).
func NewA2AServer(run Runner, opts *A2AOptions) *A2AServer {
	s := &A2AServer{card: Card(opts), mux: http.NewServeMux(), run: run, idle: DefaultIdleTimeout}
	if opts != nil {
		s.jobs.max = opts.MaxRuns
		s.idle = idleTimeout(opts.IdleTimeout)
		s.confirm = opts.ConfirmAcceptance
	}
	s.base, s.stopBase = context.WithCancel(context.Background())
	s.mux.Handle(a2asrv.WellKnownAgentCardPath, a2asrv.NewStaticAgentCardHandler(s.card))
	s.mux.Handle("/", a2asrv.NewJSONRPCHandler(a2asrv.NewHandler(s)))
	return s
}

// ServeHTTP serves the agent card and the JSON-RPC endpoint.
func (s *A2AServer) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close cancels the runs still going and waits for their ends: each
// journal ends with run.finished, each task is canceled.
func (s *A2AServer) Close() {
	s.stopBase()
	s.jobs.stopAll()
	s.wg.Wait()
}

// Execute starts a task's run, or answers its question with the message,
// and reports the run until it asks again or ends.
func (s *A2AServer) Execute(ctx context.Context, rc *a2asrv.RequestContext, q eventqueue.Queue) error {
	key := string(rc.TaskID)
	var j *job
	if rc.StoredTask == nil {
		goal, err := goalOf(rc.Message)
		if err != nil {
			return q.Write(ctx, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateRejected, agentText(rc, err.Error()))))
		}
		j, err = s.jobs.add(key, &s.wg, func() *job {
			return start(s.base, s.run, &Request{ID: key, Goal: goal}, how{ask: true, fallback: orchestrator.AutoPrincipal{Deny: true}, idle: s.idle, confirm: s.confirm})
		})
		if err != nil {
			return q.Write(ctx, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateRejected, agentText(rc, err.Error()))))
		}
		if err := q.Write(ctx, a2a.NewStatusUpdateEvent(rc, a2a.TaskStateSubmitted, nil)); err != nil {
			return err
		}
	} else {
		var ok bool
		if j, ok = s.jobs.get(key); !ok {
			return q.Write(ctx, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateFailed, agentText(rc, "the server no longer holds this task's run"))))
		}
		pq := j.take()
		if pq == nil {
			return q.Write(ctx, agentText(rc, "the task is working and asks nothing now: a message is read only when the task is input-required"))
		}
		pq.answer <- resolve(pq.esc, answerOf(rc.Message))
	}
	if err := q.Write(ctx, a2a.NewStatusUpdateEvent(rc, a2a.TaskStateWorking, nil)); err != nil {
		return err
	}
	j.listen(a2aProgress(ctx, rc, q))
	pq, err := j.next(ctx)
	j.listen(nil)
	switch {
	case err != nil:
		// The execution was cancelled: a cancel is under way and says so.
		return nil
	case pq != nil:
		return q.Write(ctx, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateInputRequired, question2a(rc, pq.esc))))
	case j.canceled.Load():
		return nil
	}
	return s.finish(ctx, rc, q, j)
}

// a2aProgress reports a run's milestones to a task's client as working
// status updates. Events dropped unsent (MaxBacklog) are said before the
// next event, in a status update of their own whose data part counts them
// and names the journal that holds them ({"missed": {"events": N,
// "journal": PATH}}).
func a2aProgress(ctx context.Context, rc *a2asrv.RequestContext, q eventqueue.Writer) listener {
	return func(e *orchestrator.Event, missed int, journal string) {
		if missed > 0 {
			data := map[string]any{"events": missed}
			if journal != "" {
				data["journal"] = journal
			}
			q.Write(ctx, a2a.NewStatusUpdateEvent(rc, a2a.TaskStateWorking,
				agentMessage(rc, missedNote(missed, journal), a2a.DataPart{Data: map[string]any{"missed": data}})))
		}
		// The delegations' milestones are progress for a client that
		// streams.
		if milestones[e.Type] {
			q.Write(ctx, a2a.NewStatusUpdateEvent(rc, a2a.TaskStateWorking, agentText(rc, eventLine(e))))
		}
	}
}

// milestones are the events a task reports as progress.
var milestones = map[orchestrator.EventType]bool{
	orchestrator.EventGoalOffered: true, orchestrator.EventGoalAccepted: true, orchestrator.EventGoalDeclined: true,
	orchestrator.EventGoalReported: true, orchestrator.EventGoalCompleted: true, orchestrator.EventGoalFailed: true,
}

// finish reports the end of a run.
func (s *A2AServer) finish(ctx context.Context, rc *a2asrv.RequestContext, q eventqueue.Queue, aj *job) error {
	if aj.err != nil {
		return q.Write(ctx, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateFailed, agentText(rc, "the team could not run: "+aj.err.Error()))))
	}
	out := NewOutput(aj.res)
	data := a2a.DataPart{Data: outputData(out)}
	switch {
	case out.Status == string(orchestrator.StatusCompleted):
		art := a2a.NewArtifactEvent(rc, a2a.TextPart{Text: out.Text()}, data)
		art.Artifact.Name = "report"
		if err := q.Write(ctx, art); err != nil {
			return err
		}
		return q.Write(ctx, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateCompleted, nil)))
	case out.Status == string(orchestrator.StatusDeclined):
		return q.Write(ctx, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateRejected, agentMessage(rc, out.Text(), data))))
	case s.base.Err() != nil:
		return q.Write(ctx, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateCanceled, agentMessage(rc, "the server shut down: "+out.Text(), data))))
	}
	return q.Write(ctx, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateFailed, agentMessage(rc, out.Text(), data))))
}

// Cancel cancels a task's run and waits for its end, so the journal is
// complete when the task says canceled.
func (s *A2AServer) Cancel(ctx context.Context, rc *a2asrv.RequestContext, q eventqueue.Queue) error {
	if j, ok := s.jobs.get(string(rc.TaskID)); ok {
		j.canceled.Store(true)
		j.stop()
	}
	return q.Write(ctx, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateCanceled, agentText(rc, "canceled at the client's request"))))
}

func final(e *a2a.TaskStatusUpdateEvent) *a2a.TaskStatusUpdateEvent {
	e.Final = true
	return e
}

func agentText(rc *a2asrv.RequestContext, text string) *a2a.Message {
	return a2a.NewMessageForTask(a2a.MessageRoleAgent, rc, a2a.TextPart{Text: text})
}

func agentMessage(rc *a2asrv.RequestContext, text string, parts ...a2a.Part) *a2a.Message {
	return a2a.NewMessageForTask(a2a.MessageRoleAgent, rc, append([]a2a.Part{a2a.TextPart{Text: text}}, parts...)...)
}

func question2a(rc *a2asrv.RequestContext, e *agents.Escalation) *a2a.Message {
	data := map[string]any{"id": e.ID, "kind": string(e.Kind), "question": e.Question, "from": e.From}
	if len(e.Options) > 0 {
		data["options"] = e.Options
	}
	if e.Recommendation != "" {
		data["recommendation"] = e.Recommendation
	}
	return agentMessage(rc, describe(e)+"\nAnswer with a message on this task: an option's number or text, your own answer, or nothing for the recommendation.",
		a2a.DataPart{Data: map[string]any{"escalation": data}})
}

func outputData(o Output) map[string]any {
	crit := make([]any, len(o.Criteria))
	for i, c := range o.Criteria {
		crit[i] = map[string]any{"criterion": c.Criterion, "met": c.Met, "evidence": c.Evidence}
	}
	m := map[string]any{"status": o.Status, "criteria": crit, "run": o.Run, "journal": o.Journal, "tokens": o.Tokens}
	if o.Result != "" {
		m["result"] = o.Result
	}
	if o.Reason != "" {
		m["reason"] = o.Reason
	}
	if len(o.Missing) > 0 {
		m["missing"] = o.Missing
	}
	return m
}

// goalOf reads a goal from a user's message: its text parts are the goal,
// its data parts may carry criteria and constraints.
func goalOf(m *a2a.Message) (agents.Goal, error) {
	text, data := partsOf(m)
	var criteria, constraints []string
	for _, d := range data {
		c, k, err := lists(d)
		if err != nil {
			return agents.Goal{}, err
		}
		criteria, constraints = append(criteria, c...), append(constraints, k...)
	}
	return Goal(strings.Join(text, "\n"), criteria, constraints)
}

func lists(data map[string]any) (criteria, constraints []string, err error) {
	for key, dst := range map[string]*[]string{"criteria": &criteria, "constraints": &constraints} {
		v, ok := data[key]
		if !ok {
			continue
		}
		items, ok := v.([]any)
		if !ok {
			return nil, nil, fmt.Errorf("data part: %s must be a list of strings", key)
		}
		for _, it := range items {
			s, ok := it.(string)
			if !ok {
				return nil, nil, fmt.Errorf("data part: %s must be a list of strings", key)
			}
			*dst = append(*dst, s)
		}
	}
	return criteria, constraints, nil
}

// answerOf reads a user's answer: its text, or a data part's "answer".
func answerOf(m *a2a.Message) string {
	text, data := partsOf(m)
	for _, d := range data {
		if s, ok := d["answer"].(string); ok {
			text = append(text, s)
		}
	}
	return strings.Join(text, "\n")
}

// partsOf returns the texts and data of a message's parts.
func partsOf(m *a2a.Message) (text []string, data []map[string]any) {
	if m == nil {
		return nil, nil
	}
	for _, p := range m.Parts {
		switch p := p.(type) {
		case a2a.TextPart:
			text = append(text, p.Text)
		case *a2a.TextPart:
			text = append(text, p.Text)
		case a2a.DataPart:
			data = append(data, p.Data)
		case *a2a.DataPart:
			data = append(data, p.Data)
		}
	}
	return text, data
}
