package temporal

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/entrust-dev/entrust/orchestrator"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// tree is the orchestrator's map of its run's tree of workflows: whose
// child each delegation is, and which delegations' workflows are open. The
// lead's delegation (and the run itself) is the root's; the events and
// effects of a delegation whose workflow has ended (a goal.reassigned after
// its end) go to its nearest open ancestor's.
type tree struct {
	root   string
	mu     sync.Mutex
	parent map[string]string
	open   map[string]bool
	done   map[string]bool
}

func newTree(root string) tree {
	return tree{root: root, parent: map[string]string{}, open: map[string]bool{}, done: map[string]bool{}}
}

// see learns from e, the next event of the run: the delegation it is of,
// and whether that delegation's workflow is to be started before it, or
// ended after it.
func (t *tree) see(e *orchestrator.Event) (d string, start, end bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d = e.Delegation
	if d == "" {
		return d, false, false
	}
	if e.Parent != "" && t.parent[d] == "" {
		t.parent[d] = e.Parent
	}
	if t.parent[d] == "" {
		return d, false, false // the lead's: the root
	}
	return d, e.Type == orchestrator.EventGoalOffered && !t.open[d] && !t.done[d], e.Type.Terminal() && !t.done[d]
}

// learn learns the tree of a journal: every delegation in it has its
// workflow started, and those that ended have theirs ended.
func (t *tree) learn(journal []*orchestrator.Event) {
	for _, e := range journal {
		d, start, end := t.see(e)
		if start {
			t.started(d)
		}
		if end {
			t.ended(d)
		}
	}
}

func (t *tree) started(d string) {
	t.mu.Lock()
	t.open[d] = true
	t.mu.Unlock()
}

func (t *tree) ended(d string) {
	t.mu.Lock()
	t.open[d] = false
	t.done[d] = true
	t.mu.Unlock()
}

func (t *tree) isDone(d string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done[d]
}

func (t *tree) parentOf(d string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.parent[d]
}

// workflowOf returns the workflow id that holds delegation d's effects and
// events.
func (t *tree) workflowOf(d string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for d != "" && t.parent[d] != "" {
		if t.open[d] {
			return DelegationWorkflowID(t.root, d)
		}
		d = t.parent[d]
	}
	return t.root
}

// takeOver has a new attempt of the orchestrator speak to every open
// workflow of the run's tree, from the root down (a level at a time, the
// workflows of a level at once), so that none takes an update of an older
// attempt any more: the journal read next is then the whole of what they
// did. A workflow's children are listed once it has heard the new attempt
// and they have started, so none started by an older attempt is missed and
// each listed is found (one not found has closed since). It returns the
// open workflows.
func (f *effects) takeOver(ctx context.Context) (map[string]bool, error) {
	open := map[string]bool{}
	level := []string{f.root}
	for len(level) > 0 {
		var mu sync.Mutex
		var next []string
		errs := make([]error, len(level))
		var wg sync.WaitGroup
		for i, wf := range level {
			wg.Go(func() {
				var children []childInfo
				err := f.call(ctx, wf, attemptUpdate, "attempt", f.attempt, &children)
				if err != nil && wf != f.root && closed(err) {
					return
				}
				if err != nil {
					errs[i] = err
					return
				}
				mu.Lock()
				defer mu.Unlock()
				open[wf] = true
				for _, c := range children {
					if !c.Done {
						next = append(next, c.Workflow)
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		level = next
	}
	return open, nil
}

// endEnded ends the open workflows of delegations that the journal says
// ended (an attempt lost between the two).
func (f *effects) endEnded(ctx context.Context, open map[string]bool) error {
	for wf := range open {
		d, ok := strings.CutPrefix(wf, f.root+"/")
		if ok && f.tree.isDone(d) {
			if err := f.end(ctx, d, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// closed reports whether err says the workflow is closed (or was never
// started).
func closed(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// journalReader reads a run's journal from its tree of workflows: each
// workflow's events from where the last read left off, merged in order.
type journalReader struct {
	c             client.Client
	root, rootRun string
	wfs           []*cursor
	seen          map[string]bool
	held          []*orchestrator.Event
	next          int64
	// questions are the questions waiting at the last read, and where.
	questions []*Question
	where     map[string]string
}

type cursor struct {
	wf   string
	from int
	done bool
}

func newJournalReader(c client.Client, root, rootRun string) *journalReader {
	return &journalReader{c: c, root: root, rootRun: rootRun, wfs: []*cursor{{wf: root}}, seen: map[string]bool{root: true},
		next: 1, where: map[string]string{}}
}

// read returns the run's events that follow those it returned before, in
// order, up to the first not yet known; all of them once the run has
// ended. With noEvents it reads the waiting questions only.
func (r *journalReader) read(ctx context.Context, noEvents bool) ([]*orchestrator.Event, error) {
	r.questions = nil
	ended := false
	for i := 0; i < len(r.wfs); i++ {
		c := r.wfs[i]
		if c.done {
			continue
		}
		run, from := "", c.from
		if c.wf == r.root {
			run = r.rootRun
		}
		if noEvents {
			from = math.MaxInt32
		}
		v, err := r.c.QueryWorkflow(ctx, c.wf, run, snapshotQuery, from)
		if err != nil {
			return nil, err
		}
		var s snapshot
		if err := v.Get(&s); err != nil {
			return nil, err
		}
		if !noEvents {
			c.from += len(s.Events)
			r.held = append(r.held, s.Events...)
			c.done = s.Done
		}
		if c.wf == r.root {
			ended = s.Done
		}
		for _, ch := range s.Children {
			if !r.seen[ch.Workflow] {
				r.seen[ch.Workflow] = true
				r.wfs = append(r.wfs, &cursor{wf: ch.Workflow})
			}
		}
		for _, q := range s.Questions {
			r.where[q.ID] = c.wf
		}
		r.questions = append(r.questions, s.Questions...)
	}
	slices.SortStableFunc(r.held, func(a, b *orchestrator.Event) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	var out []*orchestrator.Event
	n := 0
	for _, e := range r.held {
		switch {
		case e.Seq < r.next:
			// held twice
		case e.Seq == r.next || ended:
			out = append(out, e)
			r.next = e.Seq + 1
		default: // after a gap: waits for the next read
			r.held[n] = e
			n++
		}
	}
	r.held = r.held[:n]
	return out, nil
}
