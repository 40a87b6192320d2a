package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"

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
}

// MCPServer serves a team as the MCP tool run_goal. Close cancels the runs
// still going and waits for their ends.
type MCPServer struct {
	*mcp.Server
	run      Runner
	fallback orchestrator.Principal
	base     context.Context
	stopBase context.CancelFunc
	jobs     registry[*mcpJob]
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
	s := &MCPServer{run: run, fallback: o.Escalations}
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

// mcpJob is a run and who hears its progress now.
type mcpJob struct {
	*job
	mu       sync.Mutex
	progress func(string)
	pending  *question
}

func (s *MCPServer) runGoal(ctx context.Context, req *mcp.CallToolRequest, in RunGoalArgs) (*mcp.CallToolResult, Output, error) {
	var mj *mcpJob
	key := req.Params.RequestState
	if key != "" {
		var ok bool
		if mj, ok = s.jobs.get(key); !ok {
			return nil, Output{}, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "unknown or finished run: start it again without requestState"}
		}
	} else {
		goal, err := Goal(in.Goal, in.Criteria, in.Constraints)
		if err != nil {
			return nil, Output{}, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: err.Error()}
		}
		key = newKey()
		caps := req.ClientCapabilities()
		ask := caps != nil && caps.Elicitation != nil
		mj = &mcpJob{}
		r := &Request{ID: key, Goal: goal, Sink: orchestrator.SinkFunc(func(e *orchestrator.Event) error {
			mj.say(eventLine(e))
			return nil
		})}
		mj.job = start(s.base, s.run, r, ask, s.fallback)
		s.jobs.put(key, mj)
		s.wg.Add(1)
		go func() { // forget the run once it ended, whoever waits for it
			defer s.wg.Done()
			<-mj.done
			s.jobs.remove(key)
		}()
	}
	mj.listen(ctx, req)
	defer mj.listen(nil, nil)

	if q := mj.take(); q != nil {
		q.answer <- elicited(q.esc, req.Params.InputResponses["escalation"])
	}
	q, err := mj.next(ctx)
	if err != nil {
		// The client gave up on the call: the run ends with it.
		mj.stop()
		return nil, Output{}, err
	}
	if q != nil {
		mj.mu.Lock()
		mj.pending = q
		mj.mu.Unlock()
		return &mcp.CallToolResult{
			InputRequests: mcp.InputRequestMap{"escalation": elicitation(q.esc)},
			RequestState:  key,
		}, Output{}, nil
	}
	if mj.err != nil {
		return nil, Output{}, fmt.Errorf("the team could not run: %w", mj.err)
	}
	out := NewOutput(mj.res)
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: out.Text()}}}, out, nil
}

// listen sends the run's progress to the client of the current call.
func (mj *mcpJob) listen(ctx context.Context, req *mcp.CallToolRequest) {
	mj.mu.Lock()
	defer mj.mu.Unlock()
	mj.progress = nil
	if req == nil {
		return
	}
	token := req.Params.GetProgressToken()
	if token == nil {
		return
	}
	n := 0.0
	mj.progress = func(msg string) {
		n++
		req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: n, Message: msg})
	}
}

func (mj *mcpJob) say(msg string) {
	mj.mu.Lock()
	defer mj.mu.Unlock()
	if mj.progress != nil {
		mj.progress(msg)
	}
}

// take returns the question the client was asked, if any.
func (mj *mcpJob) take() *question {
	mj.mu.Lock()
	defer mj.mu.Unlock()
	q := mj.pending
	mj.pending = nil
	return q
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
