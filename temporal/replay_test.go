package temporal_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"
)

// record has TestReplay record the histories it replays again, from the
// workflows as they are now: go test -run TestReplay -record. Do it only
// for a new version of the workflows, keeping the older files (see
// "Changing the workflows" in DESIGN.md): it refuses while a scenario's
// current files are there, until they are renamed to an older version's.
var record = flag.Bool("record", false, "record testdata/replay's histories again from the current workflows")

// replayDir holds the recorded histories: one file per workflow of a run's
// tree, <scenario>.json for the run's workflow (its id replay-<scenario>)
// and <scenario>.<delegation>.json for a delegation's (its id
// replay-<scenario>/<delegation>). Histories of an older version of the
// workflows are kept as <scenario>@<version>[.<delegation>].json.
const replayDir = "testdata/replay"

// replayScenarios are the runs whose histories are recorded: between them,
// every update, query and activity of the workflows is used.
var replayScenarios = map[string]func(t *testing.T) (client.Client, *entrusttemporal.Run){
	// A lead → writer run whose questions are the client's.
	"client": func(t *testing.T) (client.Client, *entrusttemporal.Run) {
		ts, q := newServer(t)
		startWorker(t, ts, q, &entrusttemporal.Worker{Team: leadWriter(t, t.TempDir(), &counts{})})
		r, err := entrusttemporal.Start(t.Context(), ts.GetDefaultClient(), guideGoal(), entrusttemporal.StartOptions{TaskQueue: q,
			AskClient: true, ID: "replay-client"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Follow(t.Context(), entrusttemporal.FollowOptions{Principal: orchestrator.AutoPrincipal{},
			Every: 20 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		return ts.GetDefaultClient(), r
	},
	// A lead → writer run whose questions are the worker's Principal's (a
	// person's, say: asked by an activity).
	"worker": func(t *testing.T) (client.Client, *entrusttemporal.Run) {
		ts, q := newServer(t)
		person := orchestrator.PrincipalFuncs{Judge: func(context.Context, *agents.Goal, string, *agents.Acceptance) (agents.Alignment, error) {
			return agents.Alignment{Aligned: true, By: agents.ByUser}, nil
		}}
		startWorker(t, ts, q, &entrusttemporal.Worker{Team: leadWriter(t, t.TempDir(), &counts{}),
			Options: &orchestrator.Options{Principal: person}})
		r, err := entrusttemporal.Start(t.Context(), ts.GetDefaultClient(), guideGoal(), entrusttemporal.StartOptions{TaskQueue: q,
			ID: "replay-worker"})
		if err != nil {
			t.Fatal(err)
		}
		completed(t, r)
		return ts.GetDefaultClient(), r
	},
}

// TestReplay replays the recorded histories of every workflow of a run's
// tree with the workflows as they are now: a change to the workflows' code
// that would break a run in flight (a non-deterministic change) fails it.
func TestReplay(t *testing.T) {
	if *record {
		for name, run := range replayScenarios {
			t.Run("record "+name, func(t *testing.T) { recordRun(t, name, run) }) // a task queue of its own
		}
	}
	files, err := filepath.Glob(filepath.Join(replayDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded history in %s (%v): go test -run TestReplay -record", replayDir, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := replay(t, f, nil); err != nil {
				t.Errorf("the workflows as they are now do not replay %s: %v", f, err)
			}
		})
	}
}

// TestReplayCatchesAChange checks TestReplay's teeth, and the way to change
// the workflows: a run's workflow that starts with a timer it did not have
// when the history was recorded does not replay it; the same change behind
// workflow.GetVersion does.
func TestReplayCatchesAChange(t *testing.T) {
	f := filepath.Join(replayDir, "client.json")
	changed := func(ctx workflow.Context, in entrusttemporal.RunInput) (*entrusttemporal.RunResult, error) {
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return nil, err
		}
		return entrusttemporal.RunWorkflow(ctx, in)
	}
	if err := replay(t, f, changed); err == nil {
		t.Errorf("a run's workflow with a new timer replays %s", f)
	}
	versioned := func(ctx workflow.Context, in entrusttemporal.RunInput) (*entrusttemporal.RunResult, error) {
		if workflow.GetVersion(ctx, "test-timer-first", workflow.DefaultVersion, 1) == 1 {
			if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
				return nil, err
			}
		}
		return entrusttemporal.RunWorkflow(ctx, in)
	}
	if err := replay(t, f, versioned); err != nil {
		t.Errorf("the same change behind workflow.GetVersion does not replay %s: %v", f, err)
	}
}

