package orchestrator_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
)

// writes counts the writes a journal makes and keeps what they wrote.
type writes struct {
	n   int
	buf bytes.Buffer
}

func (w *writes) Write(p []byte) (int, error) {
	w.n++
	return w.buf.Write(p)
}

// writtenModel is a model that notes each call made before every event
// emitted so far was on the writer.
type writtenModel struct {
	model.Model
	w         *writes
	mem       *orchestrator.Memory
	unwritten []int
}

func (m *writtenModel) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	if n := bytes.Count(m.w.buf.Bytes(), []byte("\n")); n != len(m.mem.Events()) {
		m.unwritten = append(m.unwritten, len(m.mem.Events()))
	}
	return m.Model.Generate(ctx, req)
}

// A journal commits in groups by default, once its run commits through it:
// it writes at the run's commit points only — yet every event is written
// before each model call (whose record a resumed run must not make again)
// and each action tool's run (its tool.called: a resumed run knows it was
// attempted), and every line by the time Run returns. Per event, or in
// groups from the start, when told.
func TestJournalGroupCommit(t *testing.T) {
	g := noteGoal
	const steps = 6
	turns := []model.Turn{turn(accept(g))}
	for i := range steps {
		c := call("note", map[string]string{"text": strconv.Itoa(i)})
		c.ID = "note_" + strconv.Itoa(i)
		turns = append(turns, turn(c))
	}
	turns = append(turns, turn(model.Call(agents.ToolCompleteGoal, agents.Report{Result: "done",
		Criteria:    []agents.CriterionResult{{Criterion: g.Criteria[0], Met: true, Evidence: "written by note_0"}},
		Constraints: []agents.ConstraintResult{{Constraint: g.Constraints[0], Respected: true}}})))
	for _, mode := range []string{"per event", "group", "default"} {
		group := mode != "per event"
		w := &writes{}
		j := orchestrator.NewJournal(w)
		if mode != "default" {
			j.SetGroupCommit(group)
		}
		var unwritten []string
		note, err := agents.NewTool("note", "notes", func(_ context.Context, in struct {
			Text string `json:"text"`
		}) (string, error) {
			// The call being made is on the writer already.
			lines := strings.Split(strings.TrimSpace(w.buf.String()), "\n")
			if last := lines[len(lines)-1]; !strings.Contains(last, `"type":"tool.called"`) || !strings.Contains(last, `"text":"`+in.Text+`"`) {
				unwritten = append(unwritten, in.Text)
			}
			return "ok", nil
		})
		if err != nil {
			t.Fatal(err)
		}
		note = acts(note)
		mem := &orchestrator.Memory{}
		m := &writtenModel{Model: model.NewScripted("m", turns...), w: w, mem: mem}
		rt, _ := newRuntime(t, solo(m, note), &orchestrator.Options{Sinks: []orchestrator.Sink{j, mem}})
		if _, err := rt.Run(t.Context(), g); err != nil {
			t.Fatalf("%v\n%s", err, types(mem.Events()))
		}
		if len(m.unwritten) > 0 {
			t.Errorf("%s: model calls made before all events were written, after %v events", mode, m.unwritten)
		}
		events, torn, err := orchestrator.ReadJournal(bytes.NewReader(w.buf.Bytes()))
		if err != nil || torn || len(events) != len(mem.Events()) {
			t.Fatalf("%s: %d events written of %d (torn %v, %v)", mode, len(events), len(mem.Events()), torn, err)
		}
		if len(unwritten) > 0 {
			t.Errorf("%s: note ran before its tool.called was written: %v", mode, unwritten)
		}
		// One write an event, or one before each effect: two an action
		// step (its model call and its tool), and a few for the run's
		// decisions and ends.
		if group && w.n > 2*steps+8 || !group && w.n != len(events) {
			t.Errorf("%s: %d writes for %d events", mode, w.n, len(events))
		}
	}
	// A journal no run commits through writes each line as it comes.
	w := &writes{}
	j := orchestrator.NewJournal(w)
	for i := range 3 {
		if err := j.Emit(t.Context(), &orchestrator.Event{Seq: int64(i + 1), Type: orchestrator.EventModelCalled}); err != nil {
			t.Fatal(err)
		}
	}
	if w.n != 3 {
		t.Errorf("a journal no run commits through: %d writes for 3 events", w.n)
	}
}

