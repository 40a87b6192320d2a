package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
	"github.com/spf13/cobra"
)

// runConfig is what run.started records of the command line, so that
// "run resume" needs nothing but the journal and the environment's key. It
// holds no secret: the API key is never recorded and the endpoint's userinfo
// is masked.
type runConfig struct {
	// Team is the team file, inline; TeamFile the path it was read from
	// ("" for the built-in team).
	Team        string `json:"team"`
	TeamFile    string `json:"team_file,omitempty"`
	Offline     bool   `json:"offline,omitempty"`
	Model       string `json:"model,omitempty"`
	BaseURL     string `json:"base_url,omitempty"`
	Stream      bool   `json:"stream,omitempty"`
	Workspace   string `json:"workspace"`
	Escalations string `json:"escalations"`
	// GoalConfig records the goal's flags: criteria, constraints, checks,
	// budget.
	cli.GoalConfig
	Trust string `json:"trust,omitempty"`
	// Temporal is set by entrust-temporal run: the run is a workflow, and
	// its workers, not run resume, carry it on.
	Temporal json.RawMessage `json:"temporal,omitempty"`
}

// resumeOptions are "run resume"'s.
type resumeOptions struct {
	io *iostreams

	team, apiKey, baseURL, workspace string
	escalations, logLevel, trust     string
	quiet, json, unsigned            bool
	callTimeout                      time.Duration

	journal string
}

func newResumeCmd(io *iostreams) *cobra.Command {
	opts := &resumeOptions{io: io}
	cmd := &cobra.Command{
		Use:   "resume [flags] JOURNAL",
		Short: "Continue a run that was killed, from its journal",
		Long: `Continues a run that stopped before its end (a crash, a kill, a closed laptop)
from its journal, appending to the same file. What the journal recorded is
replayed without being done again: completed delegations are not re-run,
completed model calls are not re-sent, completed tool calls are not re-executed.
The run goes live from the first call the journal does not hold. A tool call
that was running when the run stopped is run again only when the tool is
idempotent (read_file, list_files), when write_file finds the file does not hold
what it was to write, or when the delegator (the Principal at the top) says so.

The team, goal, models and workspace come from the journal; the API key from
--api-key or OPENAI_API_KEY. A journal that cannot be resumed (finished,
cancelled, corrupt before its last line, written by another team) is an error.

Journals are sealed with a key kept outside them ($ENTRUST_JOURNAL_KEY, else
entrust/journal.key in your configuration directory): a journal whose seals do
not verify (edited, lines added or removed, seals stripped, another key) is
refused, and one from before seals resumes only with --unsigned (never one of a
run, or at a path, that a command sealed here: entrust/sealed beside the key).`,
		Example: `  run resume runs/20260101-120000-a1b2c3.jsonl
  OPENAI_API_KEY=sk-... run resume --escalations auto runs/20260101-120000-a1b2c3.jsonl`,
		Annotations: map[string]string{"footer": `Exit codes: as for run: 0 completed and verified, 1 failed or declined,
2 usage or configuration error or a journal that cannot be resumed,
130 interrupted.`},
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("name one journal file: run resume JOURNAL")
			}
			return nil
		},
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return []cobra.Completion{"jsonl"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(_ *cobra.Command, args []string) error {
			opts.journal = args[0]
			return runResume(opts)
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&opts.team, "team", "", "team `FILE`: must be the run's (default: the team the journal holds)")
	f.StringVar(&opts.apiKey, "api-key", "", "API `KEY` (default $OPENAI_API_KEY)")
	f.StringVar(&opts.baseURL, "base-url", "", "endpoint `URL`, when it is not the one the journal names")
	f.StringVar(&opts.workspace, "workspace", "", "`DIR` of the file tools (default the run's)")
	f.StringVar(&opts.escalations, "escalations", "", "`MODE`: terminal, auto or deny (default the run's; deny when it was terminal and stdin is not one)")
	f.DurationVar(&opts.callTimeout, "call-timeout", defaultCallTimeout, "bound `D` of each attempt of a model call (0: none), as run's: a journal does not record it")
	f.BoolVar(&opts.quiet, "quiet", false, "no live view")
	f.BoolVar(&opts.json, "json", false, "stream the new events to stdout as JSON lines instead of the live view")
	f.StringVar(&opts.logLevel, "log-level", "warn", "`LEVEL` of the structured log on stderr: debug, info, warn, error or off")
	f.StringVar(&opts.trust, "trust", "", "trust ledger `FILE` (default the run's)")
	f.BoolVar(&opts.unsigned, "unsigned", false, "resume a journal written before journals were sealed, believing what it records as it is")
	return cmd
}

