package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/entrust-dev/entrust/agents/model"
)

// ErrNoToolCall is returned when a model kept answering in prose where a tool
// call was required, past the nudges allowed.
var ErrNoToolCall = errors.New("agents: the model answered in prose instead of calling a tool")

// ErrStalled is returned when a model kept repeating the same call.
var ErrStalled = errors.New("agents: the model repeated the same call without progress")

// BudgetKind names a budget the runtime enforces.
type BudgetKind string

// The budgets. Limits and uses of BudgetWallTime are in milliseconds.
const (
	BudgetSteps    BudgetKind = "steps"
	BudgetTokens   BudgetKind = "tokens"
	BudgetWallTime BudgetKind = "wall_time"
	BudgetDepth    BudgetKind = "depth"
	BudgetFanOut   BudgetKind = "fan_out"
	// BudgetContext is a model's context window (Window), in tokens.
	BudgetContext BudgetKind = "context"
)

// BudgetError reports a budget the runtime stopped a loop at.
type BudgetError struct {
	Kind  BudgetKind
	Limit int64
	Used  int64
}

func (e *BudgetError) Error() string {
	unit := ""
	if e.Kind == BudgetWallTime {
		unit = "ms"
	}
	return fmt.Sprintf("budget exceeded: %s %d%s of %d%s", e.Kind, e.Used, unit, e.Limit, unit)
}

// Hooks observe a loop. Each is optional and called synchronously from the
// loop's goroutine, except ToolCalled and ToolResult, which may be called from
// the goroutines of concurrent calls. ctx is the context of the call or turn
// observed.
type Hooks struct {
	ModelCalled func(ctx context.Context, req *model.Request, resp *model.Response, latency time.Duration, err error)
	ToolCalled  func(ctx context.Context, call *model.ToolCall)
	ToolResult  func(ctx context.Context, call *model.ToolCall, res *Result, latency time.Duration)
	// Violation is a call refused because the tool is not offered now, or
	// does not exist.
	Violation func(ctx context.Context, call *model.ToolCall, reason string)
	// Prose is an answer without a tool call where one was required; n
	// counts them.
	Prose func(ctx context.Context, text string, n int)
	// Repeated is the same call (name and arguments) made n times in a row.
	Repeated func(ctx context.Context, call *model.ToolCall, n int)
	// Compacted is the conversation compacted to fit the Window.
	Compacted func(ctx context.Context, c *Compaction)
}

