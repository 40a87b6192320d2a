package orchestrator

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

// Key names one effect of a run by where it falls in the run, so that a
// replay can find what was recorded for it: the delegation it belongs to,
// the conversation (empty for the delegate's own; "judge d2 1", "answer e1",
// "verify d2 1", "consult c1" for the side conversations of a delegator or a
// consulted peer; "principal judge", "principal answer e1", "principal
// verify", "checks", "supervise" for the decisions made outside any model),
// the model turn in it (from 1, or the round), and the tool call's index in
// that turn (from 0).
type Key struct {
	Delegation   string
	Conversation string
	Turn         int
	Call         int
}

// String returns the key as one word, e.g. "d2/t3/c0" or "d1/judge d2 1/t1/c0".
func (k Key) String() string {
	s := k.Delegation
	if k.Conversation != "" {
		s += "/" + k.Conversation
	}
	return s + "/t" + strconv.Itoa(k.Turn) + "/c" + strconv.Itoa(k.Call)
}

// Generated is what a model call produced.
type Generated struct {
	Response *model.Response
	Latency  time.Duration
}

// Called is what an action tool call produced.
type Called struct {
	Result  agents.Result
	Latency time.Duration
}

// Decision is the answer of someone outside the run's models: the
// Principal's judgement of the lead's acceptance, its answer to an
// escalation or its verification of the lead's report, a Supervisor's
// intervention, the outcome of a goal's programmatic verifiers, or how
// closely a delegate is supervised (Options.SupervisionFor, which a trust
// ledger may change between a run and its resume). One field is set.
type Decision struct {
	Alignment    *agents.Alignment    `json:"alignment,omitempty"`
	Resolution   *agents.Resolution   `json:"resolution,omitempty"`
	Verification *agents.Verification `json:"verification,omitempty"`
	Intervention *Intervention        `json:"intervention,omitempty"`
	Checks       *Checks              `json:"checks,omitempty"`
	Supervision  *Supervision         `json:"supervision,omitempty"`
	// Breaches are the broken constraints the Principal accepts at the
	// root (BreachAcceptor); none is a decision too.
	Breaches []agents.AcceptedBreach `json:"breaches,omitempty"`
}

// Checks is what the runtime's own checks found of a report: the criteria the
// goal's programmatic verifiers found unmet and the errors of those that
// could not check; the findings of the evidence checks (citations that cite
// nothing checkable or something false, a delegator with nothing completed
// under it, a named file missing) and the criteria they leave unsupported.
type Checks struct {
	Unmet       []string `json:"unmet,omitempty"`
	Errors      []string `json:"errors,omitempty"`
	Evidence    []string `json:"evidence,omitempty"`
	Unsupported []string `json:"unsupported,omitempty"`
}

// Effects is the seam through which a run does everything that its inputs
// do not determine: model calls, action tool calls, the decisions of the
// Principal, a Supervisor and a goal's verifiers, the clock, and ids. The
// orchestration code around it is deterministic given what it returns: run
// twice on the same goal with Effects that return the same values for the
// same keys, a run emits the same events (save their times) and ends with the
// same outcome. Live effects call through; the effects of a resumed run
// return what the journal recorded for each key and call through for the
// rest. A durable-execution engine implements it with each method an
// activity (or, for Decide, a signal) and NewID and Now from its own
// deterministic sources. DESIGN.md states the rules.
//
// Implementations must be safe for concurrent use: the delegations of a run
// and the concurrent tool calls of one turn call them at once.
type Effects interface {
	// Generate makes one model call: m answers req.
	Generate(ctx context.Context, k Key, m model.Model, req *model.Request) (Generated, error)
	// CallTool makes one call of an action tool (never a protocol tool: those
	// are the orchestration itself).
	CallTool(ctx context.Context, k Key, t agents.Tool, call *model.ToolCall) Called
	// Decide gets a decision from outside the run's models; ask gets it live.
	Decide(ctx context.Context, k Key, ask func(context.Context) (Decision, error)) (Decision, error)
	// NewID returns a fresh id of a delegation ("d"), an escalation ("e") or
	// a consultation ("c"): the prefix and a number. site says where in the
	// run it is made, so that a replay gives the same act the same id.
	NewID(kind, site string) string
	// Now is the clock of the run's events, outcomes and budgets.
	Now() time.Time
}

