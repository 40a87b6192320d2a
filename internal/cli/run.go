package cli

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
	"github.com/spf13/pflag"
)

// StringList is a repeatable string flag that refuses an empty value.
type StringList []string

// String joins the values.
func (s *StringList) String() string { return strings.Join(*s, "; ") }

// Set adds a value; an empty one is refused.
func (s *StringList) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("empty value")
	}
	*s = append(*s, v)
	return nil
}

// Type names the value in help.
func (s *StringList) Type() string { return "strings" }

// The escalation modes: who answers what reaches the top.
const (
	EscalateTerminal = "terminal"
	EscalateAuto     = "auto"
	EscalateDeny     = "deny"
)

// EscalationMode is who answers what reaches the top: mode (the
// --escalations flag) when set, else the terminal when in is one, else
// deny. Any other mode is an error.
func EscalationMode(mode string, in io.Reader) (string, error) {
	switch mode {
	case "":
		if IsTerminal(in) {
			return EscalateTerminal, nil
		}
		return EscalateDeny, nil
	case EscalateTerminal, EscalateAuto, EscalateDeny:
		return mode, nil
	}
	return "", fmt.Errorf("--escalations %q: want terminal, auto or deny", mode)
}

// ParseVerify reads one --verify: a file check of the built-in registry
// (exists:PATH, absent:PATH, matches:PATH:REGEX).
func ParseVerify(s string) (agents.CheckSpec, error) {
	c, err := agents.ParseCheck(s)
	if err == nil && !strings.HasPrefix(c.Kind, "file_") {
		err = fmt.Errorf("%q: want exists:PATH, absent:PATH or matches:PATH:REGEX", s)
	}
	if err == nil && c.Kind == "file_matches" {
		if _, rerr := regexp.Compile(c.Pattern); rerr != nil {
			err = fmt.Errorf("%q: %v", s, rerr)
		}
	}
	return c, err
}