// replay replays the history in file with the workflows, the run's
// replaced by run when it is not nil.
func replay(t *testing.T, file string, run func(workflow.Context, entrusttemporal.RunInput) (*entrusttemporal.RunResult, error)) error {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := client.HistoryFromJSON(bytes.NewReader(b), client.HistoryJSONOptions{})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	rp := worker.NewWorkflowReplayer()
	if run == nil {
		run = entrusttemporal.RunWorkflow
	}
	rp.RegisterWorkflowWithOptions(run, workflow.RegisterOptions{Name: entrusttemporal.WorkflowName})
	rp.RegisterWorkflowWithOptions(entrusttemporal.DelegationWorkflow, workflow.RegisterOptions{Name: entrusttemporal.DelegationWorkflowName})
	// The workflow's id names its children's: it is the recorded one.
	scenario, delegation, _ := strings.Cut(strings.TrimSuffix(filepath.Base(file), ".json"), ".")
	scenario, _, _ = strings.Cut(scenario, "@")
	id := "replay-" + scenario
	if delegation != "" {
		id = entrusttemporal.DelegationWorkflowID(id, delegation)
	}
	return rp.ReplayWorkflowHistoryWithOptions(nil, h, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: id, RunID: "recorded"}})
}

// recordRun runs scenario name and writes the history of each workflow of
// its tree to replayDir.
func recordRun(t *testing.T, name string, run func(t *testing.T) (client.Client, *entrusttemporal.Run)) {
	t.Helper()
	// Never over the current histories: they are the ones that catch a
	// change that breaks the runs recorded with them.
	if err := mayRecord(replayDir, name); err != nil {
		t.Fatal(err)
	}
	c, r := run(t)
	events, err := r.Events(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID() != "replay-"+name {
		t.Fatalf("scenario %s ran workflow %s, want replay-%[1]s", name, r.ID())
	}
	workflows := map[string]string{r.ID(): name + ".json"}
	for _, e := range events {
		if e.Type == orchestrator.EventGoalOffered && e.Parent != "" {
			workflows[entrusttemporal.DelegationWorkflowID(r.ID(), e.Delegation)] = name + "." + e.Delegation + ".json"
		}
	}
	if err := os.MkdirAll(replayDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for id, file := range workflows {
		var h historypb.History
		it := c.GetWorkflowHistory(t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			h.Events = append(h.Events, e)
		}
		b, err := protojson.MarshalOptions{Multiline: true, Indent: " "}.Marshal(&h)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(string(b), "\n") {
			b = append(b, '\n')
		}
		if err := writeNew(filepath.Join(replayDir, file), b); err != nil {
			t.Fatal(err)
		}
	}
}

// mayRecord says why scenario name's histories may not be recorded in dir:
// the current ones (<name>.json, <name>.<delegation>.json) are there, to be
// renamed to <name>@<version>….json first, so that they go on being
// replayed.
func mayRecord(dir, name string) error {
	for _, pattern := range []string{name + ".json", name + ".*.json"} {
		held, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return err
		}
		if len(held) > 0 {
			return fmt.Errorf("%s holds the recorded histories of %s (%s): rename them to %s@<version>….json first (DESIGN.md, Changing the workflows), so they go on being replayed, then record",
				dir, name, strings.Join(held, ", "), name)
		}
	}
	return nil
}

// writeNew writes b to a new file path, never over one.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// TestRecordKeepsTheHistories: -record refuses to record a scenario whose
// current histories are there (it would replace the ones that catch a
// breaking change), and records it once they are renamed to an older
// version's.
func TestRecordKeepsTheHistories(t *testing.T) {
	dir := t.TempDir()
	if err := mayRecord(dir, "client"); err != nil {
		t.Fatalf("an empty directory: %v", err)
	}
	for _, held := range []string{"client.json", "client.d2.json"} {
		if err := os.WriteFile(filepath.Join(dir, held), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := mayRecord(dir, "client")
		if err == nil || !strings.Contains(err.Error(), held) {
			t.Errorf("with %s there: %v, want a refusal naming it", held, err)
		}
		if err := os.Rename(filepath.Join(dir, held), filepath.Join(dir, strings.Replace(held, "client", "client@v1", 1))); err != nil {
			t.Fatal(err)
		}
	}
	if err := mayRecord(dir, "client"); err != nil {
		t.Errorf("with the histories renamed to an older version's: %v", err)
	}
	if err := mayRecord(dir, "worker"); err != nil {
		t.Errorf("another scenario: %v", err)
	}
	if err := writeNew(filepath.Join(dir, "client@v1.json"), []byte("{}")); err == nil {
		t.Error("writeNew wrote over a file")
	}
}