// CallRecorder is implemented by Effects that know the fate of every action
// tool call they were asked to make: a durable-execution engine's, which
// records each call it starts, returns the recorded result when the call is
// asked for again, and never starts one twice. ResumeOptions.InFlightToEffects
// hands a resumed run's calls in flight to such effects only.
type CallRecorder interface {
	Effects
	// RecordsCalls reports whether the effects know each call's fate; a
	// wrapper answers for what it wraps.
	RecordsCalls() bool
}

// recordsCalls reports whether fx know the fate of each call they made.
func recordsCalls(fx Effects) bool {
	cr, ok := fx.(CallRecorder)
	return ok && cr.RecordsCalls()
}

// LiveEffects are the effects of a run that calls through: models answer,
// tools run, the Principal is asked, ids count from 1 per kind.
type LiveEffects struct {
	// Clock is the clock; nil means time.Now.
	Clock func() time.Time

	mu  sync.Mutex
	ids map[string]int
}

// NewLiveEffects returns live effects whose clock is now (nil: time.Now).
func NewLiveEffects(now func() time.Time) *LiveEffects { return &LiveEffects{Clock: now} }

// Generate calls m.
func (l *LiveEffects) Generate(ctx context.Context, _ Key, m model.Model, req *model.Request) (Generated, error) {
	start := time.Now()
	resp, err := m.Generate(ctx, req)
	return Generated{Response: resp, Latency: time.Since(start)}, err
}

// CallTool calls t, abandoning the call when ctx ends (agents.CallWithin).
func (l *LiveEffects) CallTool(ctx context.Context, _ Key, t agents.Tool, call *model.ToolCall) Called {
	start := time.Now()
	res := agents.CallWithin(ctx, t, call.Arguments)
	return Called{Result: res, Latency: time.Since(start)}
}

// Decide calls ask.
func (l *LiveEffects) Decide(ctx context.Context, _ Key, ask func(context.Context) (Decision, error)) (Decision, error) {
	return ask(ctx)
}

// NewID returns kind followed by the next number of that kind.
func (l *LiveEffects) NewID(kind, _ string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ids == nil {
		l.ids = map[string]int{}
	}
	l.ids[kind]++
	return kind + strconv.Itoa(l.ids[kind])
}

// Now returns the clock's time.
func (l *LiveEffects) Now() time.Time {
	if l.Clock == nil {
		return time.Now()
	}
	return l.Clock()
}

// callSite is where a tool call falls, carried by the context of its
// handler: protocol acts made by the call are named after it.
type callSite struct {
	key  Key
	call *model.ToolCall
	// latency, when set by an action tool's effect, is the call's recorded
	// duration rather than the handler's.
	latency time.Duration
}

type siteKey struct{}

// siteContext is the context of a tool call's handler: its parent with the
// call's site, in one allocation (the context.WithValue it stands for and
// the site would take two).
type siteContext struct {
	context.Context
	site callSite
}

// Value returns the site for siteKey, and the parent's values otherwise.
func (c *siteContext) Value(key any) any {
	if key == (siteKey{}) {
		return &c.site
	}
	return c.Context.Value(key)
}

func siteFrom(ctx context.Context) *callSite {
	s, _ := ctx.Value(siteKey{}).(*callSite)
	return s
}

// siteName names the tool call of ctx, "" outside one.
func siteName(ctx context.Context) string {
	if s := siteFrom(ctx); s != nil {
		return s.key.String()
	}
	return ""
}

// conversation routes one conversation's model and tool calls through the
// run's effects and records each as events: it is the agents.LoopEffects of
// the loops the runtime runs.
type conversation struct {
	d       *delegation // the delegation whose events these are
	m       *member     // who answers: d.m, or the consulted peer
	purpose model.Purpose
	name    string // the Key's Conversation
	// onResult, when set, sees each tool call's result (an ask's capture).
	onResult func(call *model.ToolCall, res *agents.Result)

	// The retry trace of the conversation's model calls, made once: turn
	// is the turn of the call in flight (calls of one conversation come one
	// at a time), traced the context it was last put in.
	turn           int
	trace          model.Trace // set once Retried is
	parent, traced context.Context
	// answered is the model that took the call in flight over from the
	// agent's own after a failover (model.WithFallback), "" while none did.
	answered string
	// calls are the tool calls of the last response, and storable has a
	// bit set for each of the first 64 whose arguments its model.called
	// found storable as they are (see modelEvent): their tool.called need
	// not check again.
	calls    []model.ToolCall
	storable uint64
}

