// Package price measures what the protocol costs a run in model calls and
// prompt tokens, beside naive delegation with the same prompts. It runs the
// built-in team on the offline simulator at each trust level, with a
// workspace as the run command has (Options.Workspace), records every
// request, and rebuilds from the same conversations what a naive delegation
// with the same prompts would have sent: the same system prompt and offer,
// the calls that do work (action tools and delegate, with their schemas) and
// their results, and one final answer per delegation — no acceptance, no
// judge or verify calls, no progress reports, no notes, no other protocol
// schemas. Tokens are the simulator's estimate (model.EstimateUsage, about
// four bytes a token) on both sides, so the ratio compares like with like.
//
//	go test ./internal/price -run TestPrice -v
package price

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
	"github.com/entrust-dev/entrust/orchestrator/trust"
)

// The scenarios measured.
const (
	// BuiltinTeam is the built-in team (lead → writer) on a one-file goal.
	BuiltinTeam = "built-in team"
	// NineStepWriter is the same team whose writer takes nine action steps.
	NineStepWriter = "9-step writer"
)

// Scenarios lists the scenarios, Levels the trust levels, in table order.
var (
	Scenarios = []string{BuiltinTeam, NineStepWriter}
	Levels    = []string{trust.LevelNew, trust.LevelLow, trust.LevelMedium, trust.LevelHigh}
)

// Goal is the goal every scenario runs.
var Goal = agents.Goal{Objective: "Write a haiku about delegation",
	Criteria: []string{"a haiku about delegation is in the workspace"}, Constraints: []string{"three lines, 5-7-5 syllables"}}

// Cost is what one side of the comparison sent.
type Cost struct {
	Calls        int
	PromptTokens int
	// Cacheable are the prompt tokens of requests whose tools and earlier
	// messages repeat the previous request of the same conversation byte
	// for byte: the prefix a provider's prompt cache can reuse.
	Cacheable int
}

// cacheable is the share of c's prompt tokens that are Cacheable, in
// percent.
func (c Cost) cacheable() float64 {
	return 100 * float64(c.Cacheable) / float64(max(c.PromptTokens, 1))
}

// Row is one scenario at one trust level.
type Row struct {
	Scenario, Level string
	// Purposes counts the protocol's model calls by what they were for:
	// accept (an offer answered by protocol acts alone), work (a turn with
	// action tools or delegate, pipelined acceptance included), progress,
	// complete, escalate, other (prose, refused calls), judge, verify,
	// answer, consult.
	Purposes map[string]int
	Entrust  Cost
	Naive    Cost
	Status   orchestrator.Status
	// Overhead says where the protocol's extra prompt tokens go (see
	// Shares): the protocol's tool definitions, its acts carried in the
	// history, the notes, the delegator's and peers' asks, and the rest.
	Overhead map[string]int
	// ProtocolText are the prompt tokens of the protocol's text in the
	// delegates' system prompts (the paragraph that opens "Protocol:"),
	// summed over the requests of each side. Naive delegation is counted
	// with the same system prompt, so it pays them too; NaiveBare is its
	// prompt tokens without them.
	ProtocolText struct{ Entrust, Naive int }
	// Defs are the protocol tools' definitions as shown to delegates (name,
	// description and schema, in tokens), by tool: what one request pays
	// for each. Naive delegation shows delegate too.
	Defs map[string]int
}

// NaiveBare is naive delegation's prompt tokens without the protocol's text
// in its system prompts: a stricter baseline than Naive, which keeps the
// same system prompt as the protocol's.
func (r *Row) NaiveBare() int { return r.Naive.PromptTokens - r.ProtocolText.Naive }

// The shares of Row.Overhead: where the protocol's extra prompt tokens go.
const (
	// ShareOfferDefs are the definitions of the offer's acts
	// (accept_goal, decline_goal, ask_clarification).
	ShareOfferDefs = "offer acts' definitions"
	// ShareWorkDefs are the definitions of the working phase's protocol
	// tools (escalate, complete_goal, consult, report_progress).
	ShareWorkDefs = "working tools' definitions"
	// ShareAcceptance is the accept_goal calls and their results carried
	// in the history.
	ShareAcceptance = "acceptance in history"
	// ShareActs are the other protocol acts and their results carried in
	// the history (progress, escalations, consultations, reports sent
	// back).
	ShareActs = "other acts in history"
	// ShareNotes are the runtime's notes (user messages after the offer).
	ShareNotes = "notes"
	// ShareAsks are the prompts of the calls naive delegation does not
	// make at all: the delegators' judge, verify and answer calls and the
	// consultations.
	ShareAsks = "judge, verify, answer, consult"
	// ShareRest is what is left: the shared part of turns naive delegation
	// does not take (progress-only turns), and the history's other
	// differences.
	ShareRest = "rest"
)