// runResume continues the run of the journal opts.journal.
func runResume(o *resumeOptions) error {
	if o.callTimeout < 0 {
		return usageErrorf("--call-timeout must not be negative")
	}
	key, err := journalKey("")
	if err != nil {
		return configError(err)
	}
	events, integrity, err := readResumable(o.journal, key)
	if err != nil {
		return configError(err)
	}
	switch integrity.State {
	case orchestrator.IntegrityVerified:
	case orchestrator.IntegrityUnsigned:
		// run seals every journal it writes since run.started records a
		// goal digest: such a journal without seals had them removed.
		if events[0].GoalHash != "" {
			return configError(fmt.Errorf("%s cannot be resumed: %w: it was written by a run that seals its journals, and its seals were removed", o.journal, orchestrator.ErrNotResumable))
		}
		if !o.unsigned {
			return configError(fmt.Errorf("%s cannot be resumed: %w: it is not signed (written before journals were sealed), so what it records cannot be checked; resume it with --unsigned to believe it as it is", o.journal, orchestrator.ErrNotResumable))
		}
		if err := cli.CheckUnsigned(o.journal, events[0].Run); err != nil {
			return configError(err)
		}
	default:
		return configError(fmt.Errorf("%s cannot be resumed: %w: integrity %s", o.journal, orchestrator.ErrNotResumable, integrity))
	}
	if err := checkMark(o.journal, events); err != nil {
		return configError(err)
	}
	var cfg runConfig
	if len(events[0].Config) == 0 {
		return configError(fmt.Errorf("%s cannot be resumed: %w: its run.started records no configuration", o.journal, orchestrator.ErrNotResumable))
	}
	if err := json.Unmarshal(events[0].Config, &cfg); err != nil {
		return configError(fmt.Errorf("%s cannot be resumed: run.started's configuration: %w", o.journal, err))
	}
	if len(cfg.Temporal) > 0 {
		return configError(fmt.Errorf("%s cannot be resumed: %w: it is the journal of a run on Temporal (entrust-temporal run), which its workers carry on; it is not run again here",
			o.journal, orchestrator.ErrNotResumable))
	}
	goal, err := cfg.GoalConfig.Flags()
	if err != nil {
		return configError(fmt.Errorf("run.started's %w", err))
	}
	f := &runOptions{io: o.io, model: cfg.Model, baseURL: cfg.BaseURL, apiKey: o.apiKey, stream: cfg.Stream,
		workspace: cfg.Workspace, escalations: cfg.Escalations, journal: o.journal, logLevel: o.logLevel, trust: cfg.Trust,
		quiet: o.quiet, json: o.json, offline: cfg.Offline, team: cfg.TeamFile, callTimeout: o.callTimeout,
		unsigned: integrity.State == orchestrator.IntegrityUnsigned, sealAfter: integrity.Last,
		GoalFlags: goal}
	for _, s := range []struct {
		dst *string
		v   string
	}{{&f.baseURL, o.baseURL}, {&f.workspace, o.workspace}, {&f.trust, o.trust}} {
		if s.v != "" {
			*s.dst = s.v
		}
	}
	if o.escalations != "" {
		f.escalations = o.escalations
	} else if f.escalations == "terminal" && !cli.IsTerminal(o.io.in) {
		f.escalations = "deny"
	}
	data, name := []byte(cfg.Team), o.journal+" (team)"
	if o.team != "" {
		if data, err = os.ReadFile(o.team); err != nil {
			return configError(fmt.Errorf("--team: %w", err))
		}
		name, f.team = o.team, o.team
	}
	team, err := teamfile.Parse(name, data)
	if err != nil {
		return configError(err)
	}
	return execute(f, team, data, events)
}

// readResumable reads a journal to resume and checks its seals with key. A
// torn last line (a write the stopped run did not finish) is left out, and
// cut off the file when the run resumes.
func readResumable(path string, key []byte) ([]*orchestrator.Event, orchestrator.Integrity, error) {
	var none orchestrator.Integrity
	file, err := os.Open(path)
	if err != nil {
		return nil, none, err
	}
	defer file.Close()
	events, integrity, _, err := orchestrator.ReadSealedJournal(file, key)
	if err != nil {
		return nil, none, fmt.Errorf("%s cannot be resumed: %w: %w", path, orchestrator.ErrNotResumable, err)
	}
	if len(events) == 0 {
		return nil, none, fmt.Errorf("%s cannot be resumed: %w: it holds no events", path, orchestrator.ErrNotResumable)
	}
	return events, integrity, nil
}

// journalKey loads the key the run's journal is sealed with
// (orchestrator.LoadJournalKey), making the key file on first use. A key file
// inside workspace, where the run's tools write, is refused: an agent could
// read it and seal what it likes.
func journalKey(workspace string) ([]byte, error) {
	key, from, err := orchestrator.LoadJournalKey(true)
	if err != nil {
		return nil, err
	}
	if err := cli.KeyOutside(workspace, from); err != nil {
		return nil, err
	}
	return key, nil
}
