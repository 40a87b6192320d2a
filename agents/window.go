package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/jsonstr"
)

// Window keeps the requests of a Loop within a context budget. Before a model
// call whose prompt would not fit, the loop compacts its conversation in order
// of cheapness: it clips the long arguments and results of older tool calls to
// a short head with a note of what was cut; then, if that is not enough, it
// folds the older turns into one summary. What is pinned is never clipped or
// folded: the messages the loop started with (the system prompt and the
// offer), the results marked Pin and the calls they answer, pinned notes, and
// the latest turns (the last one whole, the last KeepTurns never folded). The
// summary follows the pinned messages, so the conversation's prefix stays
// byte-stable from one compaction to the next and providers' prompt caching
// still applies. When the pinned messages alone do not fit, the loop fails
// with a *BudgetError of kind "context" rather than send a request over its
// budget.
type Window struct {
	// Tokens is the budget of one request: its messages and tool
	// definitions as model.EstimatePrompt counts them, scaled up when the
	// provider reports more prompt tokens than were estimated. 0: no bound.
	Tokens int
	// KeepTurns is how many of the latest turns are never folded [2]. The
	// last turn is not clipped either, unless a result in it alone would
	// overflow the budget: as a last resort before failing.
	KeepTurns int
	// Target is the fraction of Tokens a compaction brings the prompt
	// down to, so that compactions are rare and the prefix they leave
	// serves many calls [0.6].
	Target float64
	// ClipBytes is the head kept of a clipped argument or result [256].
	ClipBytes int
	// Summarize writes the summary of folded messages: prev is the summary
	// they continue ("" at first) and maxTokens bounds the answer. The
	// messages come in chunks that fit the budget. Nil, or an error other
	// than the context's or a *BudgetError, leaves the runtime's own list
	// of the folded calls as the summary.
	Summarize func(ctx context.Context, prev string, folded []model.Message, maxTokens int) (string, error)
}

// Compaction is what one compaction of a conversation did.
type Compaction struct {
	// Budget is the context budget, Before and After the prompt's
	// estimated tokens before and after compaction.
	Budget int `json:"budget"`
	Before int `json:"before"`
	After  int `json:"after"`
	// Clipped counts the arguments and results cut to their head.
	Clipped int `json:"clipped,omitempty"`
	// Folded counts the messages folded into the summary; Calls counts
	// the tool calls among them by tool name.
	Folded int            `json:"folded,omitempty"`
	Calls  map[string]int `json:"calls,omitempty"`
	// Summary is the summary the conversation now holds, when messages
	// were folded; By says who wrote it: "model", or "runtime" (a list of
	// the calls) when no model summary could be had, with Error saying why.
	Summary string `json:"summary,omitempty"`
	By      string `json:"by,omitempty"`
	Error   string `json:"error,omitempty"`
}

// SummaryHeader opens the message that holds a conversation's summary.
const SummaryHeader = "[Context compacted]"

func (w *Window) keepTurns() int {
	if w.KeepTurns > 0 {
		return w.KeepTurns
	}
	return 2
}

func (w *Window) target() int {
	f := w.Target
	if f <= 0 || f > 1 {
		f = 0.6
	}
	return int(float64(w.Tokens) * f)
}

func (w *Window) clipBytes() int {
	if w.ClipBytes > 0 {
		return w.ClipBytes
	}
	return 256
}

// summaryTokens bounds a summary: an eighth of the budget, within [64, 2048].
func (w *Window) summaryTokens() int { return min(max(w.Tokens/8, 64), 2048) }

// window is a loop's compaction state.
type window struct {
	started bool
	head    int             // leading messages, pinned
	pinned  map[string]bool // call ids whose result is pinned
	notes   map[string]bool // pinned notes, by content
	summary int             // index of the summary message; -1: none
	folded  map[string]int  // calls folded so far, by tool name
	scale   float64         // provider's prompt tokens / estimate, at least 1
}

func (l *Loop) windowStart() {
	if l.win.started {
		return
	}
	l.win = window{started: true, head: len(l.Messages), pinned: map[string]bool{}, notes: map[string]bool{},
		folded: map[string]int{}, scale: 1, summary: -1}
}