// argsOf returns the arguments of call, the index-th of its turn, as the
// journal keeps them (journalArgs).
func (c *conversation) argsOf(index int, call *model.ToolCall) json.RawMessage {
	if index < 64 && index < len(c.calls) && &c.calls[index] == call && c.storable&(1<<index) != 0 {
		return call.Arguments
	}
	return journalArgs(call.Arguments)
}

// withTrace returns ctx with the conversation's retry trace, reusing the
// context of the last turn when ctx is the same.
func (c *conversation) withTrace(ctx context.Context, turn int) context.Context {
	c.turn, c.answered = turn, ""
	if c.trace.Retried == nil {
		c.trace = model.Trace{Retried: func(ctx context.Context, attempt int, err error, wait time.Duration) {
			retried(ctx, c.d, c.m, c.answered, c.purpose, c.key(c.turn, 0), attempt, err, wait)
		}, FailedOver: func(ctx context.Context, from, to string, err error) {
			c.answered = to
			failedOver(ctx, c.d, c.m, c.purpose, c.key(c.turn, 0), from, to, err)
		}}
	}
	if ctx != c.parent {
		c.parent, c.traced = ctx, model.WithTrace(ctx, &c.trace)
	}
	return c.traced
}

func (c *conversation) key(turn, index int) Key {
	return Key{Delegation: c.d.id, Conversation: c.name, Turn: turn, Call: index}
}

// Generate makes the model call of a turn and records it as model.called.
func (c *conversation) Generate(ctx context.Context, turn int, req *model.Request) (*model.Response, error) {
	k := c.key(turn, 0)
	ctx = c.withTrace(ctx, turn)
	g, err := c.d.run.fx.Generate(ctx, k, c.m.Agent.Model, req)
	// A token budget holds whatever the endpoint says it used.
	why := model.SaneUsage(req, g.Response)
	msg, raw, storable := recorded(g.Response)
	c.calls, c.storable = nil, storable
	if g.Response != nil {
		c.calls = g.Response.Message.ToolCalls
	}
	// What the event holds of the agent's model and the error is read
	// here: the event is built under the run's lock.
	name, provider := c.m.answering(c.answered)
	var failed string
	if err != nil {
		failed = err.Error()
	}
	c.d.run.emitFill(ctx, func(e *Event) {
		modelEvent(e, c.d, c.m.name, name, provider, c.purpose, k, g.Response, msg, raw, g.Latency, err, failed)
		e.UsageReplaced = why
	})
	return g.Response, err
}

// toolEvent sets the fields a tool call's tool.called and tool.result share
// on the zero e.
func (c *conversation) toolEvent(e *Event, typ EventType, turn, index int, call *model.ToolCall) {
	e.Type, e.Delegation, e.Parent, e.Agent, e.Purpose = typ, c.d.id, c.d.parentID(), c.d.m.name, c.purpose
	e.Conversation, e.Turn, e.CallIndex = c.name, turn, index
	e.Tool, e.CallID = call.Name, call.ID
}

// CallTool runs a tool call and records it as tool.called and tool.result.
// Protocol tools run their handlers, which are orchestration; action tools
// (behind gated) reach the effects.
func (c *conversation) CallTool(ctx context.Context, turn, index int, t agents.Tool, call *model.ToolCall) agents.Result {
	d, r := c.d, c.d.run
	k := c.key(turn, index)
	args := c.argsOf(index, call)
	r.emitFill(ctx, func(e *Event) {
		c.toolEvent(e, EventToolCalled, turn, index, call)
		e.Arguments = args
	})
	sc := &siteContext{Context: ctx, site: callSite{key: k, call: call}}
	site := &sc.site
	start := time.Now()
	res := t.Call(sc, call.Arguments)
	if !agents.IsProtocolTool(call.Name) {
		// Clipped before it is recorded, as the model will see it.
		res.Content = agents.ClipResult(res.Content, d.rt.limits.MaxToolResult)
	}
	latency := site.latency // an action tool's effect measured its run
	if latency <= 0 {
		latency = time.Since(start)
	}
	if c.purpose == model.PurposeTurn {
		kind := agents.KindUnknown // a protocol act
		if g, ok := t.(*gated); ok {
			kind = g.kind
		}
		r.ev.addCall(d, call, kind, &res)
	}
	r.emitFill(ctx, func(e *Event) {
		c.toolEvent(e, EventToolResult, turn, index, call)
		e.Result, e.IsError, e.LatencyMS = res.Content, res.IsError, float64(latency)/1e6
	})
	if c.onResult != nil {
		c.onResult(call, &res)
	}
	return res
}
