package evals_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/evals"
	"github.com/entrust-dev/entrust/evals/internal/trialfile"
)

func builtinScenario(t *testing.T, name string) *evals.Scenario {
	t.Helper()
	suite, err := evals.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range suite {
		if sc.Name == name {
			return sc
		}
	}
	t.Fatalf("no built-in scenario %s", name)
	return nil
}

func TestRunDirectory(t *testing.T) {
	dir := t.TempDir()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where trials make their workspaces
	suite := []*evals.Scenario{builtinScenario(t, "baseline"), builtinScenario(t, "eager")}
	var seen []string
	r, err := evals.NewRunner(&evals.RunnerOptions{Trials: 3, Parallel: 4, OutDir: dir, Seed: 7,
		OnTrial: func(rec *evals.TrialRecord) { seen = append(seen, rec.Scenario) }})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(t.Context(), suite)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 6 || rep.Summary.Trials != 6 {
		t.Fatalf("OnTrial saw %d, report has %d", len(seen), rep.Summary.Trials)
	}
	f, err := os.Open(filepath.Join(dir, "trials.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := evals.ReadTrials(f)
	if err != nil || len(recs) != 6 {
		t.Fatalf("trials.jsonl: %d records, %v", len(recs), err)
	}
	seeds := map[int64]bool{}
	for _, rec := range recs {
		seeds[rec.Seed] = true
		if want := trialfile.Seed(7, rec.Scenario, rec.Model, rec.Trial); rec.Seed != want {
			t.Errorf("%s #%d: seed %d, want %d", rec.Scenario, rec.Trial, rec.Seed, want)
		}
		if rec.Journal != "journals/"+trialfile.JournalName(rec.Scenario, rec.Model, rec.Trial) {
			t.Errorf("journal %q", rec.Journal)
		}
		// Scoring the journal file again gives the same verdicts, except
		// for those that read the workspace, which is gone.
		jf, err := os.Open(filepath.Join(dir, rec.Journal))
		if err != nil {
			t.Fatal(err)
		}
		sc := suite[0]
		if rec.Scenario == "eager" {
			sc = suite[1]
		}
		tr, err := evals.TrialFromJournal(sc, rec.Model, rec.Trial, jf)
		jf.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i, res := range evals.Score(tr, nil) {
			if res.Kind != "file" && res.Kind != "check" && res.Pass != rec.Expectations[i].Pass {
				t.Errorf("%s #%d %s: rescored %v, recorded %v", rec.Scenario, rec.Trial, res.ID, res.Pass, rec.Expectations[i].Pass)
			}
		}
		if rec.Tree == nil || rec.Tree.Size() != 2 {
			t.Errorf("%s #%d: tree %+v", rec.Scenario, rec.Trial, rec.Tree)
		}
	}
	if len(seeds) != 6 {
		t.Errorf("%d distinct seeds for 6 trials", len(seeds))
	}
	for _, name := range []string{"report.json", "report.md", "report.html"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %v", name, err)
		}
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, banned := range []string{"<script", "http://", "https://", "@import"} {
		if strings.Contains(string(html), banned) {
			t.Errorf("report.html is not self-contained: it has %q", banned)
		}
	}
	back, err := evals.ReadReport(dir)
	if err != nil || back.Summary.Trials != 6 || back.SchemaVersion != evals.SchemaVersion {
		t.Fatalf("ReadReport: %v %+v", err, back)
	}
	// No workspace is left behind.
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("%d workspaces left behind, e.g. %s", len(left), left[0].Name())
	}
}

// TestReportSchema pins the names report.json is documented with (REPORT.md):
// renaming one is a schema change.
func TestReportSchema(t *testing.T) {
	r, err := evals.NewRunner(&evals.RunnerOptions{Trials: 2})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(t.Context(), []*evals.Scenario{builtinScenario(t, "drifter")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"":          {"schema_version", "generator", "run", "summary", "models", "scenarios", "modes", "trials"},
		"run":       {"started", "finished", "trials", "parallel", "seed", "timeout_ms", "min_pass", "models"},
		"summary":   {"trials", "trials_passed", "expectations", "expectations_passed", "pass_rate", "pass_at_1", "pass_hat_k", "pass_at_k", "ask", "violations", "errors", "timed_out", "usage", "duration_p50_ms", "duration_p95_ms"},
		"models":    {"model", "trials", "pass_rate", "pass_hat_k", "ask"},
		"scenarios": {"scenario", "model", "trials", "passed", "pass_at_1", "pass_hat_k", "pass_at_k", "statuses", "expectations", "incidents", "caught", "asked", "violations", "usage", "mean_tokens", "mean_duration_ms"},
		"modes":     {"id", "name", "model", "trials", "trials_with", "incidents", "caught", "catch_rate"},
		"trials":    {"scenario", "model", "trial", "seed", "pass", "status", "expectations", "incidents", "asked", "violations", "usage", "duration_ms", "start", "tree"},
	}
	for section, keys := range want {
		obj := doc
		if section != "" {
			switch v := doc[section].(type) {
			case map[string]any:
				obj = v
			case []any:
				obj = v[0].(map[string]any)
			}
		}
		for _, k := range keys {
			if _, ok := obj[k]; !ok {
				t.Errorf("report.json %s lacks %q", section, k)
			}
		}
	}
	usage := doc["summary"].(map[string]any)["usage"].(map[string]any)
	for _, k := range []string{"prompt_tokens", "completion_tokens", "total_tokens", "model_calls", "steps", "latency_ms"} {
		if _, ok := usage[k]; !ok {
			t.Errorf("usage lacks %q", k)
		}
	}
	if doc["schema_version"].(float64) != 1 {
		t.Errorf("schema_version %v", doc["schema_version"])
	}
}

func TestTrialTimeout(t *testing.T) {
	sc := builtinScenario(t, "baseline")
	slow := evals.Variant{Name: "slow", Model: func(a evals.AgentInfo) (model.Model, error) {
		return model.Func(func(ctx context.Context, req *model.Request) (*model.Response, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}), nil
	}}
	r, err := evals.NewRunner(&evals.RunnerOptions{Variants: []evals.Variant{slow}, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rep, err := r.Run(t.Context(), []*evals.Scenario{sc})
	if err != nil {
		t.Fatal(err)
	}
	rec := rep.Trials[0]
	if !rec.TimedOut || rec.Pass || rec.Status != "failed" || time.Since(start) > 5*time.Second {
		t.Fatalf("record %+v", rec)
	}
	if rep.Summary.TimedOut != 1 {
		t.Errorf("summary timed out %d", rep.Summary.TimedOut)
	}
}

func TestRunCancelled(t *testing.T) {
	sc := builtinScenario(t, "baseline")
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	r, err := evals.NewRunner(&evals.RunnerOptions{Trials: 50, Parallel: 1, OnTrial: func(*evals.TrialRecord) {
		if n++; n == 3 {
			cancel()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(ctx, []*evals.Scenario{sc})
	if err == nil || rep == nil || !rep.Run.Interrupted || rep.Summary.Trials >= 50 || rep.Summary.Trials < 3 {
		t.Fatalf("err %v, report %+v", err, rep)
	}
}

func TestSetupErrorFailsEveryExpectation(t *testing.T) {
	sc, err := evals.ParseScenario("x.yaml", []byte(strings.Replace(validScenario, "model: sim", "model: gpt-4o-mini", 1)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := evals.NewRunner(nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(t.Context(), []*evals.Scenario{sc})
	if err != nil {
		t.Fatal(err)
	}
	rec := rep.Trials[0]
	if rec.Pass || rec.Error == "" || len(rec.Expectations) != 1 || !strings.HasPrefix(rec.Expectations[0].Detail, "not run") {
		t.Fatalf("record %+v", rec)
	}
	if rep.Summary.PassRate != 0 || rep.Summary.Errors != 1 {
		t.Errorf("summary %+v", rep.Summary)
	}
}

func TestValidateChecks(t *testing.T) {
	sc := builtinScenario(t, "unverifying-delegator")
	r, _ := evals.NewRunner(&evals.RunnerOptions{Checks: evals.NewChecks()})
	if err := r.Validate([]*evals.Scenario{sc}); err == nil || !strings.Contains(err.Error(), "completed_only_after_verification") {
		t.Fatalf("an unregistered check validates: %v", err)
	}
	if _, err := r.Run(t.Context(), []*evals.Scenario{sc}); err == nil {
		t.Fatal("Run ran a suite with an unregistered check")
	}
	c := evals.BuiltinChecks()
	if err := c.Register("completed_only_after_verification", func(*evals.Trial) error { return nil }); err == nil {
		t.Error("a check registered twice")
	}
	r, _ = evals.NewRunner(&evals.RunnerOptions{Checks: c})
	if err := r.Validate([]*evals.Scenario{sc, sc}); err == nil || !strings.Contains(err.Error(), "two scenarios") {
		t.Errorf("duplicate names validate: %v", err)
	}
}

func TestKeepWorkspaces(t *testing.T) {
	dir := t.TempDir()
	r, _ := evals.NewRunner(&evals.RunnerOptions{OutDir: dir, KeepWorkspaces: true})
	if _, err := r.Run(t.Context(), []*evals.Scenario{builtinScenario(t, "baseline")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "workspaces", "baseline-sim-1", "write-a-welcome-note.md")); err != nil {
		t.Fatal(err)
	}
}
