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
			rows = append(rows, r)
		}
	}
	t.Log("\n" + price.Table(rows) + "\nWhere the extra prompt tokens go:\n\n" + price.Breakdown(rows) +
		"\nThe protocol tools' definitions, in tokens a request:\n\n" + price.DefsTable(rows))
}

func ExampleTable() {
	r := &price.Row{Scenario: price.BuiltinTeam, Level: "high", Purposes: map[string]int{"work": 2, "complete": 2},
		Entrust: price.Cost{Calls: 4, PromptTokens: 1500}, Naive: price.Cost{Calls: 4, PromptTokens: 1000}}
	fmt.Print(price.Table([]*price.Row{r}))
	// Output:
	// | scenario | trust | calls (naive) | extra | by purpose | prompt tokens (naive) | ratio | cacheable |
	// | --- | --- | --- | --- | --- | --- | --- | --- |
	// | built-in team | high | 4 (4) | +0 | work 2, complete 2 | 1500 (1000) | +50% | 0% |
}
