package model_test

import (
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents/model"
)

func TestSaneUsage(t *testing.T) {
	req := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: strings.Repeat("word ", 800)}}}
	est := model.EstimateUsage(req, &model.Message{Content: "ok"})
	for name, tc := range map[string]struct {
		u       model.Usage
		replace bool
	}{
		"plausible":    {model.Usage{PromptTokens: est.PromptTokens + 50, CompletionTokens: 3}, false},
		"negative":     {model.Usage{PromptTokens: -1_000_000, CompletionTokens: 3}, true},
		"overflowing":  {model.Usage{PromptTokens: 100, CompletionTokens: 1 << 62}, true},
		"absurd":       {model.Usage{PromptTokens: 50 * est.PromptTokens, CompletionTokens: 3}, true},
		"under-stated": {model.Usage{PromptTokens: 1, CompletionTokens: 1}, true},
		"cached":       {model.Usage{PromptTokens: est.PromptTokens, CompletionTokens: 1, CachedTokens: 10 * est.PromptTokens}, true},
	} {
		resp := &model.Response{Message: model.Message{Content: "ok"}, Usage: tc.u}
		why := model.SaneUsage(req, resp)
		if (why != "") != tc.replace {
			t.Errorf("%s: SaneUsage = %q", name, why)
		}
		if tc.replace && resp.Usage != est {
			t.Errorf("%s: usage %+v, want the estimate %+v", name, resp.Usage, est)
		}
	}
}
