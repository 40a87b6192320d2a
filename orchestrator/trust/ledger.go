package trust

import (
	"cmp"
	"slices"
	"sync"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
)

// Ledger holds every agent's Record. It is an orchestrator.Sink that updates
// the records as a run's events arrive, and its SupervisionFor sets each
// delegation's supervision from them. Save writes it back to its file. A
// Ledger is safe for concurrent use, by many runs at once.
type Ledger struct {
	path string

	saveMu sync.Mutex // serialises Save, so an older snapshot never lands last

	mu      sync.Mutex
	policy  Policy
	records map[string]*Record
	runs    map[string]*runState
}

// runState is what a run's events need to be attributed: the delegate of
// each delegation (alignment.judged and report.verified name the delegator as
// their agent) and the escalations open in it.
type runState struct {
	deleg map[string]*delegState
	esc   map[string]string // blocking escalation id → delegation id
	seen  map[string]bool   // agents counted in Runs
}

type delegState struct {
	agent    string
	answered int // own blocking escalations answered, not refused
}

// Open returns the ledger stored at path, or an empty one if there is no
// file yet; Save creates it. A file that cannot be read as a ledger is an
// error (matching ErrCorrupt) naming the file: Open never starts afresh over
// a record it could not read. The ledger uses DefaultPolicy.
func Open(path string) (*Ledger, error) {
	recs, err := load(path)
	if err != nil {
		return nil, err
	}
	l := &Ledger{path: path, policy: DefaultPolicy(), records: map[string]*Record{}, runs: map[string]*runState{}}
	for i := range recs {
		l.records[recs[i].Agent] = &recs[i]
	}
	return l, nil
}

// Path returns the file the ledger is saved to.
func (l *Ledger) Path() string { return l.path }

// SetPolicy replaces the policy SupervisionFor applies.
func (l *Ledger) SetPolicy(p Policy) {
	l.mu.Lock()
	l.policy = p
	l.mu.Unlock()
}

// SupervisionFor returns the supervision the agent's record sets, under the
// ledger's policy. Its signature fits orchestrator.Options.SupervisionFor.
func (l *Ledger) SupervisionFor(agent string) orchestrator.Supervision {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.policy.Supervision(l.records[agent])
}

// Score returns the mean and standard deviation of the agent's trust; an
// agent without a record has the prior's.
func (l *Ledger) Score(agent string) (mean, sd float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.records[agent].Score()
}

// Record returns a copy of the agent's record.
func (l *Ledger) Record(agent string) (Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.records[agent]
	if !ok {
		return Record{}, false
	}
	return *r, true
}

// Records returns a copy of every record, sorted by agent.
func (l *Ledger) Records() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.snapshot()
}

func (l *Ledger) snapshot() []Record {
	out := make([]Record, 0, len(l.records))
	for _, r := range l.records {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Record) int { return cmp.Compare(a.Agent, b.Agent) })
	return out
}

// Emit updates the records from one event. It never fails.
func (l *Ledger) Emit(e *orchestrator.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	run := l.runs[e.Run]
	if run == nil {
		if e.Type == orchestrator.EventRunFinished {
			return nil
		}
		run = &runState{deleg: map[string]*delegState{}, esc: map[string]string{}, seen: map[string]bool{}}
		l.runs[e.Run] = run
	}
	d := run.deleg[e.Delegation]
	// The delegate of e's delegation, for the events whose agent may be
	// the delegator.
	delegate := func() string {
		if d != nil {
			return d.agent
		}
		return ""
	}
	at := e.Time.UTC()
	rec := func(agent string) *Record {
		if agent == "" {
			return &Record{} // an event naming no agent counts for no one
		}
		r := l.records[agent]
		if r == nil {
			r = &Record{Agent: agent}
			l.records[agent] = r
		}
		r.Updated = at
		return r
	}

	switch e.Type {
	case orchestrator.EventRunFinished:
		delete(l.runs, e.Run)
	case orchestrator.EventGoalOffered:
		run.deleg[e.Delegation] = &delegState{agent: e.Agent}
		r := rec(e.Agent)
		r.Delegations++
		if !run.seen[e.Agent] {
			run.seen[e.Agent] = true
			r.Runs++
			r.LastRun = e.Run
		}
	case orchestrator.EventGoalAccepted:
		if e.Round > 1 {
			rec(e.Agent).Reacceptances++
		}
	case orchestrator.EventAlignmentJudged:
		if e.Round == 1 && e.Aligned != nil && *e.Aligned {
			rec(delegate()).AlignedFirstTry++
		}
	case orchestrator.EventGoalDeclined:
		rec(e.Agent).Declines++
	case orchestrator.EventProtocolViolation:
		rec(cmp.Or(delegate(), e.Agent)).Violations++
	case orchestrator.EventEscalationRaised, orchestrator.EventClarificationAsked:
		// One passed up (Via set) is its delegate's question, not the
		// agent's own uncertainty.
		if x := e.Escalation; x != nil && len(x.Via) == 0 && x.Origin == "" && d != nil {
			rec(d.agent).Escalations++
			if x.Blocking {
				run.esc[e.ID] = e.Delegation
			}
		}
	case orchestrator.EventEscalationResolved:
		if id, ok := run.esc[e.ID]; ok {
			delete(run.esc, e.ID)
			if ds := run.deleg[id]; ds != nil && e.Resolution != nil && !e.Resolution.Refused {
				ds.answered++
			}
		}
	case orchestrator.EventReportVerified:
		if v := e.Verification; v != nil && (v.Verdict == agents.VerdictRevise || v.Verdict == agents.VerdictReject) {
			rec(delegate()).RejectedReports++
		}
	case orchestrator.EventGoalCompleted:
		r := rec(e.Agent)
		r.VerifiedCompletions++
		if d != nil {
			r.HelpfulEscalations += d.answered
			d.answered = 0
		}
	case orchestrator.EventGoalFailed:
		r := rec(e.Agent)
		// Cancellation and the caller's deadline are not the agent's doing.
		if e.Cause == orchestrator.CauseCancelled || e.Cause == orchestrator.CauseDeadline {
			r.Cancelled++
		} else {
			r.Failures++
		}
	}
	return nil
}