// Loop runs one agent's tool-calling conversation. The caller owns it and
// runs it from one goroutine; Run may be called again to continue it.
type Loop struct {
	// Model answers each turn.
	Model model.Model
	// Messages is the conversation so far; the loop appends to it.
	Messages []model.Message
	// Tools returns the tools offered for the next turn. It is called before
	// every turn, so protocol acts can change what is offered. Only the
	// tools it returns may run: any other call is refused.
	Tools func() *Toolset
	// Known reports whether a tool exists at all, to tell a call that is
	// not allowed now from a call of a tool that does not exist.
	Known func(name string) bool
	// ToolChoice is sent with every request; protocol phases use Required.
	ToolChoice model.ToolChoice
	// MaxSteps bounds the model turns of this loop (0: no bound).
	MaxSteps int
	// Charge is called with each turn's usage; an error (a *BudgetError)
	// stops the loop.
	Charge func(model.Usage) error
	// BeforeTurn is called before each turn. A non-empty note is appended
	// as a user message (a reminder, a supervisor's word); an error (a
	// *BudgetError) stops the loop before the model is called.
	BeforeTurn func(ctx context.Context) (note string, err error)
	// PinNote reports whether a note of BeforeTurn must be kept whole by
	// the Window's compaction (an answer, a correction); nil pins none.
	PinNote func(note string) bool
	// Window, when set with a budget, keeps every request within it by
	// compacting the conversation before a call that would not fit.
	Window *Window
	// MaxNudges bounds how often a prose answer is met with a reminder
	// before ErrNoToolCall. Default 2.
	MaxNudges int
	// Nudge is the reminder sent after a prose answer.
	Nudge string
	// RepeatLimit is how many identical calls in a row count as a stall
	// (the call is refused and Repeated is called); twice as many end the
	// loop with ErrStalled. 0 disables the check.
	RepeatLimit int
	// Rejudged reports whether a call is an act its tool judges afresh each
	// time, answering with feedback (an acceptance, a report): a turn that
	// holds one is not counted as a repeat, the caller catching a
	// resubmission that ignores its feedback itself. nil: none is.
	Rejudged func(name string) bool
	// MaxCalls bounds the tool calls of one turn; the excess is refused
	// as a violation. 0 means DefaultMaxCalls; negative, no bound.
	MaxCalls int
	// MaxAsks bounds the calls of one turn that ask someone else (escalate,
	// consult, ask_clarification); the excess is refused as a violation.
	// 0 means DefaultMaxAsks; negative, no bound.
	MaxAsks int
	// MaxResult bounds one action tool's result as the model sees it, in
	// bytes; a longer one is clipped, with a note saying so. 0 means
	// DefaultMaxResult; negative, no bound.
	MaxResult int
	// MaxTurnResults bounds the sum of one turn's tool results, in bytes.
	// 0 means DefaultMaxTurnResults; negative, no bound.
	MaxTurnResults int
	// Waited is the result of a call of a deferred tool (see Toolset)
	// that the tools in force when its turn came did not hold: it does
	// not run. Default: a refusal, reported to Hooks.Violation.
	Waited func(ctx context.Context, call *model.ToolCall) Result
	// Hooks observe the loop.
	Hooks Hooks
	// Request carries provider settings (model override, temperature…);
	// Messages, Tools and ToolChoice are set by the loop.
	Request model.Request
	// Effects, when set, makes the loop's model calls and tool calls in place
	// of Model.Generate and Tool.Call, told where each falls in the
	// conversation, so that they can be recorded and replayed.
	Effects LoopEffects
	// Metadata, when set, is called before every turn for the request's
	// Metadata, which can change as the conversation moves on.
	Metadata func() *model.Metadata

	req      model.Request // the request of the turn, reused
	results  []Result      // scratch of the turn, reused
	tools    []Tool
	deferred []bool

	steps   int
	nudges  int
	lastSig uint64
	repeats int
	win     window
}

// LoopEffects makes a loop's model calls and tool calls. turn counts the
// loop's model turns from 1; index is a call's place among the tool calls of
// its turn, from 0. Implementations must be safe for concurrent CallTool
// calls (the concurrent calls of one turn).
type LoopEffects interface {
	Generate(ctx context.Context, turn int, req *model.Request) (*model.Response, error)
	CallTool(ctx context.Context, turn, index int, t Tool, call *model.ToolCall) Result
}

// The defaults of the per-turn bounds of a Loop.
const (
	DefaultMaxCalls       = 16
	DefaultMaxAsks        = 2
	DefaultMaxResult      = 64 << 10
	DefaultMaxTurnResults = 256 << 10
)

// asks reports whether a tool asks someone else, and so is bounded by MaxAsks.
func asks(name string) bool {
	return name == ToolEscalate || name == ToolConsult || name == ToolAskClarification
}

// orDefault returns a Loop setting with its default; 0 for none.
func orDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// Steps returns the model turns taken so far.
func (l *Loop) Steps() int { return l.steps }

// Run takes turns until a tool result says Stop, or an error: the context's,
// a provider's, a budget's, ErrNoToolCall or ErrStalled.
func (l *Loop) Run(ctx context.Context) error {
	if l.MaxNudges == 0 {
		l.MaxNudges = 2
	}
	if l.Nudge == "" {
		l.Nudge = "Answer with a tool call: prose is not a protocol act."
	}
	if l.Window != nil {
		l.windowStart()
	}
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if l.MaxSteps > 0 && l.steps >= l.MaxSteps {
			return &BudgetError{Kind: BudgetSteps, Limit: int64(l.MaxSteps), Used: int64(l.steps)}
		}
		if l.BeforeTurn != nil {
			note, err := l.BeforeTurn(ctx)
			if err != nil {
				return err
			}
			if note != "" {
				l.Messages = append(l.Messages, model.Message{Role: model.RoleUser, Content: note})
				if l.PinNote != nil && l.PinNote(note) {
					l.pinNote(note)
				}
			}
		}
		stop, err := l.turn(ctx)
		if err != nil || stop {
			return err
		}
	}
}