func (l *Loop) pinResult(id string) {
	if l.Window != nil {
		l.windowStart() // a Window set after the loop started
		l.win.pinned[id] = true
	}
}

func (l *Loop) pinNote(note string) {
	if l.Window != nil {
		l.windowStart()
		l.win.notes[note] = true
	}
}

// estimate is the prompt tokens of req as the budget counts them.
func (l *Loop) estimate(req *model.Request) int {
	n := model.EstimatePrompt(req)
	if l.win.scale > 1 {
		n = int(float64(n)*l.win.scale + 0.999)
	}
	return n
}

// calibrate learns from what the provider counted for req.
func (l *Loop) calibrate(req *model.Request, u model.Usage) {
	if l.Window == nil || u.PromptTokens <= 0 {
		return
	}
	if est := model.EstimatePrompt(req); est > 0 {
		l.win.scale = max(1, float64(u.PromptTokens)/float64(est))
	}
}

// pinnedMsg reports whether compaction must leave the message at i whole.
func (l *Loop) pinnedMsg(i int) bool {
	m := &l.Messages[i]
	switch {
	case i < l.win.head:
		return true
	case m.Role == model.RoleTool:
		return l.win.pinned[m.ToolCallID]
	case m.Role == model.RoleAssistant:
		return slices.ContainsFunc(m.ToolCalls, func(c model.ToolCall) bool { return l.win.pinned[c.ID] })
	case m.Role == model.RoleUser && i != l.win.summary:
		return l.win.notes[m.Content]
	}
	return false
}

// turnStarts returns the indexes at which the turns after the pinned head
// begin: each assistant message, and the first message after the head.
func (l *Loop) turnStarts() []int {
	var starts []int
	for i := l.win.head; i < len(l.Messages); i++ {
		if i == l.win.head || l.Messages[i].Role == model.RoleAssistant || i == l.win.summary || i == l.win.summary+1 && l.win.summary >= 0 {
			starts = append(starts, i)
		}
	}
	return starts
}

// tailStart is the index of the first message of the last keep turns.
func (l *Loop) tailStart(keep int) int {
	n := 0
	for i := len(l.Messages) - 1; i >= l.win.head; i-- {
		if l.Messages[i].Role == model.RoleAssistant {
			if n++; n == keep {
				return i
			}
		}
	}
	return l.win.head
}

// fit compacts the conversation until req fits the window, or fails.
func (l *Loop) fit(ctx context.Context, req *model.Request) error {
	w := l.Window
	if w == nil || w.Tokens <= 0 {
		return nil
	}
	l.windowStart()
	est := l.estimate(req)
	if est <= w.Tokens {
		return nil
	}
	c := &Compaction{Budget: w.Tokens, Before: est}
	measure := func() int {
		req.Messages = l.Messages
		est = l.estimate(req)
		return est
	}
	// Every result was seen whole at least once: all but the last turn's may
	// be clipped; the last KeepTurns turns are never folded.
	c.Clipped += l.clip(l.win.head, l.tailStart(1))
	if measure() > w.target() {
		tail := l.tailStart(w.keepTurns())
		if err := l.fold(ctx, tail, c, est > w.Tokens); err != nil {
			return err
		}
		if measure() > w.Tokens {
			// The last resort: the latest turns' own long results.
			c.Clipped += l.clip(l.win.head, len(l.Messages))
			measure()
		}
	}
	c.After = est
	if c.Clipped+c.Folded > 0 && l.Hooks.Compacted != nil {
		l.Hooks.Compacted(ctx, c)
	}
	if est > w.Tokens {
		return &BudgetError{Kind: BudgetContext, Limit: int64(w.Tokens), Used: int64(est)}
	}
	return nil
}

const (
	clipNote = "[clipped to fit the context budget: %d of %d bytes cut; the journal keeps it whole — call the tool again if you need it]"
	// clipSlack is how much longer than its head a text must be to be
	// clipped: what was clipped once (head and note) is never clipped again.
	clipSlack = len(clipNote) + 64
)

