package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ToolRunGoal is the name of the tool an MCP server offers.
const ToolRunGoal = "run_goal"

// RunGoalArgs are the arguments of run_goal.
type RunGoalArgs struct {
	Goal        string   `json:"goal" jsonschema:"what the team should achieve"`
	Criteria    []string `json:"criteria,omitempty" jsonschema:"success criteria the result is verified against"`
	Constraints []string `json:"constraints,omitempty" jsonschema:"boundaries the team must respect (must / must not)"`
}

// MCPOptions configure NewMCPServer; nil is usable.
type MCPOptions struct {
	// Name and Version name the server to clients; default "entrust".
	Name, Version string
	// Description describes run_goal, e.g. from the lead's role.
	Description string
	// Escalations answers the escalations that reach the top when the
	// client cannot be asked (no elicitation); default refusing them.
	Escalations orchestrator.Principal
	// MaxRuns bounds the goals run at once (a run waiting for the client's
	// answer counts): 0 means 8, a negative number no bound. A call beyond
	// it is refused (ErrBusy).
	MaxRuns int
	// IdleTimeout bounds how long a run waits for the client's answer to
	// an elicitation: past it the run ends (ErrIdle, which its journal
	// records) and its place among MaxRuns is freed. 0 means
	// DefaultIdleTimeout, a negative number no bound.
	IdleTimeout time.Duration
	// ConfirmAcceptance puts the lead's acceptance of each goal (its
	// restated intent, plan and assumptions) to the client as an
	// elicitation, once the policy found it aligned: the lead starts only
	// when the client's user confirms, and accepts again with the
	// correction otherwise. A client that cannot be asked (no elicitation)
	// gets the policy's judgement. Off, the policy confirms it.
	ConfirmAcceptance bool
}

// MCPServer serves a team as the MCP tool run_goal. Close cancels the runs
// still going and waits for their ends.
type MCPServer struct {
	*mcp.Server
	run      Runner
	fallback orchestrator.Principal
	base     context.Context
	stopBase context.CancelFunc
	jobs     registry
	idle     time.Duration
	confirm  bool
	wg       sync.WaitGroup
}

// NewMCPServer returns a server whose tool run_goal runs a goal with run:
// it returns text naming the outcome and, as structured content, an
// Output. While it runs, each event is a progress notification when the
// client sent a progress token. An escalation that reaches the top is put
// to the client as an elicitation (the options as an enum, the
// recommendation as default) when the client supports elicitation, else
// opts.Escalations answers it.
func NewMCPServer(run Runner, opts *MCPOptions) *MCPServer {
	var o MCPOptions
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = "entrust"
	}
	if o.Escalations == nil {
		o.Escalations = orchestrator.AutoPrincipal{Deny: true}
	}
	desc := "Entrust a goal to a team of agents that must accept it (restating its intent, each criterion and constraint) before they act, and verify their report. Returns the outcome (completed, declined or failed), the result, each criterion met or not, and the path of the run's journal."
	if o.Description != "" {
		desc = o.Description + "\n\n" + desc
	}
	s := &MCPServer{run: run, fallback: o.Escalations, jobs: registry{max: o.MaxRuns}, idle: idleTimeout(o.IdleTimeout), confirm: o.ConfirmAcceptance}
	s.base, s.stopBase = context.WithCancel(context.Background())
	s.Server = mcp.NewServer(&mcp.Implementation{Name: o.Name, Version: o.Version}, nil)
	mcp.AddTool(s.Server, &mcp.Tool{Name: ToolRunGoal, Description: desc}, s.runGoal)
	return s
}

// Close cancels the runs still going and waits for them: each journal ends
// with run.finished.
func (s *MCPServer) Close() {
	s.stopBase()
	s.jobs.stopAll()
	s.wg.Wait()
}

