package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
)

// TerminalPrincipal is the user at the terminal: it shows the lead's
// acceptance of the goal for the user to confirm or correct, and the
// escalations that reach the top for the user to answer. It reads whole
// lines, so piped input works as well as a keyboard. One question is asked
// at a time.
type TerminalPrincipal struct {
	in   *lineReader
	out  io.Writer
	view Pauser // nil when there is no live view to pause
	st   Style
	echo bool // the input is not a terminal: show what was read

	mu sync.Mutex // one question at a time
}

// Close ends the principal's reading of its input once the run is over.
func (p *TerminalPrincipal) Close() { p.in.close() }

// NewTerminalPrincipal reads answers from in and asks on out, pausing view
// (nil: none) while it asks. Close it when the run ends.
func NewTerminalPrincipal(in io.Reader, out io.Writer, view Pauser) *TerminalPrincipal {
	return &TerminalPrincipal{in: newLineReader(in), out: out, view: view, st: NewStyle(out), echo: !IsTerminal(in)}
}

// lineReader reads lines from a reader in a goroutine of its own, so a
// question can be abandoned when the run is cancelled. The goroutine ends
// when the reader does; a terminal's read cannot be interrupted, so on
// cancellation it may stay blocked until the process exits.
type lineReader struct {
	r     io.Reader
	once  sync.Once
	lines chan string
	err   error // set before lines is closed

	done     chan struct{} // closed when no more lines will be asked for
	doneOnce sync.Once
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: r, lines: make(chan string), done: make(chan struct{})}
}

// close tells the reading goroutine that no more lines will be asked for,
// so lines left over in piped input do not keep it waiting.
func (l *lineReader) close() { l.doneOnce.Do(func() { close(l.done) }) }

func (l *lineReader) read() {
	sc := bufio.NewScanner(l.r)
	for sc.Scan() {
		select {
		case l.lines <- sc.Text():
		case <-l.done:
			return
		}
	}
	l.err = sc.Err()
	if l.err == nil {
		l.err = io.EOF
	}
	close(l.lines)
}

// readLine returns the next line without its newline and surrounding
// spaces, io.EOF at the end of the input, or the context's error.
func (l *lineReader) readLine(ctx context.Context) (string, error) {
	l.once.Do(func() { go l.read() })
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case s, ok := <-l.lines:
		if !ok {
			return "", l.err
		}
		return strings.TrimSpace(s), nil
	}
}

// ask writes the prompt and reads one line.
func (p *TerminalPrincipal) ask(ctx context.Context, prompt string) (string, error) {
	fmt.Fprint(p.out, p.st.Paint(Cyan, prompt))
	line, err := p.in.readLine(ctx)
	switch {
	case err == nil && p.echo:
		fmt.Fprintln(p.out, line)
	case err != nil:
		fmt.Fprintln(p.out) // a terminal echoes the user's newline; nothing else does
	}
	return line, err
}

// unanswered says why a question had no answer when reading its line failed
// for another reason than the run's end: the input ended (empty, closed or
// used up) or could not be read. No one answered then, and the caller
// answers for no one: it fails closed (not confirmed, refused, not
// accepted), recorded as the runtime's. When ctx is done it returns err.
func unanswered(ctx context.Context, err error) (string, error) {
	switch {
	case ctx.Err() != nil:
		return "", err
	case err == io.EOF:
		return "no one answered (the input ended)", nil
	default:
		return "no one answered (the input could not be read: " + err.Error() + ")", nil
	}
}

func (p *TerminalPrincipal) begin() {
	p.mu.Lock()
	if p.view != nil {
		p.view.Pause()
	}
}

func (p *TerminalPrincipal) end() {
	if p.view != nil {
		p.view.Resume()
	}
	p.mu.Unlock()
}

func (p *TerminalPrincipal) rule(title string) {
	fmt.Fprintln(p.out, p.st.Paint(Bold, "── "+title+" "+strings.Repeat("─", max(0, 60-len([]rune(title))))))
}

