package orchestrator_test

import (
	"bytes"
	"context"
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

// With group commit the journal writes at its commit points only — yet
// every action tool's tool.called is written before the tool runs, and every
// line is written by the time Run returns.
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
	for _, group := range []bool{false, true} {
		w := &writes{}
		j := orchestrator.NewJournal(w)
		j.SetGroupCommit(group)
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
		rt, mem := newRuntime(t, solo(model.NewScripted("m", turns...), note), &orchestrator.Options{Sinks: []orchestrator.Sink{j}})
		if _, err := rt.Run(t.Context(), g); err != nil {
			t.Fatalf("%v\n%s", err, types(mem.Events()))
		}
		events, torn, err := orchestrator.ReadJournal(bytes.NewReader(w.buf.Bytes()))
		if err != nil || torn || len(events) != len(mem.Events()) {
			t.Fatalf("group %v: %d events written of %d (torn %v, %v)", group, len(events), len(mem.Events()), torn, err)
		}
		if len(unwritten) > 0 {
			t.Errorf("group %v: note ran before its tool.called was written: %v", group, unwritten)
		}
		// One write an event, or about one an action step.
		if group && w.n > steps+3 || !group && w.n != len(events) {
			t.Errorf("group %v: %d writes for %d events", group, w.n, len(events))
		}
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
