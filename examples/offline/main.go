// Offline builds a team with the entrust library and delegates a goal to it,
// with no language model and no network: every agent runs on the built-in
// protocol simulator (agents/sim), and the writer's file tools are confined
// to a temporary workspace. Replace sim.New with openai.New to use a real
// model; nothing else changes.
//
//	go run ./examples/offline
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/orchestrator"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(w io.Writer) error {
	dir, err := os.MkdirTemp("", "entrust-offline")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ws, err := workspace.New(filepath.Join(dir, "workspace"))
	if err != nil {
		return err
	}
	defer ws.Close()

	// The team: a lead that delegates to a writer, which alone holds the
	// workspace tools.
	team := orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{
			Agent:       &agents.Agent{Name: "lead", Role: "Plans the work and entrusts the writing to the writer.", Model: sim.New("sim", nil)},
			DelegatesTo: []string{"writer"},
		},
		{
			Agent: &agents.Agent{Name: "writer", Role: "Writes text files in the workspace.", Model: sim.New("sim", nil), Tools: ws.Tools()},
		},
	}}

	// Every event goes to a journal; the user is an automatic principal
	// that confirms acceptances and takes recommendations.
	journal, err := orchestrator.CreateJournal(filepath.Join(dir, "run.jsonl"))
	if err != nil {
		return err
	}
	defer journal.Close()
	rt, err := orchestrator.New(team, &orchestrator.Options{
		Sinks:        []orchestrator.Sink{journal},
		Principal:    orchestrator.AutoPrincipal{},
		Budget:       agents.Budget{Steps: 30},
		Workspace:    ws.FS(), // where the reports' citations are checked
		WorkspaceDir: ws.Dir(),
	})
	if err != nil {
		return err
	}

	out, err := rt.Run(context.Background(), agents.Goal{
		Intent:      "show how a goal is entrusted, accepted and verified",
		Objective:   "Write a short note about delegation",
		Criteria:    []string{"a note about delegation is in the workspace"},
		Constraints: []string{"write only inside the workspace"},
	})
	if err != nil {
		return fmt.Errorf("the goal was not completed: %w", err)
	}

	// The outcome is the whole tree: who accepted what, how it was judged,
	// what was reported and verified, and what it cost.
	out.Walk(func(o *orchestrator.Outcome) {
		fmt.Fprintf(w, "%s%s (%s ← %s): %s\n", indent(o.Depth), o.Delegation, o.Agent, o.Delegator, o.Status)
		if o.Acceptance != nil {
			fmt.Fprintf(w, "%s  understood: %s\n", indent(o.Depth), o.Acceptance.RestatedIntent)
		}
		if o.Alignment != nil {
			fmt.Fprintf(w, "%s  aligned: %v (judged by %s)\n", indent(o.Depth), o.Alignment.Aligned, o.Alignment.By)
		}
		if o.Verification != nil {
			fmt.Fprintf(w, "%s  verified: %s (by %s)\n", indent(o.Depth), o.Verification.Verdict, o.Verification.By)
		}
	})
	fmt.Fprintf(w, "result: %s\n", out.Report.Result)
	fmt.Fprintf(w, "tokens: %d\n", out.Total.Total())
	entries, err := os.ReadDir(ws.Dir())
	if err != nil {
		return err
	}
	for _, e := range entries {
		fmt.Fprintf(w, "workspace: %s\n", e.Name())
	}
	return nil
}

func indent(depth int) string {
	s := ""
	for range depth {
		s += "  "
	}
	return s
}
