package orchestrator_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
)

// BenchmarkLongRun is a writer making steps calls with 2 KB results, with no
// context budget and with one of 8,000 tokens: the prompt tokens a step
// (prompt-tok/step; compactions' summaries included), the largest prompt
// (max-prompt-tok) and the runtime's own cost a step (ns/step, with a
// scripted model that answers at once). Keep it short:
//
//	go test ./orchestrator -run '^$' -bench LongRun -benchtime 1x
func BenchmarkLongRun(b *testing.B) {
	for _, steps := range []int{10, 100, 1000} {
		for _, budget := range []int{0, 8000} {
			name := fmt.Sprintf("steps=%d/budget=none", steps)
			if budget > 0 {
				name = fmt.Sprintf("steps=%d/budget=%d", steps, budget)
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				var prompt, maxPrompt, summaries int
				var elapsed time.Duration
				for b.Loop() {
					team, writer := longTeam(b, steps, 2048, budget)
					writer.SetRecording(false)
					rt, err := orchestrator.New(team, &orchestrator.Options{Budget: agents.Budget{Steps: 2*steps + 10},
						Sinks: []orchestrator.Sink{orchestrator.SinkFunc(func(_ context.Context, e *orchestrator.Event) error {
							if e.Type == orchestrator.EventModelCalled && e.Agent == "writer" && e.Usage != nil {
								prompt += e.Usage.PromptTokens
								maxPrompt = max(maxPrompt, e.Usage.PromptTokens)
								if e.Purpose == "compact" {
									summaries++
								}
							}
							return nil
						})}})
					if err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					if _, err := rt.Run(b.Context(), longRoot); err != nil {
						b.Fatal(err)
					}
					elapsed += time.Since(start)
				}
				runs := float64(b.N)
				b.ReportMetric(float64(prompt)/runs/float64(steps), "prompt-tok/step")
				b.ReportMetric(float64(maxPrompt), "max-prompt-tok")
				b.ReportMetric(float64(summaries)/runs, "summaries")
				b.ReportMetric(float64(elapsed.Nanoseconds())/runs/float64(steps), "ns/step")
			})
		}
	}
}