// downModel fails every call with a server error.
type downModel struct{ name string }

func (m downModel) Name() string { return m.name }
func (m downModel) Generate(context.Context, *model.Request) (*model.Response, error) {
	return nil, &model.APIError{StatusCode: 503, Message: "overloaded"}
}

// An agent whose model fails over: each call of the failing primary goes to
// the healthy fallback, the journal records the switch (model.failover) and
// names the fallback on model.called, and the run completes with the same
// protocol guarantees.
func TestModelFailover(t *testing.T) {
	g := noteGoal
	healthy := model.NewScripted("healthy", turn(accept(g)), turn(withID("n1", call("note", map[string]string{"text": "x"}))), turn(complete(g, "noted", "n1")))
	rec := newRecorder(t, "note")
	rt, mem := newRuntime(t, solo(model.WithFallback(downModel{"primary"}, healthy), rec.tool), &orchestrator.Options{SupervisionFor: orchestrator.StructuralOnly})
	out, err := rt.Run(t.Context(), g)
	if err != nil || out.Status != orchestrator.StatusCompleted {
		t.Fatalf("Run: %v %+v\n%s", err, out, types(mem.Events()))
	}
	fos := ofType(mem.Events(), orchestrator.EventModelFailover)
	calls := ofType(mem.Events(), orchestrator.EventModelCalled)
	if len(fos) != len(calls) || len(fos) == 0 {
		t.Fatalf("%d failovers for %d calls:\n%s", len(fos), len(calls), types(mem.Events()))
	}
	for i, e := range fos {
		if e.Model != "primary" || e.Fallback != "healthy" || !strings.Contains(e.Error, "503") || e.Turn != calls[i].Turn {
			t.Errorf("failover %s", mustJSON(e))
		}
	}
	for _, e := range calls {
		if e.Model != "healthy" || e.Error != "" {
			t.Errorf("model.called %s", mustJSON(e))
		}
	}
	protocoltest.CheckJournal(t, mem.Events())
}

// failingAt is a writer that fails every write from the first that holds
// all its marks on (a full disk, EIO).
type failingAt struct {
	marks  []string
	failed bool
}

func (w *failingAt) Write(p []byte) (int, error) {
	if !w.failed {
		w.failed = true
		for _, m := range w.marks {
			w.failed = w.failed && bytes.Contains(p, []byte(m))
		}
	}
	if w.failed {
		w.failed = true
		return 0, errors.New("no space left on device")
	}
	return len(p), nil
}

// Write-ahead fails closed: when the journal cannot write what precedes an
// effect, the effect is not made — the action tool does not run, the model
// is not called again — and the run ends with the journal's error.
func TestJournalWriteFailureStopsEffects(t *testing.T) {
	g := agents.Goal{Objective: "note it"}
	for _, mode := range []string{"group", "per event"} {
		rec := newRecorder(t, "note")
		w := &failingAt{marks: []string{`"type":"tool.called"`, `"tool":"note"`}}
		j := orchestrator.NewJournal(w)
		j.SetGroupCommit(mode == "group")
		m := model.NewScripted("m", turn(accept(g)), turn(call("note", map[string]string{"text": "hello"})), turn(complete(g, "noted")))
		rt, mem := newRuntime(t, solo(m, rec.tool), &orchestrator.Options{SupervisionFor: orchestrator.StructuralOnly,
			Sinks: []orchestrator.Sink{j}})
		out, err := rt.Run(t.Context(), g)
		if !errors.Is(err, orchestrator.ErrJournalWrite) {
			t.Errorf("%s: run error %v, want one matching ErrJournalWrite", mode, err)
		}
		if n := rec.runs.Load(); n != 0 {
			t.Errorf("%s: the tool ran %d times after its tool.called could not be written", mode, n)
		}
		if out == nil || out.Status != orchestrator.StatusFailed || !strings.Contains(out.Reason, "the journal could not be written") {
			t.Errorf("%s: outcome %+v, want the run failed for its journal", mode, out)
		}
		if n := m.Calls(); n != 2 {
			t.Errorf("%s: %d model calls, want 2 (none after the failed write)", mode, n)
		}
		if fin := ofType(mem.Events(), orchestrator.EventRunFinished); len(fin) != 1 {
			t.Errorf("%s: %d run.finished events (%s)", mode, len(fin), types(mem.Events()))
		}
	}
}