func (l *Loop) turn(ctx context.Context) (stop bool, err error) {
	ts := l.Tools()
	// One request value serves every turn: models must not keep it.
	l.req = l.Request
	req := &l.req
	req.Messages = l.Messages
	req.Tools = ts.Defs()
	req.ToolChoice = l.ToolChoice
	if l.Metadata != nil {
		req.Metadata = l.Metadata()
	}
	if len(req.Tools) == 0 {
		req.ToolChoice = model.ToolChoice{}
	}
	if err := l.fit(ctx, req); err != nil {
		return false, err
	}
	l.steps++
	var start time.Time // the clock is read only for a hook that wants it
	if l.Hooks.ModelCalled != nil {
		start = time.Now()
	}
	var resp *model.Response
	if l.Effects != nil {
		resp, err = l.Effects.Generate(ctx, l.steps, req)
	} else {
		resp, err = l.Model.Generate(ctx, req)
	}
	if l.Hooks.ModelCalled != nil {
		l.Hooks.ModelCalled(ctx, req, resp, time.Since(start), err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return false, context.Cause(ctx)
		}
		return false, err
	}
	if resp == nil {
		return false, fmt.Errorf("%w: nil response", model.ErrMalformed)
	}
	l.calibrate(req, resp.Usage)
	msg := resp.Message
	msg.Role = model.RoleAssistant
	l.Messages = append(l.Messages, msg)
	at := len(l.Messages) - 1
	if l.Charge != nil {
		if err := l.Charge(resp.Usage); err != nil {
			return false, err
		}
	}
	if len(msg.ToolCalls) == 0 {
		l.nudges++
		if l.Hooks.Prose != nil {
			l.Hooks.Prose(ctx, msg.Content, l.nudges)
		}
		if l.nudges > l.MaxNudges {
			return false, ErrNoToolCall
		}
		l.Messages = append(l.Messages, model.Message{Role: model.RoleUser, Content: l.Nudge})
		return false, nil
	}
	l.nudges = 0
	calls := msg.ToolCalls
	for i := range calls {
		if calls[i].ID == "" {
			// Some servers omit ids; the answer must still name its call.
			calls[i].ID = "call_" + strconv.Itoa(l.steps) + "_" + strconv.Itoa(i)
		}
	}
	results, tools, deferred := l.scratch(len(calls))
	stalled := l.repeated(ctx, calls)
	maxCalls, maxAsks := orDefault(l.MaxCalls, DefaultMaxCalls), orDefault(l.MaxAsks, DefaultMaxAsks)
	nAsks := 0
	for i := range calls {
		isAsk := asks(calls[i].Name)
		if isAsk {
			nAsks++
		}
		switch {
		case stalled:
			results[i] = Errorf("refused: you made the same calls %d times in a row; change your approach, escalate, or report", l.repeats)
		case maxCalls > 0 && i >= maxCalls:
			results[i] = l.refuse(ctx, &calls[i], fmt.Sprintf("more than %d tool calls in one turn", maxCalls))
		case isAsk && maxAsks > 0 && nAsks > maxAsks:
			results[i] = l.refuse(ctx, &calls[i], fmt.Sprintf("more than %d escalations, consultations or clarifications in one turn", maxAsks))
		case ts.Deferred(calls[i].Name):
			deferred[i] = true
		default:
			tools[i] = l.admit(ctx, ts, &calls[i], &results[i])
		}
	}
	// Calls run in order, so an act sees the effect of the acts before it:
	// a call of a deferred tool is admitted only now, by the tools then in
	// force (an acceptance earlier in the turn may have unlocked it). A run
	// of consecutive calls of concurrent tools runs in parallel.
	for i := 0; i < len(calls); {
		if deferred[i] && !stop {
			tools[i], deferred[i] = l.resume(ctx, &calls[i], &results[i]), false
		}
		if tools[i] == nil {
			i++
			continue
		}
		if stop {
			results[i] = Errorf("not run: an earlier call in this turn ended the conversation")
			i++
			continue
		}
		j := i + 1
		for IsConcurrent(tools[i]) && j < len(calls) {
			if deferred[j] { // admitted by the same tools as i
				tools[j], deferred[j] = l.resume(ctx, &calls[j], &results[j]), false
			}
			if tools[j] == nil || !IsConcurrent(tools[j]) {
				break
			}
			j++
		}
		if j-i == 1 {
			results[i] = l.call(ctx, tools[i], &calls[i], i)
		} else {
			var wg sync.WaitGroup
			for k := i; k < j; k++ {
				wg.Go(func() { results[k] = l.call(ctx, tools[k], &calls[k], k) })
			}
			wg.Wait()
		}
		for ; i < j; i++ {
			stop = stop || results[i].Stop
		}
	}
	l.clipTurn(results)
	l.recall(at, results)
	for i := range calls {
		if results[i].Pin {
			l.pinResult(calls[i].ID)
		}
		l.Messages = append(l.Messages, model.Message{
			Role: model.RoleTool, ToolCallID: calls[i].ID, Name: calls[i].Name, Content: results[i].Content,
			IsError: results[i].IsError,
		})
	}
	if l.repeats >= 2*l.RepeatLimit && l.RepeatLimit > 0 {
		return stop, ErrStalled
	}
	return stop, nil
}

