package evals

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/internal/regfile"
	"github.com/entrust-dev/entrust/orchestrator"
)

// Trial is one run of a scenario with one model variant: what the scorers,
// the failure-mode detectors and the registered checks look at. Everything
// they need is in the journal (Events) and the snapshot of the workspace
// (Files); Outcome is there for Go checks and is nil for a trial rebuilt
// from a journal file.
type Trial struct {
	// Scenario is the scenario that ran.
	Scenario *Scenario
	// Variant names the model variant, e.g. "sim" or "gpt-4o-mini".
	Variant string
	// Index numbers the trial within its scenario and variant, from 1.
	Index int
	// Seed is the trial's seed, derived from the run's seed, the scenario,
	// the variant and the index.
	Seed int64
	// Events is the run's journal, in order.
	Events []*orchestrator.Event
	// Outcome is the root delegation's outcome; nil when unknown.
	Outcome *orchestrator.Outcome
	// Err is the error of the run or of its setup, if any. A goal that was
	// not completed is not an error here: Events say how it ended.
	Err error
	// Errored is the infrastructure error the trial ended on, nil when
	// it measured behaviour (see InfraError).
	Errored *InfraError
	// Files is the workspace after the run: path (slash-separated,
	// relative) to content, for files up to a size bound.
	Files map[string]string
	// Duration is the trial's wall time.
	Duration time.Duration

	once sync.Once
	idx  *index
}

// index is what scorers ask of a journal, computed once.
type index struct {
	depth      map[string]int    // delegation → depth
	parent     map[string]string // delegation → parent
	agentOf    map[string]string // delegation → delegate
	offered    map[string]*orchestrator.Event
	root       string
	finished   *orchestrator.Event
	alignedSeq map[string]int64 // delegation → seq of the first aligned judgement
}

func (t *Trial) index() *index {
	t.once.Do(func() {
		x := &index{depth: map[string]int{}, parent: map[string]string{}, agentOf: map[string]string{},
			offered: map[string]*orchestrator.Event{}, alignedSeq: map[string]int64{}}
		for _, e := range t.Events {
			switch e.Type {
			case orchestrator.EventGoalOffered:
				x.depth[e.Delegation] = e.Depth
				x.parent[e.Delegation] = e.Parent
				x.agentOf[e.Delegation] = e.Agent
				x.offered[e.Delegation] = e
				if e.Parent == "" && x.root == "" {
					x.root = e.Delegation
				}
			case orchestrator.EventAlignmentJudged:
				if e.Aligned != nil && *e.Aligned {
					if _, ok := x.alignedSeq[e.Delegation]; !ok {
						x.alignedSeq[e.Delegation] = e.Seq
					}
				}
			case orchestrator.EventRunFinished:
				x.finished = e
			}
		}
		t.idx = x
	})
	return t.idx
}

// Status returns how the run ended, from its run.finished event: completed,
// declined or failed; "" when the journal has no run.finished.
func (t *Trial) Status() orchestrator.Status {
	if f := t.index().finished; f != nil {
		return f.Status
	}
	return ""
}

// Reason returns the reason the run gave for its end, if any.
func (t *Trial) Reason() string {
	if f := t.index().finished; f != nil {
		return f.Reason
	}
	return ""
}

// Root returns the id of the root delegation, "" when none was offered.
func (t *Trial) Root() string { return t.index().root }

// Goal returns the goal of delegation id, from its goal.offered event.
func (t *Trial) Goal(id string) *agents.Goal {
	if e := t.index().offered[id]; e != nil {
		return e.Goal
	}
	return nil
}

// Of returns the events of type typ, in order.
func (t *Trial) Of(typ orchestrator.EventType) []*orchestrator.Event {
	var out []*orchestrator.Event
	for _, e := range t.Events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// File returns the content of the workspace file at p (slash-separated,
// relative) after the run.
func (t *Trial) File(p string) (string, bool) { return snapshotFiles(t.Files).read(p) }

// Tree rebuilds the delegation tree from the journal (see BuildTree).
func (t *Trial) Tree() *Node { return BuildTree(t.Events) }

// Snapshot bounds: a workspace is small, but a runaway model may write a
// lot; scorers only need what expectations name.
const (
	maxSnapshotFiles = 256
	maxSnapshotBytes = 1 << 20
)

// snapshot reads the workspace at dir into a map.
func snapshot(dir string) map[string]string {
	files := map[string]string{}
	total := 0
	root, err := os.OpenRoot(dir)
	if err != nil {
		return files
	}
	defer root.Close()
	_ = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if len(files) >= maxSnapshotFiles || total >= maxSnapshotBytes {
			return fs.SkipAll
		}
		b, ok := readRegular(root, p, maxSnapshotBytes-total)
		if !ok {
			return nil
		}
		total += len(b)
		files[path.Clean(p)] = string(b)
		return nil
	})
	return files
}

// readRegular reads at most limit bytes of the regular file name of root,
// following links that stay inside it; false for anything else, which is
// never waited on (regfile): a FIFO would block the trial's verifiers.
func readRegular(root *os.Root, name string, limit int) ([]byte, bool) {
	b, err := regfile.Read(regfile.FS(root), name, int64(limit))
	return b, err == nil || errors.Is(err, regfile.ErrTooLarge)
}

// isGlob reports whether p is a pattern rather than a path.
func isGlob(p string) bool { return strings.ContainsAny(p, "*?[") }
