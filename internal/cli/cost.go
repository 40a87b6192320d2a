package cli

import (
	"strings"

	"github.com/entrust-dev/entrust/agents/model"
)

// price is a model's list price in US dollars per million tokens.
type price struct{ in, cachedIn, out float64 }

// prices are the list prices of common hosted models (OpenAI's, early 2026),
// matched by the longest prefix of the model name the server reports, so
// dated snapshots ("gpt-4o-mini-2024-07-18") find their family. They are
// estimates for the live view: check your provider's bill.
var prices = map[string]price{
	"gpt-4o-mini":  {0.15, 0.075, 0.60},
	"gpt-4o":       {2.50, 1.25, 10.00},
	"gpt-4.1-nano": {0.10, 0.025, 0.40},
	"gpt-4.1-mini": {0.40, 0.10, 1.60},
	"gpt-4.1":      {2.00, 0.50, 8.00},
	"gpt-5-nano":   {0.05, 0.005, 0.40},
	"gpt-5-mini":   {0.25, 0.025, 2.00},
	"gpt-5":        {1.25, 0.125, 10.00},
	"o4-mini":      {1.10, 0.275, 4.40},
	"o3-mini":      {1.10, 0.55, 4.40},
	"o3":           {2.00, 0.50, 8.00},
}

// CostOf returns the cost of a call's usage on the named model, and whether
// the price is known. The simulator is free; local models are unknown.
func CostOf(name string, u model.Usage) (float64, bool) {
	if name == "sim" || strings.HasPrefix(name, "sim/") {
		return 0, true
	}
	best := ""
	for p := range prices {
		if strings.HasPrefix(name, p) && len(p) > len(best) {
			best = p
		}
	}
	if best == "" {
		return 0, false
	}
	p := prices[best]
	cached := min(u.CachedTokens, u.PromptTokens)
	return (float64(u.PromptTokens-cached)*p.in + float64(cached)*p.cachedIn + float64(u.CompletionTokens)*p.out) / 1e6, true
}