// recall puts the short forms results ask for (Result.Recall) in place of
// their calls' arguments in the assistant message at Messages[at], on a
// copy of its calls: the response itself, which the journal records, is
// left as the model sent it.
func (l *Loop) recall(at int, results []Result) {
	copied := false
	for i := range results {
		if r := results[i].Recall; len(r) == 0 || string(r) == "null" {
			continue // unset, or unset and sent through JSON
		}
		if !copied {
			l.Messages[at].ToolCalls = slices.Clone(l.Messages[at].ToolCalls)
			copied = true
		}
		l.Messages[at].ToolCalls[i].Arguments = results[i].Recall
	}
}

// scratch returns the turn's per-call slices, zeroed, reusing the last
// turn's storage.
func (l *Loop) scratch(n int) ([]Result, []Tool, []bool) {
	if cap(l.results) < n {
		l.results, l.tools, l.deferred = make([]Result, n), make([]Tool, n), make([]bool, n)
	}
	l.results, l.tools, l.deferred = l.results[:n], l.tools[:n], l.deferred[:n]
	clear(l.results)
	clear(l.tools)
	clear(l.deferred)
	return l.results, l.tools, l.deferred
}

// repeated tracks identical turns (the same calls with the same arguments)
// and reports whether this one is a stall.
func (l *Loop) repeated(ctx context.Context, calls []model.ToolCall) bool {
	if l.RepeatLimit <= 0 {
		return false
	}
	if l.Rejudged != nil {
		for i := range calls {
			if l.Rejudged(calls[i].Name) {
				l.lastSig, l.repeats = 0, 0
				return false
			}
		}
	}
	h := fnv.New64a()
	for i := range calls {
		h.Write([]byte(calls[i].Name))
		h.Write([]byte{0})
		h.Write(calls[i].Arguments)
		h.Write([]byte{0})
	}
	if sig := h.Sum64(); sig == l.lastSig {
		l.repeats++
	} else {
		l.lastSig, l.repeats = sig, 1
	}
	if l.repeats < l.RepeatLimit {
		return false
	}
	if l.Hooks.Repeated != nil {
		l.Hooks.Repeated(ctx, &calls[0], l.repeats)
	}
	return true
}

// CallWithin calls t, but returns when ctx ends even if t does not: the call
// is abandoned (its goroutine ends when t returns, its result unread) and an
// error result says so, so a tool that ignores its context cannot keep a run
// past its deadline.
func CallWithin(ctx context.Context, t Tool, args json.RawMessage) Result {
	if ctx.Done() == nil {
		return t.Call(ctx, args)
	}
	done := make(chan Result, 1)
	go func() { done <- t.Call(ctx, args) }()
	select {
	case res := <-done:
		return res
	case <-ctx.Done():
		select {
		case res := <-done: // finished at the same moment
			return res
		default:
		}
		return Result{IsError: true, Content: "abandoned: the tool was still running when its time ran out (" + context.Cause(ctx).Error() + ")"}
	}
}

