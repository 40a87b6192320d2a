package main

import (
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// mainIn runs Main in process with the run's files under a temp directory.
func mainIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb strings.Builder
	code := Main(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestMainUsage(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	dir := t.TempDir()
	files := []string{"--workspace", filepath.Join(dir, "ws"), "--journal", filepath.Join(dir, "j.jsonl"), "--trust", filepath.Join(dir, "trust.json")}
	badTeam := filepath.Join(dir, "team.yaml")
	writeFile(t, badTeam, "lead: a\nagents:\n  - name: a\n    model: sim/nobody\n")
	// A file --journal names that holds something (another run's journal)
	// is refused, and kept as it was.
	held := filepath.Join(dir, "held.jsonl")
	writeFile(t, held, "{\"seq\":1}\n")
	defer func() {
		if b, err := os.ReadFile(held); err != nil || string(b) != "{\"seq\":1}\n" {
			t.Errorf("the journal --journal named became %q (%v)", b, err)
		}
	}()

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no arguments", nil, 2, "", "Usage:"},
		{"help", []string{"-h"}, 0, `run [flags] "GOAL"`, ""},
		{"help command", []string{"help"}, 0, "Exit codes:", ""},
		{"unknown flag", []string{"--help-me"}, 2, "", "unknown flag: --help-me"},
		{"unknown flag near one", []string{"--quite", "a goal"}, 2, "", "did you mean --quiet?"},
		{"a long flag with one dash", []string{"-quiet", "a goal"}, 2, "", "long flags take two dashes: --quiet"},
		{"run flags help", []string{"--quiet", "-h"}, 0, "--escalations MODE", ""},
		{"replay help", []string{"replay", "-h"}, 0, "run replay [flags] JOURNAL", ""},
		{"replay without a journal", []string{"replay"}, 2, "", "run replay: name one journal file"},
		{"resume with a negative call timeout", []string{"resume", "--call-timeout", "-1s", held}, 2, "", "--call-timeout must not be negative"},
		{"resume help", []string{"resume", "-h"}, 0, "--call-timeout D", ""},
		{"a mistyped command", []string{"repaly", "x.jsonl"}, 2, "", "Did you mean this?\n\treplay"},
		{"a one-word goal", append([]string{"Summarise"}, files...), 2, "", "run -- Summarise"},
		{"eval help", []string{"eval", "--help"}, 0, "--min-pass float", ""},
		{"version", []string{"version"}, 0, "run ", ""},
		{"--version", []string{"--version"}, 0, "run ", ""},
		{"completion", []string{"completion", "bash"}, 0, "bash completion", ""},
		{"trust with arguments", []string{"trust", "x"}, 2, "", "unknown command"},
		{"no goal", []string{"--quiet"}, 2, "", "no goal"},
		{"bad escalations", append([]string{"--escalations", "maybe", "a goal"}, files...), 2, "", `--escalations "maybe"`},
		{"negative steps", []string{"--steps", "-1", "a goal"}, 2, "", "--steps -1: must not be negative"},
		{"negative tokens", []string{"--tokens", "-5", "a goal"}, 2, "", "--tokens -5: must not be negative"},
		{"negative timeout", []string{"--timeout", "-1m", "a goal"}, 2, "", "--timeout -1m0s: must not be negative"},
		{"serve with negative tokens", []string{"serve", "--mcp", "--tokens", "-5"}, 2, "", "--tokens -5: must not be negative"},
		{"serve with a negative idle timeout", []string{"serve", "--mcp", "--idle-timeout", "-1s"}, 2, "", "--idle-timeout -1s: must not be negative"},
		{"json and quiet", []string{"--json", "--quiet", "a goal"}, 2, "", "choose one"},
		{"journal exists", []string{"--journal", held, "a goal"}, 2, "", "run resume " + held},
		{"missing team file", []string{"--team", filepath.Join(dir, "nope.yaml"), "a goal"}, 2, "", "nope.yaml"},
		{"unknown persona", append([]string{"--team", badTeam, "a goal"}, files...), 2, "", `team.yaml:4: agents[0].model: unknown persona "nobody"`},
		{"endpoint without a model name", append([]string{"--base-url", "http://127.0.0.1:1/v1", "a goal"}, files...), 2, "", "pass --model NAME"},
		{"bad log level", append([]string{"--log-level", "loud", "a goal"}, files...), 2, "", "--log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := mainIn(t, "", tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errs, tt.stderr) {
				t.Errorf("exit %d (want %d)\n--- stdout\n%s--- stderr\n%s", code, tt.code, out, errs)
			}
		})
	}
}

func TestMainRunsOfflineInProcess(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	dir := t.TempDir()
	code, out, errs := mainIn(t, "", "--workspace", filepath.Join(dir, "ws"), "--journal", filepath.Join(dir, "j.jsonl"),
		"--trust", filepath.Join(dir, "trust.json"), "Write a haiku about delegation", "--criteria", "a haiku is in the workspace")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "offline simulator") || !strings.Contains(out, "completed and verified") {
		t.Errorf("stdout\n%s\nstderr\n%s", out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "trust.json")); err != nil {
		t.Error(err)
	}
}

