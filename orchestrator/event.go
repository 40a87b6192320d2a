package orchestrator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

// EventType names a kind of event. The names are a public contract: journals,
// evals and users' scripts depend on them.
type EventType string

// The event types of the journal.
const (
	EventRunStarted            EventType = "run.started"
	EventGoalOffered           EventType = "goal.offered"
	EventGoalAccepted          EventType = "goal.accepted"
	EventGoalDeclined          EventType = "goal.declined"
	EventClarificationAsked    EventType = "clarification.asked"
	EventAlignmentJudged       EventType = "alignment.judged"
	EventToolCalled            EventType = "tool.called"
	EventToolResult            EventType = "tool.result"
	EventProtocolViolation     EventType = "protocol.violation"
	EventEscalationRaised      EventType = "escalation.raised"
	EventEscalationResolved    EventType = "escalation.resolved"
	EventConsultationAsked     EventType = "consultation.asked"
	EventConsultationAnswered  EventType = "consultation.answered"
	EventProgressReported      EventType = "progress.reported"
	EventSupervisionIntervened EventType = "supervision.intervened"
	EventGoalReported          EventType = "goal.reported"
	EventReportVerified        EventType = "report.verified"
	EventGoalReassigned        EventType = "goal.reassigned"
	EventBudgetExceeded        EventType = "budget.exceeded"
	EventModelCalled           EventType = "model.called"
	EventModelRetried          EventType = "model.retried"
	EventModelFailover         EventType = "model.failover"
	EventContextCompacted      EventType = "context.compacted"
	EventGoalCompleted         EventType = "goal.completed"
	EventGoalFailed            EventType = "goal.failed"
	EventRunFinished           EventType = "run.finished"
	EventRunResumed            EventType = "run.resumed"
)

// eventTypes lists every event type, in lifecycle order.
var eventTypes = []EventType{
	EventRunStarted, EventGoalOffered, EventGoalAccepted, EventGoalDeclined, EventClarificationAsked,
	EventAlignmentJudged, EventToolCalled, EventToolResult, EventProtocolViolation, EventEscalationRaised,
	EventEscalationResolved, EventConsultationAsked, EventConsultationAnswered, EventProgressReported,
	EventSupervisionIntervened, EventGoalReported, EventReportVerified, EventGoalReassigned,
	EventBudgetExceeded, EventModelCalled, EventModelRetried, EventModelFailover, EventContextCompacted, EventGoalCompleted, EventGoalFailed,
	EventRunFinished, EventRunResumed,
}

// EventTypes returns every event type, in lifecycle order: a new slice the
// caller may keep and change.
func EventTypes() []EventType { return slices.Clone(eventTypes) }

// Known reports whether t is one of the journal's event types.
func (t EventType) Known() bool { return slices.Contains(eventTypes, t) }

// Terminal reports whether t ends a delegation.
func (t EventType) Terminal() bool {
	return t == EventGoalCompleted || t == EventGoalFailed || t == EventGoalDeclined
}

