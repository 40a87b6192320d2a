package price_test

import (
	"fmt"
	"testing"

	"github.com/entrust-dev/entrust/internal/price"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/trust"
)

// TestPrice measures every scenario at every trust level and logs the table
// (go test -run TestPrice -v ./internal/price).
func TestPrice(t *testing.T) {
	var rows []*price.Row
	for _, sc := range price.Scenarios {
		for _, lv := range price.Levels {
			r, err := price.Measure(t.Context(), sc, lv)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != orchestrator.StatusCompleted {
				t.Errorf("%s at %s: %s", sc, lv, r.Status)
			}
			// At high trust every extra token is in a share: the rest is
			// rounding.
			if rest := r.Overhead[price.ShareRest]; lv == trust.LevelHigh && (rest < -len(price.Shares) || rest > len(price.Shares)) {
				t.Errorf("%s at %s: %d extra tokens in no share", sc, lv, rest)
			}
			checkTargets(t, r)
			rows = append(rows, r)
		}
	}
	t.Log("\n" + price.Table(rows) + "\nWhere the extra prompt tokens go:\n\n" + price.Breakdown(rows) +
		"\nThe protocol tools' definitions, in tokens a request:\n\n" + price.DefsTable(rows))
}

// checkTargets holds r to the issue's targets that are met, so that a change
// that would lose one is caught: at high trust no model call naive delegation
// would not make; below it, at most the judge and verify calls of the one
// delegation a model judges (the writer's: the lead's acceptance and report
// go to the user), and at most +100% prompt tokens at new and low trust.
// (The high-trust token targets, +50% and +25%, are not met: see the README.)
func checkTargets(t *testing.T, r *price.Row) {
	t.Helper()
	switch r.Level {
	case trust.LevelHigh:
		if r.ExtraCalls() != 0 {
			t.Errorf("%s at %s: %d extra model calls, want none", r.Scenario, r.Level, r.ExtraCalls())
		}
	case trust.LevelNew, trust.LevelLow:
		if r.ExtraCalls() > 2 || r.Purposes["judge"]+r.Purposes["verify"] != r.ExtraCalls() {
			t.Errorf("%s at %s: %d extra model calls (%v), want at most the writer's judge and verify", r.Scenario, r.Level, r.ExtraCalls(), r.Purposes)
		}
		if r.TokenRatio() > 2 {
			t.Errorf("%s at %s: %+.0f%% prompt tokens beside naive delegation, want at most +100%%", r.Scenario, r.Level, 100*(r.TokenRatio()-1))
		}
	}
}

func ExampleTable() {
	r := &price.Row{Scenario: price.BuiltinTeam, Level: "high", Purposes: map[string]int{"work": 2, "complete": 2},
		Entrust: price.Cost{Calls: 4, PromptTokens: 1500}, Naive: price.Cost{Calls: 4, PromptTokens: 1000}}
	fmt.Print(price.Table([]*price.Row{r}))
	// Output:
	// | scenario | trust | calls (naive) | extra | by purpose | prompt tokens (naive) | ratio | cacheable (naive) |
	// | --- | --- | --- | --- | --- | --- | --- | --- |
	// | built-in team | high | 4 (4) | +0 | work 2, complete 2 | 1500 (1000) | +50% | 0% (0%) |
}
