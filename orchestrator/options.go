package orchestrator

import (
	"context"
	"encoding/json"
	"io/fs"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/prompts"
)

// Options configure a Runtime. The zero value is usable.
type Options struct {
	// RunID names the run; default a fresh time-based id for each Run.
	// Set it only for a runtime that runs one goal at a time: concurrent
	// Runs would share it.
	RunID string
	// Sinks receive every event, in order.
	Sinks []Sink
	// Principal stands above the lead; default AutoPrincipal{}.
	Principal Principal
	// Prompts are the templates; default prompts.Default().
	Prompts *prompts.Set
	// Limits bound the runtime.
	Limits Limits
	// Budget is the root delegation's budget when the goal names none.
	Budget agents.Budget
	// SupervisionFor sets how closely an agent is supervised, e.g. from a
	// trust ledger; default DefaultSupervision.
	SupervisionFor func(agent string) Supervision
	// SupervisionForModel, when set, is used instead of SupervisionFor and
	// is told the agent's model too, as ModelID names it, so trust earned
	// with one model (the simulator, say) never stands for another.
	SupervisionForModel func(agent, model string) Supervision
	// Supervisor answers progress reports; default: always continue.
	Supervisor Supervisor
	// ToolChoice is what the runtime asks of a model whose turn must be a
	// protocol call: "required" (the default, also for "") or "auto", for
	// servers that reject "required" — the runtime still refuses prose and
	// nudges. Any other value is an error of New.
	ToolChoice string
	// Now is the clock of the events; default time.Now.
	Now func() time.Time
	// Effects returns the effects of the run named run: the seam through
	// which its model calls, tool calls, decisions, clock and ids go (see
	// Effects). Default: NewLiveEffects(Now).
	Effects func(run string) Effects
	// Config is recorded on run.started as is: the run's configuration as
	// the caller sees it (a command line's flags and team file), so that the
	// journal alone suffices to resume it. It must hold no secret.
	Config json.RawMessage
	// Checks registers Go checks by name, beside the built-in file_exists,
	// file_matches and file_absent, for goals, the delegate tool and team
	// members to name (agents.CheckSpec.Kind). A name may not shadow a
	// built-in.
	Checks map[string]CheckFunc
	// Workspace is where the files the agents' tools work on live (for
	// instance workspace.Workspace.FS): reports' path citations and the
	// files criteria name are checked against it at hand-back. Nil checks
	// them against the run's own tool calls only: a path counts as present
	// when a call of the run that succeeded wrote it. It should refuse
	// symbolic links that lead out of it, as an os.Root's FS does (and
	// workspace.Workspace.FS); an os.DirFS follows them. Its Open should
	// not block on a FIFO or a device: the checks open only what Stat says
	// is a regular file and check what was opened, but a name swapped to a
	// FIFO in between blocks the run in a blocking Open (an os.Root's FS,
	// os.DirFS). workspace.Workspace.FS opens without blocking.
	Workspace fs.FS
	// WorkspaceDir is the absolute directory Workspace is rooted at (for
	// instance workspace.Workspace.Dir), if it is one: a tool call's or a
	// citation's absolute path inside it, as the MCP filesystem server
	// names files, is taken relative to it. The directory is known by its
	// name and by the one it resolves to through symbolic links (macOS's
	// /tmp is /private/tmp), both found once when the runtime is made; a
	// path under neither is outside, and is never resolved (that would
	// touch the file system outside the workspace at the model's choice).
	// Empty, an absolute path names no workspace file.
	WorkspaceDir string
	// Traceparent, when set, returns the W3C traceparent of the trace the
	// Run's context belongs to, recorded on run.started so that a journal
	// names the trace its run was part of (see telemetry.Traceparent).
	Traceparent func(ctx context.Context) string
}

// ModelID names a model as trust keys it: "provider/name" (model.ProviderOf
// and Name), or the name alone when the provider says none.
func ModelID(m model.Model) string {
	if m == nil {
		return ""
	}
	if p := model.ProviderOf(m); p != "" {
		return p + "/" + m.Name()
	}
	return m.Name()
}
