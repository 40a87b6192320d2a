package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/trust"
	"go.temporal.io/server/temporaltest"
)

// TestRunAsInProcess is the "done when" as a test: the same goal on
// the simulator, with run (cmd/run's binary) and with entrust-temporal run
// on a worker of an in-process server, shows the same live view (line for
// line once times, run ids and durations are normalised) and the same
// summary, writes a journal of the same events (type, agent, delegation,
// tool, tokens, in order) that run replay reads alike, and leaves the same
// trust ledger.
func TestRunAsInProcess(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	t.Setenv("NO_COLOR", "1")
	dir := t.TempDir()
	bin := buildRun(t, dir)

	const goal = "Write an onboarding guide for the repository"
	flags := []string{"--escalations", "auto", "--criteria", "The guide explains how to build and test",
		"--verify", "exists:write-an-onboarding-guide-for-the-repository.md", "--tokens", "200000", "--timeout", "10m", "--steps", "30"}

	// In process.
	local := filepath.Join(dir, "local")
	cmd := exec.Command(bin, append(flags, "--workspace", filepath.Join(local, "ws"), "--journal", filepath.Join(local, "run.jsonl"),
		"--trust", filepath.Join(local, "trust.json"), goal)...)
	var localOut, localErr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &localOut, &localErr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, localOut.String(), localErr.String())
	}

	// On Temporal.
	remote := filepath.Join(dir, "remote")
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	w, err := buildWorker(&workerOptions{workspace: filepath.Join(remote, "ws"), trust: filepath.Join(remote, "trust.json"), errOut: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer w.release()
	ts.NewWorker("entrust", w.Register)
	var out, errOut bytes.Buffer
	code := run(append(append([]string{"run", "--address", ts.GetFrontendHostPort(), "--namespace", ts.GetDefaultNamespace()}, flags...),
		"--journal", filepath.Join(remote, "run.jsonl"), "--trust", filepath.Join(remote, "trust.json"), goal), strings.NewReader(""), &out, &errOut)
	if code != exitOK {
		t.Fatalf("entrust-temporal run: exit %d\n%s\n%s", code, out.String(), errOut.String())
	}

	if got, want := normalise(out.String()), normalise(localOut.String()); got != want {
		t.Errorf("the live views differ\nentrust-temporal run:\n%s\nrun:\n%s", got, want)
	}
	if s := errOut.String(); !strings.Contains(s, "entrust: team lead (lead), writer, reviewer · workflow ") ||
		!strings.Contains(s, "journal: "+filepath.Join(remote, "run.jsonl")+"  (replay: run replay ") {
		t.Errorf("stderr:\n%s", s)
	}

	le, re := readJournal(t, filepath.Join(local, "run.jsonl")), readJournal(t, filepath.Join(remote, "run.jsonl"))
	if got, want := eventLines(re), eventLines(le); got != want {
		t.Errorf("the journals differ\nentrust-temporal run:\n%s\nrun:\n%s", got, want)
	}
	if len(re) < 10 {
		t.Errorf("only %d events", len(re))
	}
	// run replay reads the Temporal journal as run's own.
	replay := func(path string) string {
		var o, e bytes.Buffer
		c := exec.Command(bin, "replay", path)
		c.Stdout, c.Stderr = &o, &e
		if err := c.Run(); err != nil {
			t.Fatalf("run replay %s: %v\n%s", path, err, e.String())
		}
		return normalise(o.String())
	}
	if got, want := replay(filepath.Join(remote, "run.jsonl")), replay(filepath.Join(local, "run.jsonl")); got != want {
		t.Errorf("the replays differ\nof entrust-temporal run's journal:\n%s\nof run's:\n%s", got, want)
	}

	// The trust ledgers learnt the same.
	lt, err := trust.Open(filepath.Join(local, "trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := trust.Open(filepath.Join(remote, "trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := scores(rt), scores(lt); got != want || want == "" {
		t.Errorf("the trust ledgers differ\nentrust-temporal run:\n%s\nrun:\n%s", got, want)
	}
}

// buildRun builds cmd/run of the root module into dir.
func buildRun(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build cmd/run with")
	}
	bin := filepath.Join(dir, "run")
	c := exec.Command(goTool, "build", "-o", bin, "./cmd/run")
	c.Dir = filepath.Join("..", "..", "..")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/run: %v\n%s", err, b)
	}
	return bin
}

var (
	runIDRE    = regexp.MustCompile(`\b(entrust-)?\d{8}-\d{6}-[0-9a-f]{6}\b`)
	elapsedRE  = regexp.MustCompile(`\[\s*\d+\.\d+s\]`)
	durationRE = regexp.MustCompile(`(\d+h)?(\d+m)?\d+(\.\d+)?(ns|µs|ms|s)\b`)
	dateRE     = regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC`)
	pathRE     = regexp.MustCompile(`/\S*/(local|remote)/`)
)

// normalise takes out of a view what differs from run to run: run ids,
// times, durations and the test's directories.
func normalise(s string) string {
	s = runIDRE.ReplaceAllString(s, "RUN")
	s = elapsedRE.ReplaceAllString(s, "[T]")
	s = dateRE.ReplaceAllString(s, "DATE")
	s = pathRE.ReplaceAllString(s, "DIR/")
	return durationRE.ReplaceAllString(s, "D")
}

func readJournal(t *testing.T, path string) []*orchestrator.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, _, err := orchestrator.ReadJournal(f)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// eventLines are the journal's events as compared: what each is, who and
// where, and the tokens it counts.
func eventLines(events []*orchestrator.Event) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "%s %s %s %s %s %s", e.Type, e.Agent, e.Delegation, e.Delegator, e.Tool, e.Status)
		if e.Usage != nil {
			fmt.Fprintf(&b, " usage %d", e.Usage.Total())
		}
		if e.Total != nil {
			fmt.Fprintf(&b, " total %d", e.Total.Total())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func scores(l *trust.Ledger) string {
	var b strings.Builder
	for _, r := range l.Records() {
		m, sd := r.Score()
		fmt.Fprintf(&b, "%s %s %.4f %.4f\n", r.Agent, r.Model, m, sd)
	}
	return b.String()
}