// VerifyChecks are the checks of the --verify values, or the first value's
// error (as --verify's).
func VerifyChecks(verify []string) ([]agents.CheckSpec, error) {
	var out []agents.CheckSpec
	for _, v := range verify {
		c, err := ParseVerify(v)
		if err != nil {
			return nil, fmt.Errorf("--verify %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// TeamSummary names the team file's agents, its lead marked.
func TeamSummary(f *teamfile.File) string {
	var parts []string
	for _, a := range f.Agents {
		s := a.Name
		if a.Name == f.Lead {
			s += " (lead)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// PrintSummary writes how the run ended: completed and verified with its
// result, declined, failed, or interrupted.
func PrintSummary(w io.Writer, out *orchestrator.Outcome, interrupted bool) {
	st := NewStyle(w)
	switch {
	case interrupted:
		fmt.Fprintln(w, st.Paint(Yellow, "interrupted")+": the run was cancelled; every delegation ended and the journal is complete.")
	case out.Status == orchestrator.StatusCompleted:
		fmt.Fprintln(w, st.Paint(Green, "completed and verified")+fmt.Sprintf(" · %s · %s", TokensText(out.Total), out.End.Sub(out.Start).Round(time.Millisecond)))
		if out.Report != nil {
			fmt.Fprintln(w, Indent(Visible(out.Report.Result), "  "))
		}
	case out.Status == orchestrator.StatusDeclined:
		fmt.Fprintln(w, st.Paint(Magenta, "declined")+" by "+out.Agent+": "+OneLine(out.Reason))
		if out.Decline != nil && len(out.Decline.Missing) > 0 {
			fmt.Fprintln(w, "  missing: "+OneLine(strings.Join(out.Decline.Missing, "; ")))
		}
	default:
		fmt.Fprintln(w, st.Paint(Red, "failed")+": "+OneLine(out.Reason))
	}
}

// Indent puts prefix before each line of s.
func Indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// GoalFlags are the flags that shape the goal: its criteria, constraints
// and checks, and its budget. run and entrust-temporal run have them alike.
type GoalFlags struct {
	Criteria, Constraints StringList
	// Verify are the --verify checks, as written.
	Verify        StringList
	NoFileChecks  bool
	Steps, Tokens int
	Timeout       time.Duration
}

// AddFlags adds the goal's flags to f, in the order run's help shows them.
func (g *GoalFlags) AddFlags(f *pflag.FlagSet) {
	f.Var(&g.Criteria, "criteria", "a success `CRITERION` of the goal (repeatable)")
	f.Var(&g.Constraints, "constraint", "a `CONSTRAINT` of the goal: must or must not (repeatable)")
	f.BoolVar(&g.NoFileChecks, "no-file-checks", false, "do not require the files the criteria and constraints name to exist")
	f.Var(&g.Verify, "verify", "a `CHECK` of the final report: exists:PATH, absent:PATH, matches:PATH:REGEX (repeatable)")
	f.IntVar(&g.Steps, "steps", 0, "`N` model turns the lead may take, its delegates' included (default: the team file's, else 40)")
	f.IntVar(&g.Tokens, "tokens", 0, "`N` tokens the whole run may spend (default no bound)")
	f.DurationVar(&g.Timeout, "timeout", 0, "wall time `D` the whole run may take, e.g. 5m (default no bound)")
}

// Check returns the error of the first budget flag that is negative, naming
// it and its value.
func (g *GoalFlags) Check() error {
	switch {
	case g.Steps < 0:
		return fmt.Errorf("--steps %d: must not be negative (0: the default)", g.Steps)
	case g.Tokens < 0:
		return fmt.Errorf("--tokens %d: must not be negative (0: no bound)", g.Tokens)
	case g.Timeout < 0:
		return fmt.Errorf("--timeout %s: must not be negative (0: no bound)", g.Timeout)
	}
	return nil
}

// Goal is the goal of objective under the flags, or the error of the first
// flag that is wrong.
func (g *GoalFlags) Goal(objective string) (agents.Goal, error) {
	if err := g.Check(); err != nil {
		return agents.Goal{}, err
	}
	checks, err := VerifyChecks(g.Verify)
	if err != nil {
		return agents.Goal{}, err
	}
	return agents.Goal{Objective: objective, Criteria: g.Criteria, Constraints: g.Constraints, Checks: checks, NoFileChecks: g.NoFileChecks,
		Budget: agents.Budget{Steps: g.Steps, Tokens: g.Tokens, WallTime: g.Timeout}}, nil
}

// GoalConfig is what run.started records of the goal's flags, in the
// configuration of either command (run resume reads it back).
type GoalConfig struct {
	Criteria     []string `json:"criteria,omitempty"`
	Constraints  []string `json:"constraints,omitempty"`
	Verify       []string `json:"verify,omitempty"`
	NoFileChecks bool     `json:"no_file_checks,omitempty"`
	Steps        int      `json:"steps,omitempty"`
	Tokens       int      `json:"tokens,omitempty"`
	Timeout      string   `json:"timeout,omitempty"`
}

// Config is what run.started records of the flags.
func (g *GoalFlags) Config() GoalConfig {
	c := GoalConfig{Criteria: g.Criteria, Constraints: g.Constraints, Verify: g.Verify, NoFileChecks: g.NoFileChecks, Steps: g.Steps, Tokens: g.Tokens}
	if g.Timeout > 0 {
		c.Timeout = g.Timeout.String()
	}
	return c
}

// Flags are the flags c records, or the error of a timeout that is not a
// duration.
func (c GoalConfig) Flags() (GoalFlags, error) {
	g := GoalFlags{Criteria: c.Criteria, Constraints: c.Constraints, Verify: c.Verify, NoFileChecks: c.NoFileChecks, Steps: c.Steps, Tokens: c.Tokens}
	if c.Timeout != "" {
		var err error
		if g.Timeout, err = time.ParseDuration(c.Timeout); err != nil {
			return GoalFlags{}, fmt.Errorf("timeout: %w", err)
		}
	}
	return g, nil
}
