package main

import "os"

// Replaying a journal re-renders the run from it alone: the delegation tree,
// each acceptance and its alignment, reports and verifications, and usage.
func ExampleMain_replay() {
	Main([]string{"replay", "testdata/haiku.jsonl"}, os.Stdin, os.Stdout, os.Stderr)
	// Output:
	// run 20261126-191828-c8518a · 2026-11-26 19:18:28 UTC · 2ms · completed
	// goal: Write a haiku about delegation
	//   criterion:  a haiku about delegation is in the workspace
	//   constraint: three lines, 5-7-5 syllables
	// integrity: not signed
	//
	// ✓ d1 lead ← user · completed · 8,268 tokens (own 4,636) · 3 steps
	//    accepted (round 1): I understand the purpose: write a haiku about delegation.
	//      1. delegate to writer and wait for their verified outcomes
	//      2. complete_goal with evidence for every criterion
	//    aligned (judged by the policy)
	//    reported: writer completed its part: Wrote write-a-haiku-about-delegation.md, a note that addresses the objective (Write a haiku about delegation) and each criterion.
	//      - a haiku about delegation is in the workspace: met — writer: write-a-haiku-about-delegation.md addresses it as criterion 1 (wrote 300 bytes to write-a-haiku-about-delegation.md)
	//    verified by the runtime: accept
	// └─ ✓ d2 writer ← lead · completed · 3,632 tokens (own 3,632) · 3 steps
	//       goal: Write a haiku about delegation
	//       accepted (round 1): I understand the purpose: write a haiku about delegation.
	//         1. write_file write-a-haiku-about-delegation.md: a note that addresses the objective and each criterion
	//         2. complete_goal with evidence for every criterion
	//       aligned (judged by lead)
	//       reported: Wrote write-a-haiku-about-delegation.md, a note that addresses the objective (Write a haiku about delegation) and each criterion.
	//         - a haiku about delegation is in the workspace: met — write-a-haiku-about-delegation.md addresses it as criterion 1 (wrote 300 bytes to write-a-haiku-about-delegation.md)
	//       verified by lead: accept
	//
	// usage by agent
	//   agent   calls     prompt  completion      total      cost model time  models
	//   lead        5      4,327         309      4,636        $0       0.0s  sim
	//   writer      3      3,292         340      3,632        $0       0.0s  sim
	//   total       8      7,619         649      8,268        $0       0.0s  sim
	//
	// invariants: all 8 hold
	//
	// result:
	//   writer completed its part: Wrote write-a-haiku-about-delegation.md, a note that addresses the objective (Write a haiku about delegation) and each criterion.
}
