package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

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
	jobs     registry[*a2aJob]
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
	s := &A2AServer{card: Card(opts), mux: http.NewServeMux(), run: run}
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

// a2aJob is the run of a task.
type a2aJob struct {
	*job
	canceled atomic.Bool
	mu       sync.Mutex
	pending  *question
}

func (aj *a2aJob) take() *question {
	aj.mu.Lock()
	defer aj.mu.Unlock()
	q := aj.pending
	aj.pending = nil
	return q
}

// Execute starts a task's run, or answers its question with the message,
// and reports the run until it asks again or ends.
func (s *A2AServer) Execute(ctx context.Context, rc *a2asrv.RequestContext, q eventqueue.Queue) error {
	key := string(rc.TaskID)
	var aj *a2aJob
	if rc.StoredTask == nil {
		goal, err := goalOf(rc.Message)
		if err != nil {
			return write(ctx, q, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateRejected, agentText(rc, err.Error()))))
		}
		if err := q.Write(ctx, a2a.NewStatusUpdateEvent(rc, a2a.TaskStateSubmitted, nil)); err != nil {
			return err
		}
		aj = &a2aJob{}
		aj.job = start(s.base, s.run, &Request{ID: key, Goal: goal}, true, orchestrator.AutoPrincipal{Deny: true})
		s.jobs.put(key, aj)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			<-aj.done
			s.jobs.remove(key)
		}()
	} else {
		var ok bool
		if aj, ok = s.jobs.get(key); !ok {
			return write(ctx, q, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateFailed, agentText(rc, "the server no longer holds this task's run"))))
		}
		pq := aj.take()
		if pq == nil {
			return q.Write(ctx, agentText(rc, "the task is working and asks nothing now: a message is read only when the task is input-required"))
		}
		pq.answer <- resolve(pq.esc, answerOf(rc.Message))
	}
	if err := q.Write(ctx, a2a.NewStatusUpdateEvent(rc, a2a.TaskStateWorking, nil)); err != nil {
		return err
	}
	pq, err := aj.next(ctx)
	switch {
	case err != nil:
		// The execution was cancelled: a cancel is under way and says so.
		return nil
	case pq != nil:
		aj.mu.Lock()
		aj.pending = pq
		aj.mu.Unlock()
		return write(ctx, q, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateInputRequired, question2a(rc, pq.esc))))
	case aj.canceled.Load():
		return nil
	}
	return s.finish(ctx, rc, q, aj)
}

// finish reports the end of a run.
func (s *A2AServer) finish(ctx context.Context, rc *a2asrv.RequestContext, q eventqueue.Queue, aj *a2aJob) error {
	if aj.err != nil {
		return write(ctx, q, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateFailed, agentText(rc, "the team could not run: "+aj.err.Error()))))
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
		return write(ctx, q, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateCompleted, nil)))
	case out.Status == string(orchestrator.StatusDeclined):
		return write(ctx, q, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateRejected, agentMessage(rc, out.Text(), data))))
	case s.base.Err() != nil:
		return write(ctx, q, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateCanceled, agentMessage(rc, "the server shut down: "+out.Text(), data))))
	}
	return write(ctx, q, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateFailed, agentMessage(rc, out.Text(), data))))
}

// Cancel cancels a task's run and waits for its end, so the journal is
// complete when the task says canceled.
func (s *A2AServer) Cancel(ctx context.Context, rc *a2asrv.RequestContext, q eventqueue.Queue) error {
	if aj, ok := s.jobs.get(string(rc.TaskID)); ok {
		aj.canceled.Store(true)
		aj.stop()
	}
	return write(ctx, q, final(a2a.NewStatusUpdateEvent(rc, a2a.TaskStateCanceled, agentText(rc, "canceled at the client's request"))))
}

func write(ctx context.Context, q eventqueue.Queue, e a2a.Event) error { return q.Write(ctx, e) }

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
	if m == nil {
		return agents.Goal{}, errors.New("no message")
	}
	var text []string
	var criteria, constraints []string
	for _, p := range m.Parts {
		switch p := p.(type) {
		case a2a.TextPart:
			text = append(text, p.Text)
		case *a2a.TextPart:
			text = append(text, p.Text)
		case a2a.DataPart:
			c, k, err := lists(p.Data)
			if err != nil {
				return agents.Goal{}, err
			}
			criteria, constraints = append(criteria, c...), append(constraints, k...)
		case *a2a.DataPart:
			c, k, err := lists(p.Data)
			if err != nil {
				return agents.Goal{}, err
			}
			criteria, constraints = append(criteria, c...), append(constraints, k...)
		}
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
	if m == nil {
		return ""
	}
	var text []string
	for _, p := range m.Parts {
		switch p := p.(type) {
		case a2a.TextPart:
			text = append(text, p.Text)
		case *a2a.TextPart:
			text = append(text, p.Text)
		case a2a.DataPart:
			if s, ok := p.Data["answer"].(string); ok {
				text = append(text, s)
			}
		case *a2a.DataPart:
			if s, ok := p.Data["answer"].(string); ok {
				text = append(text, s)
			}
		}
	}
	return strings.Join(text, "\n")
}
