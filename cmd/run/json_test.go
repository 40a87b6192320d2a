package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/invariant"
)

func TestReplayJSON(t *testing.T) {
	code, out, errs := mainIn(t, "", "replay", "--json", "testdata/haiku.jsonl")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var doc struct {
		Run      string
		Finished bool
		Status   orchestrator.Status
		Usage    struct {
			PromptTokens int `json:"prompt_tokens"`
		}
		Tree       *orchestrator.Outcome
		Invariants int
		Breaches   []invariant.Violation
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if doc.Invariants != len(invariant.Checks()) || doc.Breaches == nil || len(doc.Breaches) != 0 {
		t.Errorf("invariants %d, breaches %v: want all %d checked, none broken", doc.Invariants, doc.Breaches, len(invariant.Checks()))
	}
	tr := doc.Tree
	if doc.Run != "20261126-191828-c8518a" || !doc.Finished || doc.Status != orchestrator.StatusCompleted || doc.Usage.PromptTokens != 7619 ||
		tr == nil || tr.Agent != "lead" || tr.Acceptance == nil || tr.Verification == nil || len(tr.Children) != 1 ||
		tr.Children[0].Agent != "writer" || tr.Children[0].Report == nil {
		t.Errorf("%+v", doc)
	}
}

func TestTrustJSON(t *testing.T) {
	dir := t.TempDir()
	ledger := filepath.Join(dir, "trust.json")
	// A run fills the ledger.
	if code, _, errs := mainIn(t, "", "--quiet", "--workspace", filepath.Join(dir, "ws"), "--journal", filepath.Join(dir, "j.jsonl"),
		"--trust", ledger, "Write a haiku about delegation"); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := mainIn(t, "", "trust", "--json", "--trust", ledger)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rows []struct {
		Agent       string  `json:"agent"`
		Level       string  `json:"level"`
		Score       float64 `json:"score"`
		Delegations int     `json:"delegations"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) == 0 {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, r := range rows {
		if r.Agent == "" || r.Level == "" || r.Delegations == 0 {
			t.Errorf("row %+v", r)
		}
	}
	// An empty ledger is an empty array, not prose.
	code, out, _ = mainIn(t, "", "trust", "--json", "--trust", filepath.Join(dir, "none.json"))
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("exit %d: %q", code, out)
	}
}

// Neither the event stream of run --json nor an eval's journals are sealed:
// they are not resumed, and run resume refuses them even with --unsigned,
// as journals whose seals were removed (they record a goal digest, which
// only runs that seal write), so an unsealed copy never stands for a run.
func TestUnsealedCopiesAreNotResumed(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	dir := t.TempDir()
	code, out, errs := mainIn(t, "", "--json", "--escalations", "auto", "--workspace", filepath.Join(dir, "ws"), "--journal", filepath.Join(dir, "j.jsonl"),
		"--trust", filepath.Join(dir, "trust.json"), "Write a haiku about delegation")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	scenario := filepath.Join(dir, "ok.yaml")
	writeFile(t, scenario, evalScenario)
	if code, out, errs := evalCommand(t, "--out", filepath.Join(dir, "eval"), scenario); code != exitOK {
		t.Fatalf("eval: exit %d\n%s\n%s", code, out, errs)
	}
	journals, _ := filepath.Glob(filepath.Join(dir, "eval", "journals", "*.jsonl"))
	if len(journals) != 1 {
		t.Fatalf("eval journals %v", journals)
	}
	eval, err := os.ReadFile(journals[0])
	if err != nil {
		t.Fatal(err)
	}
	for name, stream := range map[string]string{"run --json": out, "run eval": string(eval)} {
		lines := strings.SplitAfter(stream, "\n")
		if strings.Contains(lines[0], `"seal"`) {
			t.Errorf("%s: sealed: %s", name, lines[0])
		}
		cut := filepath.Join(dir, "cut.jsonl")
		writeFile(t, cut, strings.Join(lines[:6], ""))
		code, _, errs := mainIn(t, "", "resume", "--unsigned", "--quiet", cut)
		if code != exitUsage || !strings.Contains(errs, "its seals were removed") {
			t.Errorf("%s: a cut copy resumed with --unsigned: exit %d: %s", name, code, errs)
		}
	}
}