// Shares lists the shares of Row.Overhead in table order.
var Shares = []string{ShareOfferDefs, ShareWorkDefs, ShareAcceptance, ShareActs, ShareNotes, ShareAsks, ShareRest}

// overhead holds a conversation's overhead in bytes, by share and by tool.
type overhead struct {
	share map[string]int
	one   map[string]int // the bytes of one definition, by tool name
}

// ExtraCalls is how many more model calls the protocol made.
func (r *Row) ExtraCalls() int { return r.Entrust.Calls - r.Naive.Calls }

// TokenRatio is the protocol's prompt tokens over naive delegation's.
func (r *Row) TokenRatio() float64 {
	return float64(r.Entrust.PromptTokens) / float64(max(r.Naive.PromptTokens, 1))
}

// Measure runs scenario at trust level (see Levels) and returns its row.
func Measure(ctx context.Context, scenario, level string) (*Row, error) {
	sup, ok := map[string]orchestrator.Supervision{trust.LevelNew: trust.DefaultPolicy().New, trust.LevelLow: trust.DefaultPolicy().Low,
		trust.LevelMedium: trust.DefaultPolicy().Medium, trust.LevelHigh: trust.DefaultPolicy().High}[level]
	if !ok {
		return nil, fmt.Errorf("price: unknown level %q", level)
	}
	if !slices.Contains(Scenarios, scenario) {
		return nil, fmt.Errorf("price: unknown scenario %q", scenario)
	}
	dir, err := os.MkdirTemp("", "entrust-price")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ws, err := workspace.New(dir)
	if err != nil {
		return nil, err
	}
	defer ws.Close()
	tools := map[string]agents.Tool{}
	for _, t := range ws.Tools() {
		tools[t.Def().Name] = t
	}
	rec := &recorder{}
	team, err := teamfile.Default().Build(&teamfile.BuildOptions{Tools: tools, Model: func(spec teamfile.AgentSpec) (model.Model, error) {
		var m model.Model = sim.New("sim", nil)
		if scenario == NineStepWriter && spec.Name == "writer" {
			m = steps(m, 9)
		}
		return &recording{Model: m, rec: rec}, nil
	}})
	if err != nil {
		return nil, err
	}
	rt, err := orchestrator.New(team, &orchestrator.Options{SupervisionFor: func(string) orchestrator.Supervision { return sup }, Workspace: ws.FS(), WorkspaceDir: ws.Dir()})
	if err != nil {
		return nil, err
	}
	out, _ := rt.Run(ctx, Goal)
	row := &Row{Scenario: scenario, Level: level, Purposes: map[string]int{}, Status: out.Status, Overhead: map[string]int{}}
	ov := &overhead{share: map[string]int{}, one: map[string]int{}}
	for _, c := range rec.conversations() {
		c.price(row, ov)
	}
	counted := 0
	for _, sh := range Shares[:len(Shares)-1] {
		row.Overhead[sh] = (ov.share[sh] + 3) / 4
		counted += row.Overhead[sh]
	}
	row.Overhead[ShareRest] = row.Entrust.PromptTokens - row.Naive.PromptTokens - counted
	row.ProtocolText.Entrust, row.ProtocolText.Naive = (ov.share[protocolEntrust]+3)/4, (ov.share[protocolNaive]+3)/4
	row.Defs = map[string]int{}
	for name, n := range ov.one {
		row.Defs[name] = (n + 3) / 4
	}
	return row, nil
}

// recording is a model whose calls are recorded.
type recording struct {
	model.Model
	rec *recorder
}

func (m *recording) Unwrap() model.Model { return m.Model }

func (m *recording) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := m.Model.Generate(ctx, req)
	if err == nil {
		cp := *req
		cp.Messages = slices.Clone(req.Messages)
		m.rec.add(&cp, resp)
	}
	return resp, err
}

type call struct {
	req  *model.Request
	resp *model.Response
}

type recorder struct {
	mu    sync.Mutex
	calls []call
}