func (s *MCPServer) runGoal(ctx context.Context, req *mcp.CallToolRequest, in RunGoalArgs) (*mcp.CallToolResult, Output, error) {
	var j *job
	key := req.Params.RequestState
	if key != "" {
		var ok bool
		if j, ok = s.jobs.get(key); !ok {
			return nil, Output{}, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "unknown or finished run: start it again without requestState"}
		}
	} else {
		goal, err := Goal(in.Goal, in.Criteria, in.Constraints)
		if err != nil {
			return nil, Output{}, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: err.Error()}
		}
		caps := req.ClientCapabilities()
		ask := caps != nil && caps.Elicitation != nil
		key = newKey()
		j, err = s.jobs.add(key, &s.wg, func() *job {
			return start(s.base, s.run, &Request{ID: key, Goal: goal}, how{ask: ask, fallback: s.fallback, idle: s.idle, confirm: s.confirm})
		})
		if err != nil {
			return nil, Output{}, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}
		}
	}
	j.listen(progress(ctx, req))
	defer j.listen(nil)

	if q := j.take(); q != nil {
		q.answer <- elicited(q.esc, req.Params.InputResponses["escalation"])
	}
	q, err := j.next(ctx)
	if err != nil {
		// The client gave up on the call: the run ends with it.
		j.stop()
		return nil, Output{}, err
	}
	if q != nil {
		return &mcp.CallToolResult{
			InputRequests: mcp.InputRequestMap{"escalation": elicitation(q.esc)},
			RequestState:  key,
		}, Output{}, nil
	}
	if j.err != nil {
		return nil, Output{}, fmt.Errorf("the team could not run: %w", j.err)
	}
	out := NewOutput(j.res)
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: out.Text()}}}, out, nil
}

// progress sends a run's events to the client of a call, when the call
// asked for progress with a token: each event is a notification, its
// progress the count of the run's events so far in this call. Events
// dropped unsent (MaxBacklog) are counted all the same, and said in a
// notification of their own before the next event's, with the journal that
// holds them.
func progress(ctx context.Context, req *mcp.CallToolRequest) listener {
	token := req.Params.GetProgressToken()
	if token == nil {
		return nil
	}
	n := 0.0
	return func(e *orchestrator.Event, missed int, journal string) {
		if missed > 0 {
			n += float64(missed)
			req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: n, Message: missedNote(missed, journal)})
		}
		n++
		req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: n, Message: eventLine(e)})
	}
}

// elicitation asks the client an escalation's question.
func elicitation(e *agents.Escalation) *mcp.ElicitParams {
	props := map[string]any{}
	if len(e.Options) > 0 {
		choice := map[string]any{"type": "string", "title": "Choice", "enum": e.Options}
		if e.Recommendation != "" {
			for _, o := range e.Options {
				if o == e.Recommendation {
					choice["default"] = o
				}
			}
		}
		props["choice"] = choice
	}
	answer := map[string]any{"type": "string", "title": "Answer", "description": "your own answer (optional when you pick a choice)"}
	if len(e.Options) == 0 && e.Recommendation != "" {
		answer["default"] = e.Recommendation
	}
	props["answer"] = answer
	return &mcp.ElicitParams{
		Message:         describe(e),
		RequestedSchema: map[string]any{"type": "object", "properties": props},
	}
}

// elicited turns the client's answer into a resolution: declined or
// cancelled is a refusal.
func elicited(e *agents.Escalation, r mcp.InputResponse) agents.Resolution {
	res, ok := r.(*mcp.ElicitResult)
	if !ok || res == nil || res.Action != "accept" {
		why := "the client did not answer"
		if ok && res != nil {
			why = "the client's user chose " + res.Action
		}
		return agents.Resolution{Refused: true, Answer: why, By: "user"}
	}
	answer, _ := res.Content["answer"].(string)
	choice, _ := res.Content["choice"].(string)
	if answer == "" {
		answer = choice
	}
	r2 := resolve(e, answer)
	if choice != "" && r2.Decision == "" {
		r2.Decision = choice
	}
	return r2
}

func newKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