// refuse records a call refused by a bound of the turn and returns its result.
func (l *Loop) refuse(ctx context.Context, call *model.ToolCall, reason string) Result {
	if l.Hooks.Violation != nil {
		l.Hooks.Violation(ctx, call, reason)
	}
	return Errorf("refused: %s; make the others in a later turn", reason)
}

// clipTurn bounds the sum of a turn's results as the model sees them; each
// result is already bounded by MaxResult.
func (l *Loop) clipTurn(results []Result) {
	left := orDefault(l.MaxTurnResults, DefaultMaxTurnResults)
	if left == 0 {
		return
	}
	for i := range results {
		results[i].Content = ClipResult(results[i].Content, max(left, 1)) // past the bound, only the note
		left = max(left-len(results[i].Content), 0)
	}
}

// ClipResult returns content cut to at most n bytes (at a rune boundary),
// with a note saying how much was cut, so a model knows it saw only part.
// n <= 0 means no bound.
func ClipResult(content string, n int) string {
	if n <= 0 || len(content) <= n {
		return content
	}
	// The note with n in it is at least as long as with what is kept.
	keep := head(content, max(n-len(fmt.Sprintf(resultClipNote, n, len(content))), 0))
	return keep + fmt.Sprintf(resultClipNote, len(keep), len(content))
}

const resultClipNote = "\n[clipped: %d of %d bytes shown]"

// admit returns the tool a call may run, or nil with res set to the refusal.
func (l *Loop) admit(ctx context.Context, ts *Toolset, call *model.ToolCall, res *Result) Tool {
	t, ok := ts.Lookup(call.Name)
	if ok {
		return t
	}
	reason := fmt.Sprintf("unknown tool %q", call.Name)
	if l.Known != nil && l.Known(call.Name) {
		reason = fmt.Sprintf("tool %q is not allowed now", call.Name)
	}
	if l.Hooks.Violation != nil {
		l.Hooks.Violation(ctx, call, reason)
	}
	*res = Errorf("refused: %s; the tools you may call now are: %v", reason, ts.Names())
	return nil
}

// resume admits a deferred call by the tools in force now, or returns nil
// with res set to what Waited says.
func (l *Loop) resume(ctx context.Context, call *model.ToolCall, res *Result) Tool {
	if t, ok := l.Tools().Lookup(call.Name); ok {
		return t
	}
	if l.Waited != nil {
		*res = l.Waited(ctx, call)
		return nil
	}
	reason := fmt.Sprintf("tool %q is not allowed now", call.Name)
	if l.Hooks.Violation != nil {
		l.Hooks.Violation(ctx, call, reason)
	}
	*res = Errorf("refused: %s", reason)
	return nil
}

func (l *Loop) call(ctx context.Context, t Tool, call *model.ToolCall, index int) Result {
	if l.Hooks.ToolCalled != nil {
		l.Hooks.ToolCalled(ctx, call)
	}
	var start time.Time
	if l.Hooks.ToolResult != nil {
		start = time.Now()
	}
	var res Result
	switch {
	case l.Effects != nil:
		// The effects record the call, and abandon an action tool's at
		// ctx's end.
		res = l.Effects.CallTool(ctx, l.steps, index, t, call)
	case IsProtocolTool(call.Name):
		// Protocol acts run the runtime's own code, which ends with ctx.
		res = t.Call(ctx, call.Arguments)
	default:
		res = CallWithin(ctx, t, call.Arguments)
	}
	if !IsProtocolTool(call.Name) {
		res.Content = ClipResult(res.Content, orDefault(l.MaxResult, DefaultMaxResult))
	}
	if l.Hooks.ToolResult != nil {
		r := res // only a hook's result escapes
		l.Hooks.ToolResult(ctx, call, &r, time.Since(start))
		res = r
	}
	return res
}