// clip cuts the long arguments and results of the unpinned messages in
// [from, to) to their head and returns how many it cut.
func (l *Loop) clip(from, to int) int {
	keep := l.Window.clipBytes()
	n := 0
	for i := from; i < to; i++ {
		if i == l.win.summary {
			continue
		}
		m := &l.Messages[i]
		if m.Role == model.RoleAssistant {
			var calls []model.ToolCall
			for j, tc := range m.ToolCalls {
				if l.win.pinned[tc.ID] || len(tc.Arguments) <= keep+clipSlack {
					continue
				}
				args, ok := clipArgs(tc.Arguments, keep)
				if !ok {
					continue
				}
				if calls == nil {
					calls = slices.Clone(m.ToolCalls) // the message may be shared with a recorded request
				}
				calls[j].Arguments = args
				n++
			}
			if calls != nil {
				m.ToolCalls = calls
			}
		}
		if l.pinnedMsg(i) || len(m.Content) <= keep+clipSlack {
			continue
		}
		m.Content = head(m.Content, keep) + "\n" + fmt.Sprintf(clipNote, len(m.Content)-len(head(m.Content, keep)), len(m.Content))
		n++
	}
	return n
}

// head returns at most n bytes of s, cut at a rune boundary.
func head(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// clipArgs cuts the long strings of a call's JSON arguments, so that what is
// left is still valid JSON for the providers that parse it back; ok is false
// when nothing was long enough to cut.
func clipArgs(args json.RawMessage, keep int) (json.RawMessage, bool) {
	out, ok, err := jsonstr.Map(args, func(s string) string {
		if len(s) <= keep+32 {
			return s
		}
		return head(s, keep) + fmt.Sprintf("…[%d bytes clipped]", len(s)-len(head(s, keep)))
	})
	if err != nil {
		b, _ := json.Marshal(map[string]string{"clipped": head(string(args), keep) + "…"})
		return b, true
	}
	return out, ok
}

// fold replaces the unpinned turns before tail, and the summary they
// follow, with a new summary placed after the pinned messages. Unless forced,
// it leaves alone turns smaller than a summary would be.
func (l *Loop) fold(ctx context.Context, tail int, c *Compaction, force bool) error {
	var kept, folded []model.Message
	prev := ""
	starts := append(l.turnStarts(), len(l.Messages))
	for k := 0; k+1 < len(starts); k++ {
		lo, hi := starts[k], starts[k+1]
		if lo >= tail {
			break
		}
		hi = min(hi, tail)
		seg := l.Messages[lo:hi]
		switch {
		case lo == l.win.summary:
			prev = strings.TrimSpace(seg[0].Content[strings.Index(seg[0].Content, summaryBody)+len(summaryBody):])
		case l.pinnedIn(lo, hi):
			kept = append(kept, seg...)
		default:
			folded = append(folded, seg...)
		}
	}
	size := 0
	for i := range folded {
		size += model.MessageBytes(&folded[i])
	}
	if len(folded) == 0 || !force && size/4 < l.Window.summaryTokens() {
		return nil
	}
	summary, err := l.summarize(ctx, prev, folded)
	if err != nil {
		var be *BudgetError
		if ctx.Err() != nil || errors.As(err, &be) {
			return err
		}
		c.By, c.Error = "runtime", err.Error()
		summary = listCalls(prev, folded, l.Window.summaryTokens()*4)
	} else {
		c.By = "model"
	}
	c.Calls = map[string]int{}
	for _, m := range folded {
		for _, tc := range m.ToolCalls {
			c.Calls[tc.Name]++
			l.win.folded[tc.Name]++
		}
	}
	c.Folded += len(folded)
	c.Summary = summary

	msgs := slices.Clip(l.Messages[:l.win.head:l.win.head])
	msgs = append(msgs, kept...)
	l.win.summary = len(msgs)
	msgs = append(msgs, model.Message{Role: model.RoleUser, Content: l.summaryMessage(summary)})
	l.Messages = append(msgs, l.Messages[tail:]...)
	return nil
}

// pinnedIn reports whether a message in [lo, hi) is pinned.
func (l *Loop) pinnedIn(lo, hi int) bool {
	for i := lo; i < hi; i++ {
		if l.pinnedMsg(i) {
			return true
		}
	}
	return false
}

const summaryBody = "\nSummary of the earlier work:\n"

// summaryMessage tells the delegate what was compacted and gives it the summary.
func (l *Loop) summaryMessage(summary string) string {
	var names []string
	for _, n := range slices.Sorted(maps.Keys(l.win.folded)) {
		names = append(names, fmt.Sprintf("%s ×%d", n, l.win.folded[n]))
	}
	return fmt.Sprintf("%s To keep within your context budget of %d tokens, earlier turns were folded into the summary below "+
		"(calls folded: %s) and long results of older calls were clipped. Your goal, your acceptance and every answer and "+
		"correction you received are kept above in full. The journal keeps everything whole: call a tool again (e.g. read_file) "+
		"or ask your delegator if you need something that is not here.%s%s",
		SummaryHeader, l.Window.Tokens, strings.Join(names, ", "), summaryBody, summary)
}

// FoldHeader opens the message that puts the turns to fold to the model
// asked for a summary (see FoldRequest).
const FoldHeader = "[Turns to fold into your summary]"

// FoldRequest is the message that asks a model to fold messages into the
// summary prev: FoldHeader, prev, and the messages as a transcript, one line
// a call ("- you called NAME ARGS") or message, each result under its call.
func FoldRequest(prev string, folded []model.Message) string {
	var b strings.Builder
	b.WriteString(FoldHeader + "\n")
	if prev != "" {
		b.WriteString("Your summary so far:\n" + prev + "\n\nThe turns to fold into it:\n")
	}
	for _, m := range folded {
		switch m.Role {
		case model.RoleAssistant:
			if m.Content != "" {
				fmt.Fprintf(&b, "- you wrote: %s\n", m.Content)
			}
			for _, c := range m.ToolCalls {
				fmt.Fprintf(&b, "- you called %s %s\n", c.Name, c.Arguments)
			}
		case model.RoleTool:
			fmt.Fprintf(&b, "  %s returned: %s\n", m.Name, m.Content)
		default:
			fmt.Fprintf(&b, "- %s: %s\n", m.Role, m.Content)
		}
	}
	return b.String()
}

// summarize asks Window.Summarize for a summary of folded, in chunks that fit
// the budget, each continuing the summary of the chunks before it.
func (l *Loop) summarize(ctx context.Context, prev string, folded []model.Message) (string, error) {
	w := l.Window
	if w.Summarize == nil {
		return "", errors.New("no summarizer")
	}
	maxTok := w.summaryTokens()
	// Room for the chunk: the budget less the instructions, the summary
	// carried and the answer.
	room := (w.Tokens - 2*maxTok - 256) * 4
	for len(folded) > 0 {
		n, size := 0, 0
		for n < len(folded) && (n == 0 || size+model.MessageBytes(&folded[n]) <= room) {
			size += model.MessageBytes(&folded[n])
			n++
		}
		s, err := w.Summarize(ctx, prev, folded[:n], maxTok)
		if err != nil {
			return "", err
		}
		if s = strings.TrimSpace(s); s == "" {
			return "", errors.New("the summary is empty")
		}
		prev = head(s, maxTok*4)
		folded = folded[n:]
	}
	return prev, nil
}

// listCalls is the runtime's own summary: the calls folded, each with the
// head of its arguments and result, the latest kept when they do not all fit.
func listCalls(prev string, folded []model.Message, maxBytes int) string {
	results := map[string]string{}
	for _, m := range folded {
		if m.Role == model.RoleTool {
			results[m.ToolCallID] = m.Content
		}
	}
	var lines []string
	for _, m := range folded {
		for _, tc := range m.ToolCalls {
			r := strings.Join(strings.Fields(head(results[tc.ID], 80)), " ")
			lines = append(lines, fmt.Sprintf("- %s %s → %s", tc.Name, head(string(tc.Arguments), 80), r))
		}
	}
	out := ""
	if prev != "" {
		out = head(prev, maxBytes/2) + "\n"
	}
	var b []string
	size := len(out)
	for i := len(lines) - 1; i >= 0; i-- {
		if size+len(lines[i])+1 > maxBytes {
			b = append(b, fmt.Sprintf("- (%d earlier calls not listed)", i+1))
			break
		}
		size += len(lines[i]) + 1
		b = append(b, lines[i])
	}
	slices.Reverse(b)
	return out + "Calls made (the runtime's list; results cut to their head):\n" + strings.Join(b, "\n")
}