func (r *recorder) add(req *model.Request, resp *model.Response) {
	r.mu.Lock()
	r.calls = append(r.calls, call{req, resp})
	r.mu.Unlock()
}

// conversation is the calls of one conversation: a delegate's turns, or one
// ask of a delegator, or one consultation.
type conversation struct{ calls []call }

// conversations groups the calls by their first two messages (the system
// prompt and the offer or the question), in the order they began.
func (r *recorder) conversations() []*conversation {
	r.mu.Lock()
	defer r.mu.Unlock()
	var order []*conversation
	byKey := map[string]*conversation{}
	for _, c := range r.calls {
		key := ""
		for i := range min(2, len(c.req.Messages)) {
			key += c.req.Messages[i].Content + "\x00"
		}
		conv := byKey[key]
		if conv == nil {
			conv = &conversation{}
			byKey[key] = conv
			order = append(order, conv)
		}
		conv.calls = append(conv.calls, c)
	}
	return order
}

func offers(req *model.Request, name string) bool {
	return slices.ContainsFunc(req.Tools, func(t model.ToolDef) bool { return t.Name == name })
}

// work reports whether a call does work a naive delegation would also do.
func work(name string) bool { return !agents.IsProtocolTool(name) || name == agents.ToolDelegate }

// The protocol text's bytes on each side, kept beside the shares.
const (
	protocolEntrust = "protocol text"
	protocolNaive   = "protocol text (naive)"
)

// protocolText returns the bytes of the protocol's paragraph in a system
// prompt: from "Protocol:" to the blank line after it.
func protocolText(req *model.Request) int {
	if len(req.Messages) == 0 || req.Messages[0].Role != model.RoleSystem {
		return 0
	}
	sys := req.Messages[0].Content
	i := strings.Index(sys, "Protocol:")
	if i < 0 {
		return 0
	}
	if j := strings.Index(sys[i:], "\n\n"); j >= 0 {
		return j
	}
	return len(sys) - i
}

// attribute adds the protocol's parts of a delegate's request to ov: the
// definitions of protocol tools, the protocol acts and their results in
// the history, and the notes.
func attribute(req *model.Request, ov *overhead) {
	for _, t := range req.Tools {
		n := len(t.Name) + len(t.Description) + len(t.Parameters)
		if !agents.IsProtocolTool(t.Name) {
			continue
		}
		ov.one[t.Name] = max(ov.one[t.Name], n)
		if work(t.Name) {
			continue // delegate: naive delegation shows it too
		}
		switch t.Name {
		case agents.ToolAcceptGoal, agents.ToolDeclineGoal, agents.ToolAskClarification:
			ov.share[ShareOfferDefs] += n
		default:
			ov.share[ShareWorkDefs] += n
		}
	}
	ov.share[protocolEntrust] += protocolText(req)
	acts := map[string]string{} // call id → protocol tool
	for i, m := range req.Messages {
		switch {
		case i < 2:
		case m.Role == model.RoleUser:
			ov.share[ShareNotes] += model.MessageBytes(&m)
		case m.Role == model.RoleAssistant:
			for _, tc := range m.ToolCalls {
				if !work(tc.Name) {
					acts[tc.ID] = tc.Name
					ov.share[actShare(tc.Name)] += len(tc.Name) + len(tc.Arguments)
				}
			}
		case m.Role == model.RoleTool:
			if name, ok := acts[m.ToolCallID]; ok {
				ov.share[actShare(name)] += model.MessageBytes(&m)
			}
		}
	}
}

func actShare(name string) string {
	if name == agents.ToolAcceptGoal {
		return ShareAcceptance
	}
	return ShareActs
}

func (c *conversation) price(row *Row, ov *overhead) {
	first := c.calls[0].req
	var kind string
	switch {
	case offers(first, agents.ToolJudgeAlignment):
		kind = "judge"
	case offers(first, agents.ToolVerifyReport):
		kind = "verify"
	case offers(first, agents.ToolAnswerEscalation):
		kind = "answer"
	case len(first.Tools) == 0:
		kind = "consult"
	}
	var prev *model.Request
	for _, cl := range c.calls {
		row.Entrust.Calls++
		row.Entrust.PromptTokens += cl.resp.Usage.PromptTokens
		if prev != nil && sameTools(prev, cl.req) && extends(prev, cl.req) {
			row.Entrust.Cacheable += model.EstimateUsage(prev, &model.Message{}).PromptTokens
		}
		prev = cl.req
		if kind != "" {
			row.Purposes[kind]++
			ov.share[ShareAsks] += 4 * cl.resp.Usage.PromptTokens
			continue
		}
		row.Purposes[turnPurpose(cl.resp.Message.ToolCalls)]++
		attribute(cl.req, ov)
	}
	if kind != "" {
		return // a delegator's or a peer's ask: naive delegation has none
	}
	c.naive(row, ov)
}

