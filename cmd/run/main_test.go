package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/orchestrator/teamfile"
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

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no arguments", nil, 2, "", "Usage:"},
		{"help", []string{"-h"}, 0, `run [flags] "GOAL"`, ""},
		{"run help", []string{"--help-me"}, 2, "", "flag provided but not defined"},
		{"run flags help", []string{"--quiet", "-h"}, 0, "--escalations", ""},
		{"replay help", []string{"replay", "-h"}, 0, "Usage: run replay", ""},
		{"no goal", []string{"--quiet"}, 2, "", "no goal"},
		{"bad escalations", append([]string{"--escalations", "maybe", "g"}, files...), 2, "", `--escalations "maybe"`},
		{"negative steps", []string{"--steps", "-1", "g"}, 2, "", "must not be negative"},
		{"json and quiet", []string{"--json", "--quiet", "g"}, 2, "", "choose one"},
		{"missing team file", []string{"--team", filepath.Join(dir, "nope.yaml"), "g"}, 2, "", "nope.yaml"},
		{"unknown persona", append([]string{"--team", badTeam, "g"}, files...), 2, "", `team.yaml:4: agents[0].model: unknown persona "nobody"`},
		{"endpoint without a model name", append([]string{"--base-url", "http://127.0.0.1:1/v1", "g"}, files...), 2, "", "pass --model NAME"},
		{"bad log level", append([]string{"--log-level", "loud", "g"}, files...), 2, "", "--log-level"},
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

func TestParseInterleaved(t *testing.T) {
	var f runFlags
	fs := runFlagSet(&f, &strings.Builder{})
	pos, err := parseInterleaved(fs, []string{"--quiet", "Write", "a haiku", "--criteria", "one", "--criteria", "two"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pos, " ") != "Write a haiku" || !f.quiet || len(f.criteria) != 2 {
		t.Errorf("pos %q, flags %+v", pos, f)
	}
}

func TestModelsSimForcedByTeamFile(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-test")
	t.Setenv("OPENAI_BASE_URL", "")
	f := &runFlags{}
	ms, err := newModels(f, nil)
	if err != nil || ms.offline {
		t.Fatalf("%v, offline %v", err, ms.offline)
	}
	m, err := ms.model(specOf("lead", "sim/eager"))
	if err != nil || m.Name() != "sim/eager" {
		t.Fatalf("%v %v", m, err)
	}
	m, err = ms.model(specOf("w", ""))
	if err != nil || m.Name() != defaultOpenAIModel {
		t.Fatalf("%v %v", m, err)
	}
	m2, _ := ms.model(specOf("x", ""))
	if m2 != m {
		t.Error("the same model name gave two models")
	}
	if s := ms.summary(); !strings.Contains(s, "sim/eager") || !strings.Contains(s, "gpt-4o-mini") || !strings.Contains(s, "api.openai.com") {
		t.Errorf("summary %q", s)
	}
}

func specOf(name, model string) teamfile.AgentSpec {
	return teamfile.AgentSpec{Name: name, Model: model}
}
