package temporal

import (
	"context"

	"github.com/entrust-dev/entrust/orchestrator"
	"go.temporal.io/sdk/client"
)

// AttemptUpdate is the update by which an attempt of the orchestrator
// speaks to a workflow of its run's tree, fencing the older ones.
const AttemptUpdate = attemptUpdate

// DecideAs has attempt of the orchestrator make a decision of delegation
// d, with ask, in the run whose workflow is id (run).
func DecideAs(ctx context.Context, c client.Client, id, run string, attempt int32, d string,
	ask func(context.Context) (orchestrator.Decision, error)) (orchestrator.Decision, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &effects{c: c, root: id, rootRun: run, attempt: attempt, cancel: cancel, sendCtx: context.WithoutCancel(ctx), tree: newTree(id)}
	return f.Decide(ctx, orchestrator.Key{Delegation: d, Conversation: "principal judge"}, ask)
}

// AskAs has attempt of the orchestrator of the run whose workflow is id
// (run) make a decision of delegation d as Orchestrate would with local as
// the worker's Principal: ask is given the Principal of the run.
func AskAs(ctx context.Context, c client.Client, id, run string, attempt int32, d string, local orchestrator.Principal,
	ask func(context.Context, orchestrator.Principal) (orchestrator.Decision, error)) (orchestrator.Decision, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &effects{c: c, root: id, rootRun: run, attempt: attempt, cancel: cancel, sendCtx: context.WithoutCancel(ctx), tree: newTree(id)}
	p := principal(f, local, principalName("", local), RunInput{})
	return f.Decide(ctx, orchestrator.Key{Delegation: d, Conversation: "principal"}, func(ctx context.Context) (orchestrator.Decision, error) {
		return ask(ctx, p)
	})
}