// JudgeAcceptance shows what the lead understood and asks the user to
// confirm it (Enter or y) or to type a correction, which goes back to the
// lead as the gap to close.
func (p *TerminalPrincipal) JudgeAcceptance(ctx context.Context, g *agents.Goal, agent string, a *agents.Acceptance) (agents.Alignment, error) {
	p.begin()
	defer p.end()
	w := p.out
	p.rule(agent + " accepts your goal")
	fmt.Fprintln(w, "This is what "+agent+" understood:")
	fmt.Fprintf(w, "  %s %s\n", p.st.Paint(Bold, "Intent:"), OneLine(a.RestatedIntent))
	if len(a.Plan) > 0 {
		fmt.Fprintln(w, "  "+p.st.Paint(Bold, "Plan:"))
		for i, s := range a.Plan {
			fmt.Fprintf(w, "    %d. %s\n", i+1, OneLine(s))
		}
	}
	acks := func(title string, want, got []string) {
		if len(want) == 0 {
			return
		}
		fmt.Fprintln(w, "  "+p.st.Paint(Bold, title))
		for i, c := range want {
			ack := "(not acknowledged)"
			if i < len(got) {
				ack = got[i]
			}
			fmt.Fprintf(w, "    • %s\n      → %s\n", OneLine(c), OneLine(ack))
		}
	}
	acks("Success criteria:", g.Criteria, a.AcknowledgedCriteria)
	acks("Constraints:", g.Constraints, a.AcknowledgedConstraints)
	list := func(title string, items []string) {
		if len(items) > 0 {
			fmt.Fprintln(w, "  "+p.st.Paint(Bold, title))
			for _, s := range items {
				fmt.Fprintln(w, "    - "+OneLine(s))
			}
		}
	}
	list("Assumptions:", a.Assumptions)
	list("Risks:", a.Risks)
	if a.Confidence > 0 {
		fmt.Fprintf(w, "  %s %.0f%%\n", p.st.Paint(Bold, "Confidence:"), a.Confidence*100)
	}
	line, err := p.ask(ctx, "Is this right? [Enter or y: confirm · or type what to correct]: ")
	if err != nil {
		why, err := unanswered(ctx, err)
		if err != nil {
			return agents.Alignment{}, err
		}
		// Not the user's judgement, and no approval: the lead may not start.
		fmt.Fprintln(w, p.st.Paint(Yellow, "not confirmed")+": "+why+"; "+agent+" may not start on an understanding no one confirmed.")
		return agents.Alignment{Aligned: false, By: agents.ByRuntime, Unjudged: true,
			Gaps: []string{"not confirmed at the terminal: " + why}}, nil
	}
	switch strings.ToLower(line) {
	case "", "y", "yes", "ok":
		fmt.Fprintln(w, p.st.Paint(Green, "confirmed")+": "+agent+" may start.")
		return agents.Alignment{Aligned: true, By: "user"}, nil
	case "n", "no":
		line, err = p.ask(ctx, "What should change? ")
		if err != nil && err != io.EOF {
			return agents.Alignment{}, err
		}
		if line == "" {
			line = "The user did not confirm this understanding of the goal; restate it more faithfully."
		}
	}
	fmt.Fprintln(w, p.st.Paint(Yellow, "sent back")+": "+agent+" will accept again with your correction.")
	return agents.Alignment{Aligned: false, Gaps: []string{"the user says: " + line}, Correction: line, By: "user"}, nil
}