func turnPurpose(calls []model.ToolCall) string {
	has := func(name string) bool {
		return slices.ContainsFunc(calls, func(c model.ToolCall) bool { return c.Name == name })
	}
	switch {
	case slices.ContainsFunc(calls, func(c model.ToolCall) bool { return work(c.Name) }):
		return "work"
	case has(agents.ToolAcceptGoal), has(agents.ToolDeclineGoal), has(agents.ToolAskClarification):
		return "accept"
	case has(agents.ToolCompleteGoal):
		return "complete"
	case has(agents.ToolReportProgress):
		return "progress"
	case has(agents.ToolEscalate), has(agents.ToolConsult):
		return "escalate"
	}
	return "other"
}

// extends reports whether b's messages begin with a's, byte for byte.
func extends(a, b *model.Request) bool {
	if len(b.Messages) < len(a.Messages) {
		return false
	}
	for i := range a.Messages {
		x, y := &a.Messages[i], &b.Messages[i]
		if x.Role != y.Role || x.Content != y.Content || x.ToolCallID != y.ToolCallID || x.Name != y.Name || len(x.ToolCalls) != len(y.ToolCalls) {
			return false
		}
		for j := range x.ToolCalls {
			if x.ToolCalls[j].ID != y.ToolCalls[j].ID || x.ToolCalls[j].Name != y.ToolCalls[j].Name || !bytes.Equal(x.ToolCalls[j].Arguments, y.ToolCalls[j].Arguments) {
				return false
			}
		}
	}
	return true
}

func sameTools(a, b *model.Request) bool {
	if len(a.Tools) != len(b.Tools) {
		return false
	}
	for i := range a.Tools {
		x, y := a.Tools[i], b.Tools[i]
		if x.Name != y.Name || x.Description != y.Description || !bytes.Equal(x.Parameters, y.Parameters) {
			return false
		}
	}
	return true
}

// naive adds what a naive delegation would have sent for this delegate's
// conversation: one request per turn that did work, and one for the final
// answer.
func (c *conversation) naive(row *Row, ov *overhead) {
	last := c.calls[len(c.calls)-1]
	history := append(slices.Clone(last.req.Messages), last.resp.Message)
	// The same prompts: the system prompt and the offer as sent; the tools
	// that do work (action tools and delegate) with their schemas.
	req := &model.Request{Messages: slices.Clone(history[:2])}
	for _, cl := range c.calls {
		for _, t := range cl.req.Tools {
			if work(t.Name) && !offers(req, t.Name) {
				req.Tools = append(req.Tools, t)
			}
		}
	}
	results := map[string]string{}
	for _, m := range history {
		if m.Role == model.RoleTool {
			results[m.ToolCallID] = m.Content
		}
	}
	answer := ""
	// The tools never change, and each request repeats the one before it:
	// the previous request of the conversation is a cacheable prefix, as
	// Cost.Cacheable counts it for the protocol.
	prefix := 0
	for _, m := range history[2:] {
		if m.Role != model.RoleAssistant {
			continue
		}
		var calls []model.ToolCall
		for _, tc := range m.ToolCalls {
			switch {
			case work(tc.Name):
				calls = append(calls, tc)
			case tc.Name == agents.ToolCompleteGoal:
				answer = resultOf(tc.Arguments)
			}
		}
		if len(calls) == 0 {
			continue
		}
		msg := model.Message{Role: model.RoleAssistant, ToolCalls: calls}
		row.Naive.Calls++
		ov.share[protocolNaive] += protocolText(req)
		row.Naive.PromptTokens += model.EstimateUsage(req, &msg).PromptTokens
		row.Naive.Cacheable += prefix
		prefix = model.EstimatePrompt(req)
		req.Messages = append(req.Messages, msg)
		for _, tc := range calls {
			req.Messages = append(req.Messages, model.Message{Role: model.RoleTool, ToolCallID: tc.ID, Name: tc.Name, Content: results[tc.ID]})
		}
	}
	row.Naive.Cacheable += prefix
	row.Naive.Calls++
	ov.share[protocolNaive] += protocolText(req)
	row.Naive.PromptTokens += model.EstimateUsage(req, &model.Message{Content: answer}).PromptTokens
}

