package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/orchestrator"
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
		Tree *orchestrator.Outcome
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
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