// Event is one typed, timestamped fact of a run: one line of the journal.
// The common fields come first; the others are set by the types that carry
// them and omitted otherwise. An emitted Event is never modified.
type Event struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"time"`
	Run        string    `json:"run"`
	Type       EventType `json:"type"`
	Delegation string    `json:"delegation,omitempty"`
	Parent     string    `json:"parent,omitempty"`
	// Agent is who acts: the delegate, or the delegator for judgements,
	// answers and verifications.
	Agent string `json:"agent,omitempty"`

	// Conversation, Turn and CallIndex key model.called, model.retried,
	// tool.called and tool.result within the delegation, so that a resumed
	// run finds what was recorded for each call (see Key): the
	// conversation ("" for the delegate's own), the model turn in it from
	// 1, and the call's index in the turn from 0.
	Conversation string `json:"conversation,omitempty"`
	Turn         int    `json:"turn,omitempty"`
	CallIndex    int    `json:"call_index,omitempty"`
	// Site is where the act that made this event's id was made (on
	// goal.offered, escalation.raised, clarification.asked and
	// consultation.asked), so that a resumed run gives it the same id.
	Site string `json:"site,omitempty"`

	// run.started: the team's digest, the caller's configuration, the
	// number of the goal's programmatic verifiers (functions, which the
	// journal cannot hold: a resume must be given them again), and the W3C
	// traceparent of the caller's trace the run belongs to, when
	// Options.Traceparent found one.
	TeamHash    string          `json:"team_hash,omitempty"`
	Config      json.RawMessage `json:"config,omitempty"`
	Verifiers   int             `json:"verifiers,omitempty"`
	Traceparent string          `json:"traceparent,omitempty"`
	// GoalHash, on run.started, is a digest of the goal, the configuration
	// and the number of verifiers (see GoalDigest): Resume refuses a
	// journal whose run.started does not match it.
	GoalHash string `json:"goal_hash,omitempty"`
	// KeyID, on a sealed journal's first line, names the key its lines are
	// sealed with (JournalKeyID); Seal, on every line of a sealed journal,
	// is that line's seal. The Journal sink writes them and ReadJournal
	// reads them; see Journal.Seal.
	KeyID string `json:"key_id,omitempty"`
	Seal  string `json:"seal,omitempty"`

	// goal.offered, run.started
	Goal           *agents.Goal `json:"goal,omitempty"`
	Delegator      string       `json:"delegator,omitempty"`
	Depth          int          `json:"depth,omitempty"`
	Tools          []string     `json:"tools,omitempty"`
	ReassignedFrom string       `json:"reassigned_from,omitempty"`
	Budget         *BudgetState `json:"budget,omitempty"`
	// Supervision, on goal.offered, is how closely the delegate is
	// supervised.
	Supervision *Supervision `json:"supervision,omitempty"`

	// goal.accepted, alignment.judged, goal.declined, report.verified
	Round        int                  `json:"round,omitempty"`
	Acceptance   *agents.Acceptance   `json:"acceptance,omitempty"`
	Aligned      *bool                `json:"aligned,omitempty"`
	Alignment    *agents.Alignment    `json:"alignment,omitempty"`
	Decline      *agents.Decline      `json:"decline,omitempty"`
	Report       *agents.Report       `json:"report,omitempty"`
	Verification *agents.Verification `json:"verification,omitempty"`
	// Checks, on report.verified, is what the goal's verifiers found.
	Checks *Checks `json:"checks,omitempty"`

	// escalation.*, clarification.asked, consultation.*
	ID           string               `json:"id,omitempty"`
	Escalation   *agents.Escalation   `json:"escalation,omitempty"`
	Resolution   *agents.Resolution   `json:"resolution,omitempty"`
	Consultation *agents.Consultation `json:"consultation,omitempty"`

	// progress.reported, supervision.intervened
	Progress     *agents.ProgressReport `json:"progress,omitempty"`
	Intervention *Intervention          `json:"intervention,omitempty"`

	// tool.called, tool.result, protocol.violation
	Tool      string          `json:"tool,omitempty"`
	CallID    string          `json:"call_id,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
	Result    string          `json:"result,omitempty"`
	IsError   bool            `json:"is_error,omitempty"`

	// model.called, model.retried; goal.offered names the delegate's model
	// Model is the model the agent asked for; ResponseModel the one the
	// server says answered, when it differs; Provider the provider's name.
	Model         string `json:"model,omitempty"`
	ResponseModel string `json:"response_model,omitempty"`
	Provider      string `json:"provider,omitempty"`
	// Fallback, on model.failover, is the model that takes the call over
	// from Model (model.WithFallback), which failed after its retries.
	Fallback string `json:"fallback,omitempty"`
	// Purpose says why the model was called: the delegate's own turn; a
	// judgement, an answer or a verification asked of it as a delegator; a
	// consultation; or a compaction (a summary of older turns written to
	// fit the context budget). model.called, model.retried, tool.called and
	// tool.result carry it, and so does a protocol.violation of kind
	// ViolationDelegatorFailed.
	Purpose model.Purpose `json:"purpose,omitempty"`
	Usage   *model.Usage  `json:"usage,omitempty"`
	// UsageReplaced says why the usage the provider reported was replaced
	// by the local estimate (model.SaneUsage); empty when it stood.
	UsageReplaced string `json:"usage_replaced,omitempty"`
	// Message, on model.called, is the model's answer in full: its text
	// and its tool calls with their arguments.
	Message *model.Message `json:"message,omitempty"`
	// RawArguments lists the tool calls of Message whose arguments were
	// not JSON, and are recorded as a JSON string of what the model wrote.
	RawArguments []int   `json:"raw_arguments,omitempty"`
	LatencyMS    float64 `json:"latency_ms,omitempty"`
	FinishReason string  `json:"finish_reason,omitempty"`
	// Attempt is the attempt of model.retried, and the resume's number on
	// run.resumed (from 1).
	Attempt int     `json:"attempt,omitempty"`
	WaitMS  float64 `json:"wait_ms,omitempty"`
	Error   string  `json:"error,omitempty"`

	// context.compacted: what was clipped and folded to keep the
	// conversation within the agent's context budget, and the summary.
	Compaction *agents.Compaction `json:"compaction,omitempty"`

	// protocol.violation: what kind of violation (the Reason says it in
	// words).
	Violation ViolationKind `json:"violation,omitempty"`

	// budget.exceeded: the budget's limit and use; its kind is in Reason
	// (see BudgetKind).
	Limit int64 `json:"limit,omitempty"`
	Used  int64 `json:"used,omitempty"`

	// goal.completed, goal.failed, goal.declined, run.finished,
	// protocol.violation, supervision.intervened, budget.exceeded
	Status Status `json:"status,omitempty"`
	// Cause classifies a failure or decline (see the Cause constants).
	Cause  Cause  `json:"cause,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Result is also the final result on goal.completed; Total is the
	// delegation's (or the run's) usage, children included.
	Total *model.Usage `json:"total,omitempty"`
}

// BudgetKind returns the kind of budget a budget.exceeded event reports,
// which the journal carries in its reason; "" for other events.
func (e *Event) BudgetKind() agents.BudgetKind {
	if e.Type != EventBudgetExceeded {
		return ""
	}
	return agents.BudgetKind(e.Reason)
}

// ViolationKind classifies a protocol violation.
type ViolationKind string

// The kinds of protocol violation.
const (
	// ViolationUnknownTool: a call of a tool that does not exist.
	ViolationUnknownTool ViolationKind = "unknown_tool"
	// ViolationNotAllowed: a call of a tool that exists but is not offered
	// in the current state.
	ViolationNotAllowed ViolationKind = "not_allowed"
	// ViolationBeforeAcceptance: an action tool reached before an aligned
	// acceptance (refused by the runtime's second lock).
	ViolationBeforeAcceptance ViolationKind = "before_acceptance"
	// ViolationBeyondAuthority: a tool used or granted beyond the
	// delegation's authority.
	ViolationBeyondAuthority ViolationKind = "beyond_authority"
	// ViolationProse: prose where a protocol call was required.
	ViolationProse ViolationKind = "prose"
	// ViolationDelegatorFailed: a delegator could not judge, answer or
	// verify (a provider error, no call); the runtime's checks stood in.
	ViolationDelegatorFailed ViolationKind = "delegator_failed"
	// ViolationDerailed: an acceptance whose restated intent shares no
	// content word with the goal's intent and objective, or only copies
	// them (MAST FM-2.3); it is not aligned, and no judge is asked.
	ViolationDerailed ViolationKind = "derailed"
	// ViolationRepeated: the same call, with the same arguments, made
	// Limits.RepeatLimit times in a row (MAST FM-1.3, step repetition); it
	// is refused, recorded beside the stall (supervision.intervened) and put
	// to the delegator. Acceptances and reports sent again are not repeats:
	// they are judged again, and ViolationIgnoredFeedback is theirs.
	ViolationRepeated ViolationKind = "repeated"
	// ViolationIgnoredFeedback: an acceptance resubmitted after misalignment
	// feedback without addressing it (unchanged, or no gap it names is
	// changed), or a report resubmitted unchanged after revise feedback
	// with no work done since (MAST FM-2.5). The second time in a
	// delegation it fails, as misaligned or rejected, without another
	// judge or verifier call; the first is only warned of.
	ViolationIgnoredFeedback ViolationKind = "ignored_feedback"
	// ViolationUnplannedTool: an action tool used that the accepted plan
	// never named, when the plan names tools (MAST FM-2.6). It runs; the
	// note is shown to whoever verifies the report.
	ViolationUnplannedTool ViolationKind = "unplanned_tool"
	// ViolationOutOfRole: an agent acting outside its role (MAST FM-1.2):
	// a consulted peer that calls tools instead of advising, or a
	// delegation to an agent already in the chain above (A → B → A). It
	// is refused.
	ViolationOutOfRole ViolationKind = "out_of_role"
)

// BudgetState is a delegation's budget as carved at its start.
type BudgetState struct {
	Steps  int   `json:"steps,omitempty"`
	Tokens int64 `json:"tokens,omitempty"`
	// WallTimeMS bounds the delegation's duration, in milliseconds.
	WallTimeMS int64 `json:"wall_time_ms,omitempty"`
}

// Sink receives events. Within one run, Emit is called under the run's lock,
// in sequence order, so it must be quick; a sink shared by concurrent runs
// (several Runs of one Runtime) is called concurrently and must be safe for
// that, as Memory and Journal are. ctx is the context of the act the event
// records (the Run's own for run.started and run.finished), so a sink can
// read what it carries, such as a trace; it must not keep it. It must not
// modify e; it may keep it. An error is recorded and returned by Run once
// the run ends; the run goes on.
type Sink interface {
	Emit(ctx context.Context, e *Event) error
}

// Borrower is a Sink that keeps nothing of an event once Emit returns but
// what its fields point to (a goal, a message): it writes, counts or
// forwards the event, and does not keep e itself. A run lends a Borrower
// its events from memory it reuses, so that the events of a run whose sinks
// all borrow cost no allocation; every other sink is given events of its
// own, which it may keep. Journal is one.
type Borrower interface {
	Sink
	// Borrows does nothing: it marks the sink as one that borrows.
	Borrows()
}

// Committer is a Sink that may hold events back and write them in groups. A
// run calls Commit before each effect it makes live — a model call, the run
// of an action tool, a decision asked of someone outside the run's models —
// and once it has emitted run.finished, so that whatever an effect follows
// from is written before the run waits on it, and the sink need not write
// at every event. Journal is one.
type Committer interface {
	Sink
	// Commit writes the events held back.
	Commit() error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, e *Event) error

// Emit calls f.
func (f SinkFunc) Emit(ctx context.Context, e *Event) error { return f(ctx, e) }

// Memory is a Sink that keeps events in memory. It is safe for concurrent use.
type Memory struct {
	mu     sync.Mutex
	events []*Event
}

// Emit appends e.
func (m *Memory) Emit(_ context.Context, e *Event) error {
	m.mu.Lock()
	m.events = append(m.events, e)
	m.mu.Unlock()
	return nil
}

// Events returns the events so far, in order.
func (m *Memory) Events() []*Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Event(nil), m.events...)
}

// Journal is a Sink that writes events as JSON lines, one an event.
//
// It commits in groups: once a run has committed through it (see
// Committer), the lines are buffered and written together at the run's
// commit points — before each effect the run makes live: a model call, an
// action tool's run (after its tool.called), a decision asked of the
// Principal, a supervisor or a verifier — and on every event that ends a
// delegation or a run or that may wait for a person (an escalation, a
// clarification), and on Flush and Close. Nothing an effect follows from is
// left unwritten while the run waits on it, so a crash loses only lines that
// the run could have made again in microseconds from effects already
// written: a resumed run redoes no recorded model call and knows of every
// action tool call that was attempted, as with a write per event. Until a
// run commits through it (a journal written by another program), each line
// is written as it comes. SetGroupCommit changes this.
//
// With Seal, each line carries a seal that makes edits to the file detectable
// (ReadSealedJournal).
type Journal struct {
	mu sync.Mutex
	w  *bufio.Writer
	c  io.Closer
	// mode is groupAuto (the default), groupOn or groupOff; committed
	// says a run has committed through the journal.
	mode      int8
	committed bool
	line      []byte // the line being written, reused
	// sealer, when not nil, seals each line (Seal).
	sealer *sealer
}

// The group commit modes of a Journal.
const (
	groupAuto int8 = iota // in groups once a run commits through it
	groupOn               // in groups from the start
	groupOff              // a write per event
)

// SetGroupCommit sets whether the journal commits in groups from its first
// line (on), or writes each line as it comes (off): then a run's commits
// find nothing held back. By default it commits in groups once a run has
// committed through it (see Journal).
func (j *Journal) SetGroupCommit(on bool) {
	j.mu.Lock()
	j.mode = groupOff
	if on {
		j.mode = groupOn
	}
	j.mu.Unlock()
}

// Commit writes the lines held back: the run calls it before each effect
// (see Committer).
func (j *Journal) Commit() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.committed = true
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// NewJournal returns a journal writing to w. Close flushes it but leaves w
// open: w belongs to the caller (it may be os.Stdout).
func NewJournal(w io.Writer) *Journal {
	return &Journal{w: bufio.NewWriterSize(w, 16<<10)}
}

// CreateJournal creates (or truncates) the file at path, with its directory,
// and returns a journal writing to it.
func CreateJournal(path string) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := NewJournal(f)
	j.c = f
	return j, nil
}

// ErrJournalExists is CreateNewJournal's error for a path where something
// already is (another run's journal, which a new run must never overwrite).
var ErrJournalExists = errors.New("the file exists")

// CreateNewJournal is CreateJournal for a journal that must be new: it never
// truncates. The file is created only if nothing is at path (O_EXCL), so a
// journal already there is kept, and of two runs told the same path at once
// exactly one gets it; the other's error matches ErrJournalExists.
func CreateNewJournal(path string) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("journal: %s: %w", path, ErrJournalExists)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := NewJournal(f)
	j.c = f
	return j, nil
}

// AppendJournal opens the journal file at path for a resumed run to append
// to. A torn last line (a line without its newline: a write the stopped run
// did not finish, which ReadJournal skips) is cut off first, so that what is
// appended starts on a line of its own; a last line that lacks only its
// newline, which ReadJournal reads, gets it.
func AppendJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := cutTornLine(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	j := NewJournal(f)
	j.c = f
	return j, nil
}

// cutTornLine truncates f after its last newline and leaves its offset at
// the end.
func cutTornLine(f *os.File) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	end := info.Size()
	buf := make([]byte, 64<<10)
	for end > 0 {
		n := int64(len(buf))
		if end < n {
			n = end
		}
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end != info.Size() {
		// A last line that is whole but for its newline is an event
		// ReadJournal read: it is ended, not cut, so that what follows
		// continues from it (and a sealed journal's chain with it).
		tail := make([]byte, info.Size()-end)
		if _, err := f.ReadAt(tail, end); err != nil {
			return err
		}
		if t := bytes.TrimSpace(tail); len(t) > 0 && json.Unmarshal(t, new(Event)) == nil {
			if _, err := f.Seek(info.Size(), io.SeekStart); err != nil {
				return err
			}
			_, err := f.Write([]byte{'\n'})
			return err
		}
		if err := f.Truncate(end); err != nil {
			return err
		}
	}
	_, err = f.Seek(end, io.SeekStart)
	return err
}

// Borrows marks the journal as a Borrower: it keeps nothing of an event
// once its line is encoded.
func (j *Journal) Borrows() {}

// Emit writes e as one line: at once, or, when the journal commits in
// groups, with the lines held back at the next commit point (see Journal).
func (j *Journal) Emit(_ context.Context, e *Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var err error
	if j.sealer != nil {
		var b []byte
		if b, err = j.sealer.seal(e); err == nil {
			_, err = j.w.Write(b)
		}
	} else if j.line, err = appendLine(j.line[:0], e); err == nil {
		_, err = j.w.Write(j.line)
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if j.grouped() && !commits(e) {
		return nil
	}
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// grouped reports whether lines are held back until a commit point.
func (j *Journal) grouped() bool {
	return j.mode == groupOn || j.mode == groupAuto && j.committed
}

// commits reports whether e is a commit point of the journal.
func commits(e *Event) bool {
	switch e.Type {
	case EventToolCalled:
		return !agents.IsProtocolTool(e.Tool)
	case EventGoalCompleted, EventGoalFailed, EventGoalDeclined, EventRunFinished,
		EventEscalationRaised, EventClarificationAsked:
		return true
	}
	return false
}

// Flush writes the lines buffered so far.
func (j *Journal) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// Close flushes the journal, and closes its file if CreateJournal opened it.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.w.Flush()
	if j.c != nil {
		if cerr := j.c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// ReadJournal reads the events of a JSONL journal. A malformed line is an
// error naming its line number, except a last line without its newline: a run
// killed mid-write leaves such a torn line, which is skipped and reported
// through truncated.
func ReadJournal(r io.Reader) (events []*Event, truncated bool, err error) {
	return readJournal(r, nil)
}
