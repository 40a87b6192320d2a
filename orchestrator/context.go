package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/prompts"
)

// window is the context window of d's agent's conversations: its context
// budget, with its own model writing the summaries when summarize is set. Nil
// when the agent's budget is unbounded.
func (d *delegation) window(summarize bool) *agents.Window {
	n := d.m.Agent.ContextBudget()
	if n <= 0 {
		return nil
	}
	w := &agents.Window{Tokens: n}
	if summarize {
		w.Summarize = d.summarize
	}
	return w
}

// summarize asks the delegate's own model to fold older turns into a
// summary: a model call of purpose compact, charged to the delegation.
func (d *delegation) summarize(ctx context.Context, prev string, folded []model.Message, maxTokens int) (string, error) {
	if err := d.meter.tokensLeft(); err != nil {
		return "", err
	}
	if d.compactSys == "" { // its data does not change: rendered once
		d.compactSys = d.render(prompts.Compact, &prompts.Data{Agent: d.m.name, Role: d.m.Agent.Role, Goal: d.goal})
	}
	req := &model.Request{MaxTokens: maxTokens, Messages: []model.Message{
		{Role: model.RoleSystem, Content: d.compactSys},
		{Role: model.RoleUser, Content: agents.FoldRequest(prev, folded)},
	}, Metadata: new(goalMetadata(model.PurposeCompact, d.m.name, d.id, d.goal))}
	if n, budget := model.EstimatePrompt(req), d.m.Agent.ContextBudget(); n > budget {
		return "", fmt.Errorf("the summary's request needs %d tokens, over the context budget of %d", n, budget)
	}
	// Through the effects, keyed by the delegation and the summary's
	// number: compaction happens at the same turns on a replay.
	d.summaries++
	conv := &conversation{d: d, m: d.m, purpose: model.PurposeCompact, name: "compact"}
	resp, err := conv.Generate(ctx, d.summaries, req)
	if err != nil {
		if ctx.Err() != nil {
			return "", context.Cause(ctx)
		}
		return "", err
	}
	if err := d.charge(resp.Usage); err != nil {
		return "", err
	}
	if len(resp.Message.ToolCalls) > 0 && strings.TrimSpace(resp.Message.Content) == "" {
		return "", errors.New("the model answered with tool calls instead of a summary")
	}
	return resp.Message.Content, nil
}

// compacted returns the hook that records the compactions of d's
// conversation of purpose.
func (d *delegation) compacted(purpose model.Purpose) func(context.Context, *agents.Compaction) {
	return func(ctx context.Context, c *agents.Compaction) {
		d.mu.Lock()
		d.out.Compactions++
		d.mu.Unlock()
		d.run.emit(ctx, &Event{Type: EventContextCompacted, Delegation: d.id, Parent: d.parentID(), Agent: d.m.name,
			Purpose: purpose, Compaction: c})
	}
}
