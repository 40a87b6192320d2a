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
// The command line is built on spf13/cobra: one file per command, each with
// an options struct its flags fill and a function of those options that the
// tests call. A new command is added to newRootCmd in root.go.
//
// Exit codes: 0 the goal was completed and verified; 1 it failed or was
// declined; 2 a usage or configuration error; 130 interrupted.
package main

import (
	"io"
	"os"
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
	io := &iostreams{in: stdin, out: stdout, err: stderr}
	root := newRootCmd(io)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	return exitCode(io, cmd, err)
}