func TestFlagsInterleaveWithTheGoal(t *testing.T) {
	io := &iostreams{in: strings.NewReader(""), out: &strings.Builder{}, err: &strings.Builder{}}
	root := newRootCmd(io)
	var got *runOptions
	root.RunE = func(c *cobra.Command, args []string) error {
		got = &runOptions{goal: strings.Join(args, " ")}
		got.quiet, _ = c.Flags().GetBool("quiet")
		got.Criteria = *c.Flags().Lookup("criteria").Value.(*cli.StringList)
		return nil
	}
	root.SetArgs([]string{"--quiet", "Write a", "haiku", "--criteria", "one", "--criteria", "two, with a comma"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.goal != "Write a haiku" || !got.quiet || len(got.Criteria) != 2 || got.Criteria[1] != "two, with a comma" {
		t.Errorf("%+v", got)
	}
}

func TestModelsSimForcedByTeamFile(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-test")
	t.Setenv("OPENAI_BASE_URL", "")
	f := &runOptions{}
	ms, err := newModels(f, nil)
	if err != nil || ms.Offline() {
		t.Fatalf("%v, offline %v", err, ms.Offline())
	}
	m, err := ms.Model(specOf("lead", "sim/eager"))
	if err != nil || m.Name() != "sim/eager" {
		t.Fatalf("%v %v", m, err)
	}
	m, err = ms.Model(specOf("w", ""))
	if err != nil || m.Name() != cli.DefaultOpenAIModel {
		t.Fatalf("%v %v", m, err)
	}
	m2, _ := ms.Model(specOf("x", ""))
	if m2 != m {
		t.Error("the same model name gave two models")
	}
	if s := ms.Summary(); !strings.Contains(s, "sim/eager") || !strings.Contains(s, "gpt-4o-mini") || !strings.Contains(s, "api.openai.com") {
		t.Errorf("summary %q", s)
	}
}

// TestModelsOfflineTeamFileNamesARealModel: with no endpoint, a team file
// whose agents name a real model (the README's, "model: gpt-4o-mini") runs
// on the simulator, each agent with its own persona; the model's name is not
// taken for a persona.
func TestModelsOfflineTeamFileNamesARealModel(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	ms, err := newModels(&runOptions{}, nil)
	if err != nil || !ms.Offline() {
		t.Fatalf("%v, offline %v", err, ms.Offline())
	}
	m, err := ms.Model(specOf("lead", "gpt-4o-mini"))
	if err != nil || m.Name() != "sim" {
		t.Fatalf("%v %v", m, err)
	}
	spec := specOf("w", "gpt-4o-mini")
	spec.Persona = "eager"
	if m, err = ms.Model(spec); err != nil || m.Name() != "sim/eager" {
		t.Fatalf("%v %v", m, err)
	}
}

func specOf(name, model string) teamfile.AgentSpec {
	return teamfile.AgentSpec{Name: name, Model: model}
}

func TestFormatVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/entrust-dev/entrust", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-11-29T12:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := formatVersion(bi), "v0.3.0 (0123456789ab+modified 2026-11-29T12:00:00Z) go1.26.8"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := formatVersion(&debug.BuildInfo{GoVersion: "go1.26.8"}), "(devel) go1.26.8"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLevenshtein(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"quite", "quiet", 2}, {"trails", "trials", 2}, {"tokens", "token", 1}, {"", "abc", 3}} {
		if d := levenshtein(c.a, c.b); d != c.d {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", c.a, c.b, d, c.d)
		}
	}
}

// TestSmallThings: the offline notice honours --quiet; an interrupted run
// replays as interrupted, not failed; counts agree with their nouns.
func TestSmallThings(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	dir := t.TempDir()
	code, _, errs := mainIn(t, "", "--quiet", "--workspace", filepath.Join(dir, "ws"), "--journal", filepath.Join(dir, "j.jsonl"),
		"--trust", filepath.Join(dir, "trust.json"), "Write a haiku about delegation")
	if code != 0 || strings.Contains(errs, "offline simulator") {
		t.Errorf("exit %d, --quiet still tells of the simulator:\n%s", code, errs)
	}

	b, err := os.ReadFile("testdata/haiku.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	last := `{"seq":38,"time":"2026-11-26T19:18:28.033342064Z","run":"20261126-191828-c8518a","type":"run.finished","agent":"lead","status":"failed","cause":"cancelled","reason":"cancelled: interrupt"}` + "\n"
	interrupted := filepath.Join(dir, "interrupted.jsonl")
	writeFile(t, interrupted, strings.Join(lines[:len(lines)-1], "")+last)
	code, out, errs := mainIn(t, "", "replay", interrupted)
	if code != 0 || !strings.Contains(strings.SplitN(out, "\n", 2)[0], "interrupted") || !strings.Contains(out, "outcome: interrupted:") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
	if strings.Contains(out, " 1 steps") {
		t.Errorf("1 steps:\n%s", out)
	}
}

// TestREADMEMatchesHelp: the README's command-line section names every
// command and every flag of run's help.
func TestREADMEMatchesHelp(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## The command line")
	end := strings.Index(readme[start+1:], "\n## ")
	section := readme[start : start+1+end]
	root := newRootCmd(&iostreams{in: strings.NewReader(""), out: io.Discard, err: io.Discard})
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if !c.Hidden && !strings.Contains(section, "run "+c.Name()) {
			t.Errorf("the README's command-line section does not name run %s", c.Name())
		}
	}
	root.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && f.Name != "version" && !strings.Contains(section, "`--"+f.Name) {
			t.Errorf("the README's command-line section does not name --%s", f.Name)
		}
	})
	for _, env := range []string{"NO_COLOR", "OPENAI_API_KEY", "OPENAI_BASE_URL"} {
		if !strings.Contains(readme, env) {
			t.Errorf("the README does not name %s", env)
		}
	}
}
