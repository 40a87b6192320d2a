package orchestrator

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/words"
)

// derailedUncached is derailed as it was before goalFacts, every part of the
// goal's side made again at every call: the reference the kept path must
// match.
func derailedUncached(g *agents.Goal, restated string) string {
	purpose := g.Intent + "\n" + g.Objective
	if !words.HasContent(purpose) {
		return ""
	}
	for _, copied := range []string{g.Intent, g.Objective, purpose, g.Objective + "\n" + g.Intent} {
		if words.NearCopy(restated, copied) || words.Reworded(restated, copied) {
			return "the restated intent only copies the goal's words: say in your own words what the goal is for"
		}
	}
	if !words.Share(restated, purpose) {
		return fmt.Sprintf("the restated intent (%q) has no word in common with the goal's intent or objective: say in your own words what the goal is for", model.ClipText(restated, 120))
	}
	return ""
}

var factsTexts = []string{
	"", " ", "measure", "take steps", "Write a haiku about autumn", "so that readers smile",
	"the haiku makes readers smile", "Write notes.md", "Write only notes.md",
	"do not create secrets.env and write notes.md", "no secrets.env, id_rsa.pem or .env.local",
	"Summarise the notice in notes.md, but keep notes.md short",
	"never touch prod.env; the plan goes to plan.txt", "with this and that", "写一首俳句",
	"Écrire un poème d'automne", "MEASURE!", "measure\ntake steps", "take steps measure",
	"I want to measure, taking steps", "take steps\nmeasure",
}

// TestGoalFactsMatchUncached: a delegation's checks read the same of its
// goal whether it is found on this call or kept from an earlier one, and
// the same as RequiredFiles and derailed found before they were kept.
func TestGoalFactsMatchUncached(t *testing.T) {
	for i, intent := range factsTexts {
		for j, objective := range factsTexts {
			g := &agents.Goal{Intent: intent, Objective: objective, Criteria: factsTexts[i:], Constraints: factsTexts[:j]}
			kept := &delegation{goal: g}
			for _, restated := range factsTexts {
				want := derailedUncached(g, restated)
				if got := (&delegation{goal: g}).derailed(restated); got != want {
					t.Fatalf("first derailed(%q) under %q/%q = %q, want %q", restated, intent, objective, got, want)
				}
				if got := kept.derailed(restated); got != want {
					t.Fatalf("kept derailed(%q) under %q/%q = %q, want %q", restated, intent, objective, got, want)
				}
			}
			for range 2 {
				rf := kept.requiredFiles()
				for k, c := range g.Criteria {
					if want := agents.RequiredFiles(c); !slices.Equal(filesAt(rf.criteria, k), want) {
						t.Fatalf("criterion %q requires %q, want %q", c, filesAt(rf.criteria, k), want)
					}
				}
				for k, c := range g.Constraints {
					if want := agents.RequiredFiles(c); !slices.Equal(filesAt(rf.constraints, k), want) {
						t.Fatalf("constraint %q requires %q, want %q", c, filesAt(rf.constraints, k), want)
					}
				}
				for _, fs := range [][][]string{rf.criteria, rf.constraints} {
					if fs != nil && !slices.ContainsFunc(fs, func(f []string) bool { return len(f) > 0 }) {
						t.Fatalf("required files kept for a goal whose items require none: %q", fs)
					}
				}
			}
		}
	}
}

// TestGoalFactsConcurrent: a delegation's goal facts are found once however
// many goroutines ask at once (run with -race).
func TestGoalFactsConcurrent(t *testing.T) {
	g := &agents.Goal{Intent: "Write a haiku about autumn", Objective: "so that readers smile", Criteria: factsTexts, Constraints: factsTexts}
	d := &delegation{goal: g}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			restated := factsTexts[i%len(factsTexts)]
			if got, want := d.derailed(restated), derailedUncached(g, restated); got != want {
				t.Errorf("derailed(%q) = %q, want %q", restated, got, want)
			}
			if rf := d.requiredFiles(); !slices.Equal(filesAt(rf.criteria, 7), []string{"notes.md"}) {
				t.Errorf("criterion %q requires %q", g.Criteria[7], filesAt(rf.criteria, 7))
			}
		})
	}
	wg.Wait()
}
