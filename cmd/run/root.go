package main

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// iostreams are the standard streams of one invocation; commands write
// nowhere else, so tests run them in process.
type iostreams struct {
	in       io.Reader
	out, err io.Writer
}

// newRootCmd builds the command tree. The root command is "run GOAL"
// itself; every other command is a subcommand added here, one file each.
func newRootCmd(io *iostreams) *cobra.Command {
	root := newRunCmd(io)
	root.AddCommand(
		newReplayCmd(io),
		newResumeCmd(io),
		newEvalCmd(io),
		newTrustCmd(io),
		newViewCmd(io),
		newVersionCmd(io),
		newToolsCmd(io),
		newServeCmd(io),
	)
	root.Version = versionString()
	root.SetVersionTemplate("run {{.Version}}\n")
	root.SetIn(io.in)
	root.SetOut(io.out)
	root.SetErr(io.err)
	root.SuggestionsMinimumDistance = 2
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetFlagErrorFunc(flagError)
	root.SetUsageTemplate(strings.TrimRight(root.UsageTemplate(), "\n") + footerTemplate)
	root.CompletionOptions.HiddenDefaultCmd = false
	return root
}

// footerTemplate ends a command's help with its "footer" annotation: exit
// codes, environment.
const footerTemplate = `{{with index .Annotations "footer"}}

{{.}}{{end}}
`

// exitError ends a command with an exit code. Its Err is said on stderr
// (prefixed by the command's path); a nil Err was said already. A usage
// error adds where to read the command's help.
type exitError struct {
	code  int
	err   error
	usage bool
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a mistake in the command line itself: exit 2, with a
// pointer to the help.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...), usage: true}
}

// configError is a mistake in the configuration (a team file, an endpoint,
// a suite): exit 2, said once, with no pointer to the help.
func configError(err error) error {
	return &exitError{code: exitUsage, err: err}
}

// exitWith ends with code once the command has said why.
func exitWith(code int) error {
	if code == exitOK {
		return nil
	}
	return &exitError{code: code}
}

// exitCode says err on stderr, once, and returns the exit code. Errors that
// come from cobra itself (flags, arguments) are usage errors.
func exitCode(io *iostreams, cmd *cobra.Command, err error) int {
	if err == nil {
		return exitOK
	}
	name := "run"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		ee = &exitError{code: exitUsage, err: err, usage: true}
	}
	if ee.err != nil {
		fmt.Fprintf(io.err, "%s: %v\n", name, ee.err)
	}
	if ee.usage {
		fmt.Fprintf(io.err, "see '%s --help'\n", name)
	}
	return ee.code
}

var (
	unknownLongFlag  = regexp.MustCompile(`^unknown flag: --([^=\s]+)`)
	unknownShortFlag = regexp.MustCompile(`^unknown shorthand flag: '.' in -([^=\s]+)`)
)

// flagError adds "did you mean" to an unknown flag: the flags of the command
// within two edits of it, or the long flag a single dash was meant for.
func flagError(c *cobra.Command, err error) error {
	msg := err.Error()
	var name string
	if m := unknownLongFlag.FindStringSubmatch(msg); m != nil {
		name = m[1]
	} else if m := unknownShortFlag.FindStringSubmatch(msg); m != nil {
		name = m[1]
		if c.Flags().Lookup(name) != nil {
			return usageErrorf("unknown flag -%s: long flags take two dashes: --%s", name, name)
		}
	}
	if name == "" {
		return usageErrorf("%v", err)
	}
	var near []string
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && (levenshtein(name, f.Name) <= 2 || strings.HasPrefix(f.Name, name)) {
			near = append(near, "--"+f.Name)
		}
	})
	if len(near) == 0 {
		return usageErrorf("%v", err)
	}
	slices.Sort(near)
	return usageErrorf("%v (did you mean %s?)", err, strings.Join(near, " or "))
}

// levenshtein is the edit distance of a and b, by byte: flag names are
// ASCII. (cobra computes the same for command suggestions but does not
// export it.)
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// goalArgs is the root command's argument rule: the words that follow the
// flags are the goal, unless the first one is a single word — then it is
// taken for a mistyped command ("run repaly x.jsonl" must not spend tokens
// on the goal "repaly x.jsonl"). A goal of one word goes after "--"; a goal
// quoted as one argument with a space in it is always a goal.
func goalArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 || c.ArgsLenAtDash() == 0 || strings.ContainsFunc(args[0], isSpace) {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	msg += fmt.Sprintf("\n\nA goal is quoted as one argument (run \"Write a haiku\"); a goal of one word goes after --: run -- %s", args[0])
	return &exitError{code: exitUsage, err: errors.New(msg)}
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' }