// AnswerEscalation shows an escalation that reached the top and reads the
// answer: a number picks an option, an empty line takes the recommendation,
// anything else is the answer itself.
func (p *TerminalPrincipal) AnswerEscalation(ctx context.Context, e *agents.Escalation) (agents.Resolution, error) {
	p.begin()
	defer p.end()
	w := p.out
	from := e.From
	if len(e.Via) > 0 {
		from = e.Via[0] + " (via " + strings.Join(append(e.Via[1:], e.From), ", ") + ")"
	}
	kind := string(e.Kind)
	if e.Kind == agents.KindClarification {
		kind = "a question before accepting"
	}
	p.rule(from + " escalates: " + kind)
	fmt.Fprintln(w, OneLine(e.Question))
	for _, h := range e.Chain {
		if h.Note != "" {
			fmt.Fprintf(w, "  %s %s\n", p.st.Paint(Bold, OneLine(h.Agent)+" passed it on:"), OneLine(h.Note))
		}
	}
	for i, o := range e.Options {
		fmt.Fprintf(w, "  %d. %s\n", i+1, OneLine(o))
	}
	if e.Recommendation != "" {
		fmt.Fprintln(w, "  "+p.st.Paint(Bold, "Recommendation:")+" "+OneLine(e.Recommendation))
	}
	var hints []string
	if len(e.Options) > 0 {
		hints = append(hints, fmt.Sprintf("1-%d: pick an option", len(e.Options)))
	}
	if e.Recommendation != "" {
		hints = append(hints, "Enter: the recommendation")
	}
	hints = append(hints, "or type your answer")
	for {
		line, err := p.ask(ctx, "Your answer ["+strings.Join(hints, " · ")+"]: ")
		if err != nil {
			why, err := unanswered(ctx, err)
			if err != nil {
				return agents.Resolution{}, err
			}
			// Not even the recommendation is taken: no one chose it.
			fmt.Fprintln(w, p.st.Paint(Yellow, "refused")+": "+why+".")
			return agents.Resolution{Refused: true, By: agents.ByRuntime,
				Answer: "Refused at the terminal: " + why + ". Decide within your constraints and note it as a deviation, or decline."}, nil
		}
		if n, err := strconv.Atoi(line); err == nil && n >= 1 && n <= len(e.Options) {
			o := e.Options[n-1]
			fmt.Fprintln(w, p.st.Paint(Green, "answered")+": "+OneLine(o))
			return agents.Resolution{Answer: o, Decision: o, By: "user"}, nil
		}
		if line == "" {
			if e.Recommendation == "" {
				continue // nothing to default to: ask again
			}
			fmt.Fprintln(w, p.st.Paint(Green, "answered")+": "+OneLine(e.Recommendation))
			return agents.Resolution{Answer: e.Recommendation, Decision: e.Recommendation, By: "user"}, nil
		}
		fmt.Fprintln(w, p.st.Paint(Green, "answered")+": "+line)
		return agents.Resolution{Answer: line, By: "user"}, nil
	}
}

// AcceptBreaches shows the constraints the lead's report admits broken and
// asks, for each, whether the user accepts the breach; an accepted breach
// needs a reason (Enter gives a default). No answer accepts nothing.
func (p *TerminalPrincipal) AcceptBreaches(ctx context.Context, g *agents.Goal, agent string, r *agents.Report, bs []orchestrator.Breach) ([]agents.AcceptedBreach, error) {
	p.begin()
	defer p.end()
	w := p.out
	p.rule(agent + " reports a broken constraint")
	fmt.Fprintln(w, "Result: "+OneLine(r.Result))
	var out []agents.AcceptedBreach
	for _, b := range bs {
		fmt.Fprintf(w, "  %s %d: %s\n    %s\n", p.st.Paint(Bold, "Constraint"), b.Index, OneLine(b.Constraint), OneLine(b.Why))
		line, err := p.ask(ctx, "Accept this breach? [y: accept · Enter or n: the goal fails]: ")
		if err != nil {
			why, err := unanswered(ctx, err)
			if err != nil {
				return nil, err
			}
			fmt.Fprintln(w, p.st.Paint(Yellow, "not accepted")+": "+why+".")
			return out, nil
		}
		if l := strings.ToLower(line); l != "y" && l != "yes" {
			fmt.Fprintln(w, p.st.Paint(Yellow, "not accepted"))
			continue
		}
		reason, err := p.ask(ctx, "Why? [Enter: accepted by the user]: ")
		if err != nil && err != io.EOF {
			return nil, err
		}
		if reason == "" {
			reason = "accepted by the user"
		}
		fmt.Fprintln(w, p.st.Paint(Green, "accepted")+": constraint "+strconv.Itoa(b.Index))
		out = append(out, agents.AcceptedBreach{Constraint: b.Index, Reason: reason})
	}
	return out, nil
}
