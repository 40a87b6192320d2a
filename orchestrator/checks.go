package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/internal/regfile"
)

// CheckFunc is a programmatic check of a report, registered by name on the
// runtime (Options.Checks) and attached to goals as agents.CheckSpec values:
// by the delegate tool's checks, a team member's checks, or the caller's
// goal. ws is the runtime's Workspace (nil when none is configured). It
// returns whether the check holds and, when not, why; an error only when it
// could not check at all, which fails the report closed.
type CheckFunc func(ctx context.Context, ws fs.FS, spec agents.CheckSpec, g *agents.Goal, r *agents.Report) (ok bool, why string, err error)

// The built-in checks, over the runtime's Workspace.
const (
	CheckFileExists  = "file_exists"  // spec.Path exists
	CheckFileMatches = "file_matches" // spec.Path exists and its content matches spec.Pattern (RE2)
	CheckFileAbsent  = "file_absent"  // spec.Path does not exist
)

// ErrNoWorkspace is the error of a file check on a runtime without a
// Workspace: the check cannot run, so the report is not accepted.
var ErrNoWorkspace = errors.New("no workspace is configured (Options.Workspace)")

func builtinChecks() map[string]CheckFunc {
	file := func(ws fs.FS, spec agents.CheckSpec) (string, error) {
		if ws == nil {
			return "", ErrNoWorkspace
		}
		p := cleanPath(spec.Path)
		if p == "" {
			return "", fmt.Errorf("path %q is not a workspace path", spec.Path)
		}
		return p, nil
	}
	return map[string]CheckFunc{
		CheckFileExists: func(_ context.Context, ws fs.FS, spec agents.CheckSpec, _ *agents.Goal, _ *agents.Report) (bool, string, error) {
			p, err := file(ws, spec)
			if err != nil {
				return false, "", err
			}
			if _, err := fs.Stat(ws, p); err != nil {
				return false, p + " does not exist", nil
			}
			return true, "", nil
		},
		CheckFileAbsent: func(_ context.Context, ws fs.FS, spec agents.CheckSpec, _ *agents.Goal, _ *agents.Report) (bool, string, error) {
			p, err := file(ws, spec)
			if err != nil {
				return false, "", err
			}
			if _, err := fs.Stat(ws, p); err == nil {
				return false, p + " exists", nil
			} else if !errors.Is(err, fs.ErrNotExist) {
				return false, "", err
			}
			return true, "", nil
		},
		CheckFileMatches: func(_ context.Context, ws fs.FS, spec agents.CheckSpec, _ *agents.Goal, _ *agents.Report) (bool, string, error) {
			p, err := file(ws, spec)
			if err != nil {
				return false, "", err
			}
			re, err := regexp.Compile(spec.Pattern)
			if err != nil {
				return false, "", fmt.Errorf("pattern %q: %w", spec.Pattern, err)
			}
			b, why, err := readChecked(ws, p)
			if why != "" || err != nil {
				return false, why, err
			}
			if !re.Match(b) {
				return false, fmt.Sprintf("%s does not match /%s/", p, spec.Pattern), nil
			}
			return true, "", nil
		},
	}
}

// MaxCheckedFileSize bounds the bytes of a file that file_matches reads: a
// larger file cannot be checked, and the report is not accepted.
const MaxCheckedFileSize = 16 << 20

// readChecked reads the workspace file p for file_matches, or says why it
// does not match (why) or cannot be checked (err). Only a regular file is
// opened, and what is opened is checked again (regfile.Read): a FIFO would
// block the run forever. Only a workspace that opens without blocking —
// workspace.Workspace.FS — is safe from a name swapped to a FIFO between
// the check and the open (see Options.Workspace).
func readChecked(ws fs.FS, p string) (b []byte, why string, err error) {
	b, err = regfile.Read(ws, p, MaxCheckedFileSize)
	switch {
	case errors.Is(err, regfile.ErrTooLarge):
		return nil, "", fmt.Errorf("%s is larger than %d bytes: too large to check", p, MaxCheckedFileSize)
	case errors.Is(err, regfile.ErrNotRegular):
		return nil, p + " is not a regular file", nil
	case err != nil:
		return nil, p + " cannot be read: " + err.Error(), nil
	}
	return b, "", nil
}

// checkNames are the names of the runtime's checks, sorted.
func (rt *Runtime) checkNames() []string {
	names := make([]string, 0, len(rt.checks))
	for n := range rt.checks {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// validSpec says what is wrong with spec for this runtime, "" when nothing.
func (rt *Runtime) validSpec(spec agents.CheckSpec, g *agents.Goal) string {
	if _, ok := rt.checks[spec.Kind]; !ok {
		return fmt.Sprintf("unknown check %q (have %s)", spec.Kind, strings.Join(rt.checkNames(), ", "))
	}
	switch spec.Kind {
	case CheckFileExists, CheckFileAbsent, CheckFileMatches:
		if cleanPath(spec.Path) == "" {
			return fmt.Sprintf("check %s: path %q is not a workspace path", spec.Kind, spec.Path)
		}
	}
	if spec.Kind == CheckFileMatches {
		if spec.Pattern == "" {
			// An empty pattern matches every file: the check would only
			// look, so it is refused rather than quietly weakened.
			return fmt.Sprintf("check %s: no pattern (give the text or regular expression %s must match)", spec.Kind, spec.Path)
		}
		if _, err := regexp.Compile(spec.Pattern); err != nil {
			return fmt.Sprintf("check %s: pattern %q: %v", spec.Kind, spec.Pattern, err)
		}
	}
	if spec.Criterion < 0 || (g != nil && spec.Criterion > len(g.Criteria)) {
		return fmt.Sprintf("check %s: criterion %d is not one of the goal's", spec.Kind, spec.Criterion)
	}
	return ""
}

// label names what a check verifies: its criterion, else the check itself.
func label(spec agents.CheckSpec, g *agents.Goal) string {
	if spec.Criterion > 0 && spec.Criterion <= len(g.Criteria) {
		return g.Criteria[spec.Criterion-1]
	}
	return spec.String()
}

// runSpecs runs the goal's checks and the member's on a report, into c.
func (d *delegation) runSpecs(ctx context.Context, rep *agents.Report, c *Checks) {
	specs := append(slices.Clone(d.goal.Checks), d.m.Checks...)
	for _, spec := range specs {
		fn, ok := d.rt.checks[spec.Kind]
		if !ok {
			c.Errors = append(c.Errors, "unknown check "+spec.Kind)
			continue
		}
		ok, why, err := fn(ctx, d.rt.opts.Workspace, spec, d.goal, rep)
		switch {
		case err != nil:
			c.Errors = append(c.Errors, spec.String()+": "+err.Error())
		case !ok:
			c.Unmet = append(c.Unmet, label(spec, d.goal)+" ("+why+")")
		}
	}
}
