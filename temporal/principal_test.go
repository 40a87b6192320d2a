package temporal_test

import (
	"context"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
)

// TestWorkersDenyIsKept: a worker configured to refuse every escalation
// (AutoPrincipal{Deny: true}) refuses one that recommends something
// irreversible, though the run did not ask for Deny itself: the worker's
// automatic policy is kept as configured, not replaced by the permissive
// one.
func TestWorkersDenyIsKept(t *testing.T) {
	deny := orchestrator.AutoPrincipal{Deny: true}
	c, id, run := idleRun(t, &entrusttemporal.Worker{Team: leadWriter(t, t.TempDir(), &counts{}), Options: &orchestrator.Options{Principal: deny}})
	dec, err := entrusttemporal.AskAs(t.Context(), c, id, run, 1, "d1", deny, func(ctx context.Context, p orchestrator.Principal) (orchestrator.Decision, error) {
		res, err := p.AnswerEscalation(ctx, &agents.Escalation{From: "lead", Question: "may I delete prod?", Recommendation: "delete prod"})
		return orchestrator.Decision{Resolution: &res}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := dec.Resolution; r == nil || !r.Refused || r.By != agents.ByPolicy {
		t.Fatalf("the worker's Deny policy was not kept: the escalation was answered %+v", r)
	}
}
