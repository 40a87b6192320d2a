package sim_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/prompts"
)

// protocol holds the real protocol tools (schemas generated from the
// protocol types) and the workspace tools, so tests validate every argument
// the simulator writes exactly as the runtime would.
type protocol struct {
	tools map[string]agents.Tool
}

func ok(context.Context) (agents.Result, error) { return agents.Result{Content: "ok"}, nil }

func define[In any](t testing.TB, spec agents.ToolSpec) agents.Tool {
	t.Helper()
	tool, err := agents.DefineTool(spec, func(ctx context.Context, _ In) (agents.Result, error) { return ok(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	return tool
}

func newProtocol(t testing.TB, delegates, peers []string) *protocol {
	t.Helper()
	p := &protocol{tools: map[string]agents.Tool{}}
	add := func(tl agents.Tool) { p.tools[tl.Def().Name] = tl }
	add(define[agents.Acceptance](t, agents.ToolSpec{Name: agents.ToolAcceptGoal}))
	add(define[agents.Decline](t, agents.ToolSpec{Name: agents.ToolDeclineGoal}))
	add(define[agents.Clarification](t, agents.ToolSpec{Name: agents.ToolAskClarification}))
	add(define[agents.EscalateArgs](t, agents.ToolSpec{Name: agents.ToolEscalate}))
	add(define[agents.ProgressReport](t, agents.ToolSpec{Name: agents.ToolReportProgress}))
	add(define[agents.Report](t, agents.ToolSpec{Name: agents.ToolCompleteGoal}))
	add(define[agents.Alignment](t, agents.ToolSpec{Name: agents.ToolJudgeAlignment}))
	add(define[agents.AnswerArgs](t, agents.ToolSpec{Name: agents.ToolAnswerEscalation}))
	add(define[agents.Verification](t, agents.ToolSpec{Name: agents.ToolVerifyReport}))
	if len(delegates) > 0 {
		add(define[agents.DelegateArgs](t, agents.ToolSpec{Name: agents.ToolDelegate, Enums: map[string][]string{"agent": delegates}}))
	}
	if len(peers) > 0 {
		add(define[agents.ConsultArgs](t, agents.ToolSpec{Name: agents.ToolConsult, Enums: map[string][]string{"agent": peers}}))
	}
	ws, err := workspace.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	for _, tl := range ws.Tools() {
		add(tl)
	}
	return p
}

func (p *protocol) defs(t testing.TB, names ...string) []model.ToolDef {
	t.Helper()
	var defs []model.ToolDef
	for _, n := range names {
		tl, ok := p.tools[n]
		if !ok {
			t.Fatalf("no tool %s", n)
		}
		defs = append(defs, tl.Def())
	}
	return defs
}

// validate runs call on the real tool and fails the test on an error result.
func (p *protocol) validate(t testing.TB, call model.ToolCall) {
	t.Helper()
	tl, ok := p.tools[call.Name]
	if !ok {
		t.Fatalf("call of unknown tool %s", call.Name)
	}
	if res := tl.Call(t.Context(), call.Arguments); res.IsError {
		t.Fatalf("%s arguments do not validate: %s\narguments: %s", call.Name, res.Content, call.Arguments)
	}
}

func render(t testing.TB, name string, d *prompts.Data) string {
	t.Helper()
	s, err := prompts.Default().Render(name, d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The tool sets of each phase.
var (
	offerTools   = []string{agents.ToolAcceptGoal, agents.ToolDeclineGoal, agents.ToolAskClarification}
	workingTools = []string{agents.ToolEscalate, agents.ToolReportProgress, agents.ToolCompleteGoal}
)

// convo is a delegate's conversation driven by hand: the test chooses each
// result the simulator sees.
type convo struct {
	t     testing.TB
	m     model.Model
	p     *protocol
	msgs  []model.Message
	tools []string
}

// newConvo starts a delegate's conversation on d, offering the offer tools.
func newConvo(t testing.TB, m model.Model, p *protocol, d *prompts.Data) *convo {
	return &convo{t: t, m: m, p: p, tools: offerTools, msgs: []model.Message{
		{Role: model.RoleSystem, Content: render(t, prompts.DelegateSystem, d)},
		{Role: model.RoleUser, Content: render(t, prompts.Offer, d)},
	}}
}

// turn asks the model for its next answer and records it.
func (c *convo) turn() *model.Response {
	c.t.Helper()
	req := &model.Request{Messages: slices.Clone(c.msgs), Tools: c.p.defs(c.t, c.tools...)}
	resp, err := c.m.Generate(c.t.Context(), req)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.Usage.Total() == 0 {
		c.t.Errorf("no usage reported")
	}
	c.msgs = append(c.msgs, resp.Message)
	return resp
}

// call asks for the next answer and requires it to be one call of want,
// whose arguments validate.
func (c *convo) call(want string) model.ToolCall {
	c.t.Helper()
	resp := c.turn()
	calls := resp.Message.ToolCalls
	if len(calls) != 1 || calls[0].Name != want {
		c.t.Fatalf("want one %s call, got %s (text %q)", want, callNames(calls), resp.Message.Content)
	}
	c.p.validate(c.t, calls[0])
	return calls[0]
}

// reply answers every call of the last turn with content.
func (c *convo) reply(content string) { c.answer(content, false) }

// fail answers every call of the last turn with content as an error, as the
// runtime flags a refusal or a failed tool (IsError).
func (c *convo) fail(content string) { c.answer(content, true) }

func (c *convo) answer(content string, isError bool) {
	last := c.msgs[len(c.msgs)-1]
	for _, call := range last.ToolCalls {
		c.msgs = append(c.msgs, model.Message{Role: model.RoleTool, ToolCallID: call.ID, Name: call.Name, Content: content, IsError: isError})
	}
}

// errorReply reports whether a scripted reply is one the runtime sends as an
// error: a refusal, a misaligned acceptance, a failed tool, a report sent
// back, invalid arguments.
func errorReply(content string) bool {
	for _, p := range []string{"refused", "Your acceptance is not aligned", "write_file failed", "Revise", "invalid arguments", "not run"} {
		if strings.HasPrefix(content, p) {
			return true
		}
	}
	return false
}

// aligned moves the conversation to the working phase, offering tools.
func (c *convo) aligned(d *prompts.Data, tools ...string) {
	c.reply(render(c.t, prompts.Aligned, d))
	c.tools = append(slices.Clone(tools), workingTools...)
}

func callNames(calls []model.ToolCall) string {
	var ns []string
	for _, c := range calls {
		ns = append(ns, c.Name)
	}
	return "[" + strings.Join(ns, " ") + "]"
}

func decode[T any](t testing.TB, call model.ToolCall) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(call.Arguments, &v); err != nil {
		t.Fatalf("%s: %v", call.Name, err)
	}
	return v
}

// sampleGoal is a goal with every part set.
func sampleGoal() agents.Goal {
	return agents.Goal{
		Intent:      "Help new contributors get productive in their first week",
		Objective:   "Write an onboarding guide for the repository",
		Criteria:    []string{"The guide explains how to build and test", "The guide lists who to ask for help"},
		Constraints: []string{"Do not include secrets", "Keep it under two pages"},
		Context:     "The team uses Go 1.26.",
		Tools:       []string{"write_file", "read_file"},
	}
}

func dataFor(g *agents.Goal, tools []string, delegates ...prompts.Peer) *prompts.Data {
	return &prompts.Data{Agent: "writer", Role: "Writes documentation.", Goal: g, Tools: tools, Delegates: delegates}
}
