package trust

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// Ledger holds a Record per agent and model. It is an orchestrator.Sink that
// updates the records as a run's events arrive, and its SupervisionForModel
// sets each delegation's supervision from them. Save writes it back to its
// file, merged with what other processes saved meanwhile. A Ledger is safe
// for concurrent use, by many runs at once.
type Ledger struct {
	path string

	saveMu sync.Mutex // serialises Save, so an older snapshot never lands last

	mu      sync.Mutex
	policy  Policy
	records map[key]*Record
	base    map[key]Record // the records as last read or saved, for merging
	runs    map[string]*runState
}

// key identifies a record: an agent on a model.
type key struct{ agent, model string }

// runState is what a run's events need to be attributed: the delegate of
// each delegation (alignment.judged and report.verified name the delegator as
// their agent) and the escalations open in it.
type runState struct {
	deleg map[string]*delegState
	esc   map[string]string // blocking escalation id → delegation id
	seen  map[string]bool   // agents counted in Runs
}

type delegState struct {
	// model is the one whose turn came last: the agent's own at the offer,
	// a fallback once it answered a turn (model.WithFallback), so that
	// what the agent does next is counted on the model that produced it.
	agent, model string
	answered     int  // own blocking escalations answered, not refused
	excused      bool // its last acceptance failed for no fault of its own
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
	l := &Ledger{path: path, policy: DefaultPolicy(), runs: map[string]*runState{}}
	l.reset(recs)
	return l, nil
}

// reset makes recs the ledger's records and its base.
func (l *Ledger) reset(recs []Record) {
	l.records, l.base = map[key]*Record{}, map[key]Record{}
	for i := range recs {
		k := key{recs[i].Agent, recs[i].Model}
		l.records[k] = &recs[i]
		l.base[k] = recs[i]
	}
}

// Path returns the file the ledger is saved to.
func (l *Ledger) Path() string { return l.path }

// SetPolicy replaces the policy SupervisionFor applies.
func (l *Ledger) SetPolicy(p Policy) {
	l.mu.Lock()
	l.policy = p
	l.mu.Unlock()
}

// SupervisionForModel returns the supervision the record of agent on model
// sets, under the ledger's policy; with no record, the new level's. Its
// signature fits orchestrator.Options.SupervisionForModel, which the runtime
// calls with orchestrator.ModelID.
func (l *Ledger) SupervisionForModel(agent, model string) orchestrator.Supervision {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.policy.Supervision(l.records[key{agent, model}])
}

// SupervisionFor returns the supervision of the agent's least trusted record,
// whatever its model (new when it has none). Prefer SupervisionForModel:
// trust earned on one model says nothing of another.
func (l *Ledger) SupervisionFor(agent string) orchestrator.Supervision {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.policy.Supervision(l.least(agent))
}

// least returns the agent's record with the lowest mean, or nil.
func (l *Ledger) least(agent string) *Record {
	var worst *Record
	lowest := 2.0
	for k, r := range l.records {
		if m, _ := r.Score(); k.agent == agent && m < lowest {
			worst, lowest = r, m
		}
	}
	return worst
}

// Score returns the mean and standard deviation of the agent's least trusted
// record, whatever its model; an agent without a record has the prior's.
func (l *Ledger) Score(agent string) (mean, sd float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.least(agent).Score()
}

// Record returns a copy of the record of agent on model.
func (l *Ledger) Record(agent, model string) (Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.records[key{agent, model}]
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
	slices.SortFunc(out, func(a, b Record) int { return cmp.Or(cmp.Compare(a.Agent, b.Agent), cmp.Compare(a.Model, b.Model)) })
	return out
}

// Emit updates the records from one event. It never fails.
func (l *Ledger) Emit(_ context.Context, e *orchestrator.Event) error {
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
	// rec is agent's record on the model of e's delegation when agent is
	// its delegate (every use below), else on no model.
	rec := func(agent string) *Record {
		if agent == "" {
			return &Record{} // an event naming no agent counts for no one
		}
		k := key{agent: agent}
		if d != nil && d.agent == agent {
			k.model = d.model
		}
		r := l.records[k]
		if r == nil {
			r = &Record{Agent: agent, Model: k.model}
			l.records[k] = r
		}
		r.Updated = at
		return r
	}

	// taken counts a delegation taken on by d's agent on d's model, and the
	// run the first time the two meet in it.
	taken := func() {
		r := rec(d.agent)
		r.Delegations++
		if seen := d.agent + "\x00" + d.model; !run.seen[seen] {
			run.seen[seen] = true
			r.Runs++
			r.LastRun = e.Run
		}
	}

	switch e.Type {
	case orchestrator.EventRunFinished:
		delete(l.runs, e.Run)
	case orchestrator.EventGoalOffered:
		d = &delegState{agent: e.Agent, model: modelKey(e)}
		run.deleg[e.Delegation] = d
		taken()
	case orchestrator.EventModelCalled:
		// A turn answered by a fallback: what follows is its doing.
		if m := modelKey(e); d != nil && e.Agent == d.agent && e.Purpose == model.PurposeTurn && e.Error == "" && m != "" && m != d.model {
			d.model = m
			taken()
		}
	case orchestrator.EventGoalAccepted:
		switch {
		case d != nil && d.excused:
			d.excused = false
		case e.Round > 1:
			rec(e.Agent).Reacceptances++
		}
	case orchestrator.EventAlignmentJudged:
		if e.Round == 1 && e.Aligned != nil && *e.Aligned {
			rec(delegate()).AlignedFirstTry++
		}
		// Not the agent's doing: its delegator could not judge, or the
		// user corrected the root acceptance.
		if al := e.Alignment; d != nil && al != nil && !al.Aligned {
			d.excused = al.Unjudged || (e.Parent == "" && al.By == "user")
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
		if v := e.Verification; v != nil && !v.Unjudged && (v.Verdict == agents.VerdictRevise || v.Verdict == agents.VerdictReject) {
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
		// Cancellation, the caller's deadline and the infrastructure's
		// failures are not the agent's doing.
		switch e.Cause {
		case orchestrator.CauseCancelled, orchestrator.CauseDeadline:
			r.Cancelled++
		case orchestrator.CauseProvider, orchestrator.CauseInternal:
			r.InfraFailures++
		default:
			r.Failures++
		}
	}
	return nil
}

// modelKey names the model of e (goal.offered, model.called) as records
// are keyed: provider/model, like orchestrator.ModelID.
func modelKey(e *orchestrator.Event) string {
	if e.Provider != "" && e.Model != "" {
		return e.Provider + "/" + e.Model
	}
	return e.Model
}