func resultOf(args []byte) string {
	var r agents.Report
	if err := json.Unmarshal(args, &r); err != nil {
		return ""
	}
	return r.Result
}

// stepper makes a simulated writer take n action steps: each completion it
// would send before its n-th write becomes one more write_file.
type stepper struct {
	model.Model
	n int
}

func steps(m model.Model, n int) model.Model { return &stepper{Model: m, n: n} }

func (s *stepper) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := s.Model.Generate(ctx, req)
	if err != nil {
		return resp, err
	}
	done := 0
	for _, msg := range req.Messages {
		for _, tc := range msg.ToolCalls {
			if tc.Name == workspace.ToolWriteFile {
				done++
			}
		}
	}
	for i, tc := range resp.Message.ToolCalls {
		if tc.Name == workspace.ToolWriteFile {
			done++
		}
		if tc.Name == agents.ToolCompleteGoal && done < s.n {
			done++
			resp.Message.ToolCalls[i] = model.Call(workspace.ToolWriteFile, workspace.WriteFileArgs{
				Path: "part-" + strconv.Itoa(done) + ".md", Content: "Part " + strconv.Itoa(done) + " of the work.\n"})
		}
	}
	return resp, nil
}

// Table renders rows as a Markdown table.
func Table(rows []*Row) string {
	var b strings.Builder
	b.WriteString("| scenario | trust | calls (naive) | extra | by purpose | prompt tokens (naive) | ratio | cacheable (naive) |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		var ps []string
		for _, p := range []string{"accept", "work", "progress", "complete", "escalate", "other", "judge", "verify", "answer", "consult"} {
			if n := r.Purposes[p]; n > 0 {
				ps = append(ps, fmt.Sprintf("%s %d", p, n))
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %d (%d) | %+d | %s | %d (%d) | %+.0f%% | %.0f%% (%.0f%%) |\n", r.Scenario, r.Level,
			r.Entrust.Calls, r.Naive.Calls, r.ExtraCalls(), strings.Join(ps, ", "), r.Entrust.PromptTokens, r.Naive.PromptTokens,
			100*(r.TokenRatio()-1), r.Entrust.cacheable(), r.Naive.cacheable())
	}
	return b.String()
}

// Breakdown renders where the extra prompt tokens of rows go as a Markdown
// table: the shares of Row.Overhead, the protocol's text in the system
// prompts (which naive delegation, with the same system prompt, pays too),
// and the ratio to naive delegation without that text.
func Breakdown(rows []*Row) string {
	var b strings.Builder
	b.WriteString("| scenario | trust | extra tokens |")
	for _, sh := range Shares {
		b.WriteString(" " + sh + " |")
	}
	b.WriteString(" protocol text in system prompts (naive) | ratio to naive without it |\n|" + strings.Repeat(" --- |", len(Shares)+5) + "\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %d |", r.Scenario, r.Level, r.Entrust.PromptTokens-r.Naive.PromptTokens)
		for _, sh := range Shares {
			fmt.Fprintf(&b, " %d |", r.Overhead[sh])
		}
		fmt.Fprintf(&b, " %d (%d) | %+.0f%% |\n", r.ProtocolText.Entrust, r.ProtocolText.Naive,
			100*(float64(r.Entrust.PromptTokens)/float64(max(r.NaiveBare(), 1))-1))
	}
	return b.String()
}

// DefsTable renders the protocol tools' shown definitions of rows, in
// tokens a request, as a Markdown table of one row.
func DefsTable(rows []*Row) string {
	defs := map[string]int{}
	for _, r := range rows {
		for name, n := range r.Defs {
			defs[name] = max(defs[name], n)
		}
	}
	names := slices.Sorted(maps.Keys(defs))
	var b strings.Builder
	b.WriteString("|")
	for _, n := range names {
		b.WriteString(" " + n + " |")
	}
	b.WriteString("\n|" + strings.Repeat(" --- |", len(names)) + "\n|")
	for _, n := range names {
		fmt.Fprintf(&b, " %d |", defs[n])
	}
	b.WriteString("\n")
	return b.String()
}
