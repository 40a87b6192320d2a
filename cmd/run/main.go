// Command run is entrust's command line. It runs a team of agents on a goal
// under the delegation protocol (every delegate accepts before it acts,
// escalations reach you at the terminal), shows the delegation tree as it
// unfolds, writes the run's journal, replays a journal, and runs evals.
//
//	run "Write a haiku about delegation"      # offline, on the built-in simulator
//	run --base-url http://localhost:11434/v1 --model qwen2.5:7b "GOAL"
//	run --team team.yaml --criteria "a file notes.md exists" "GOAL"
//	run replay runs/20260101-120000-a1b2c3.jsonl
//	run eval evals/suites/protocol
//	run trust
//
// Exit codes: 0 the goal was completed and verified; 1 it failed or was
// declined; 2 a usage or configuration error; 130 interrupted.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// The exit codes of run.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Main runs the command line with args (without the program name) and
// returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		mainUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		mainUsage(stdout)
		fmt.Fprintln(stdout)
		return cmdRun([]string{"-h"}, nil, stdout, stderr)
	case "replay":
		return cmdReplay(args[1:], stdout, stderr)
	case "trust":
		return cmdTrust(args[1:], stdout, stderr)
	case "eval":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		code := cmdEval(ctx, args[1:], stdin, stdout, stderr)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return code
	}
	return cmdRun(args, stdin, stdout, stderr)
}

func mainUsage(w io.Writer) {
	fmt.Fprint(w, `run: delegate a goal to a team of agents that must accept it before they act.

Usage:
  run [flags] "GOAL"          run the team on GOAL (run -h for the flags)
  run replay JOURNAL          re-render a finished run from its journal
  run eval SUITE...           run eval scenarios (run eval -h)
  run trust                   print the trust ledger (run trust -h)

Examples:
  run "Write a haiku about delegation"
  run --base-url http://localhost:11434/v1 --model qwen2.5:7b "Write a haiku about delegation"
  OPENAI_API_KEY=sk-... run --model gpt-4o-mini --criteria "haiku.txt holds a 5-7-5 haiku" "Write a haiku"
  run replay runs/20260101-120000-a1b2c3.jsonl

With no model endpoint configured (no --base-url, OPENAI_BASE_URL or
OPENAI_API_KEY), every agent runs on the built-in offline simulator.

Exit codes: 0 completed and verified, 1 failed or declined, 2 usage or
configuration error, 130 interrupted.
`)
}
