// Package sim is the protocol simulator: a scripted model that plays the
// entrust protocol offline. As a delegate it accepts a goal by restating it,
// works with the workspace tools or delegates, and completes with evidence;
// as a delegator it judges acceptances, answers escalations and verifies
// reports; as a consulted peer it gives advice in prose. It is the command
// line's default model and, through its personas, the misbehaving models of
// the evals.
//
// The simulator decides each answer from the request alone — the messages
// and the tools offered — so it holds no state, is safe for concurrent use
// and serves any number of delegations at once. The phase is told by the
// tools offered: judge_alignment, verify_report or answer_escalation when it
// is asked as a delegator; accept_goal while a goal is offered; complete_goal
// while working; none when consulted.
//
// # What it reads
//
// A request the runtime makes in process carries model.Metadata: who is
// asked, for what purpose, in which phase, and the goal in question (intent,
// objective, criteria, constraints, the tools granted). The simulator takes
// those from the metadata, never from the prompts, and knows a failed call
// by its tool message's IsError.
//
// A request that reached it over a wire (the loopback OpenAI-compatible
// server) has neither: like a real model it then sees only text, and reads
// the built-in templates of package prompts back. What it relies on:
//
//   - delegate_system: a first line "You are NAME. ROLE"; after a line
//     "# The goal", the lines "Intent (why): …", "Objective (what): …",
//     "Success criteria:" and "Constraints:" each followed by "N. item",
//     "Context: …", "Tools granted to you once aligned: a, b.", and the
//     lists "You may delegate (delegate) to:" and "You may consult
//     (consult):" of "- name: role".
//   - delegator_system: the same after "The goal you delegated:", with
//     "Intent: …" and "Objective: …".
//   - judge_alignment: "Restated intent: …" and the lists "Plan:",
//     "Acknowledged criteria:", "Acknowledged constraints:" and "The
//     runtime's structural checks found:" of "- item".
//   - verify_report: a first line "NAME reports the goal complete (revision
//     N):", "Result: …", "Criteria:" with items "- CRITERION: met — evidence:
//     E" or "- CRITERION: NOT met", and "The runtime's checks found:".
//   - answer_escalation: a first line "NAME escalates (KIND, blocking):",
//     the question, "Options:" with "- option", "Their recommendation: …".
//   - consult: "NAME asks: QUESTION" and "Context: …".
//   - a summary of older turns (Metadata's purpose compact, or without
//     Metadata a request without tools whose last message opens with
//     agents.FoldHeader): "Your summary so far:" and the lines
//     "- you called NAME ARGS"; it answers with the summary so far and the
//     calls by tool.
//   - tool results: a misaligned acceptance says "not aligned" and lists
//     "- gap" lines (it reads "N criteria acknowledged, the goal has M" and
//     "the plan uses T, which is not granted"); delegate returns the
//     runtime's JSON outcome, whose "status" is "completed" on success; a
//     report sent back is any answer to complete_goal that does not end the
//     conversation, and its text is the feedback; a user message saying
//     "report your progress" or "report progress" asks for report_progress.
//     Over a wire, tool messages carry no error flag, so errors are recognised by their
//     text: "refused…", "invalid arguments…", "… failed: …", the workspace's
//     errors.
//
// Text it cannot read degrades its answers — a generic restatement, no
// acknowledgements (padded from the runtime's gaps on the next round), an
// acceptance or a verification that defers to the runtime's own checks — but
// its arguments still validate against the protocol tools.
package sim
