package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/internal/openaitest"
	"github.com/entrust-dev/entrust/orchestrator"
)

// crashTeam has a lead that asks the user a question before accepting (an
// escalation answered by --escalations auto), then delegates to two writers
// at once; the delegator's model judges and verifies.
const crashTeam = `lead: lead
agents:
  - name: lead
    role: Leads the work and delegates the writing.
    model: lead-model
    delegates_to: [writer, notes]
    supervision: {level: new}
  - name: writer
    role: Writes files in the workspace.
    model: writer-model
    tools: [write_file, read_file, list_files]
    supervision: {level: new}
  - name: notes
    role: Writes notes about delegation in the workspace.
    model: notes-model
    tools: [write_file, read_file, list_files]
    supervision: {level: new}
`

// crashServer serves the team's models over the loopback server. With a
// gate, it holds every model call that arrives once the gate says so, until
// the call's client goes away: a kill then lands with those calls in flight
// whatever the machine's load.
func crashServer(t *testing.T, gate func(*openaitest.ChatRequest) bool, held chan<- struct{}) *openaitest.Server {
	t.Helper()
	models := map[string]model.Model{
		"lead-model":   sim.New("lead-model", &sim.Options{Persona: sim.OverAsker}),
		"writer-model": sim.New("writer-model", nil),
		"notes-model":  sim.New("notes-model", nil),
	}
	answer := byModel(t, models)
	handler := func(req *openaitest.ChatRequest) openaitest.Reply {
		if gate != nil && gate(req) {
			select {
			case held <- struct{}{}:
			default:
			}
			<-req.Context().Done()
			return openaitest.Error(503, openaitest.ErrorBody("held for the kill", "server_error", ""))
		}
		return answer(req)
	}
	return openaitest.NewServer(t, &openaitest.Options{Handler: handler})
}

// callOf names the call a request to crashServer makes as the journal's
// model.called does: the agent (its model is "<agent>-model") and the purpose
// the protocol tool it offers gives away.
func callOf(req *openaitest.ChatRequest) string {
	purpose := model.PurposeTurn
	for _, tool := range req.Tools {
		switch tool.Function.Name {
		case agents.ToolJudgeAlignment:
			purpose = model.PurposeJudge
		case agents.ToolVerifyReport:
			purpose = model.PurposeVerify
		case agents.ToolAnswerEscalation:
			purpose = model.PurposeAnswer
		}
	}
	return strings.TrimSuffix(req.Model, "-model") + " " + string(purpose)
}

// countLines counts the complete lines of the file at path.
func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte{'\n'})
}

// A real run of the command, killed with SIGKILL once its journal holds N
// events and a model call made after them is held by the server, for N
// across the whole run, then resumed with "run resume", ends as an
// uninterrupted run does: same outcome, no side-effecting tool's result
// recorded twice, and no more model calls in all than the uninterrupted run
// made plus those in flight at the kill.
func TestCrashAndResume(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGKILL on Windows")
	}
	// The uninterrupted run.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "team.yaml"), crashTeam)
	srv := crashServer(t, nil, nil)
	args := []string{"--team", "team.yaml", "--base-url", srv.URL, "--escalations", "auto", "--quiet", "--journal", "run.jsonl", "Write notes about delegation"}
	ref := runBinary(t, dir, "", args...)
	if ref.code != 0 {
		t.Fatalf("the uninterrupted run: %s", ref)
	}
	want := ref.journal(t, "run.jsonl")
	refCalls := srv.Count()
	checkComplete(t, want)

	// The run waits on its model calls; everything else takes
	// microseconds. So the kills are aimed just before each model call of
	// the uninterrupted run (its events are those of any run): the kill
	// lands with that call in flight, in every phase it has — acceptance,
	// the escalation before it, the judge, the workers' tools, between the
	// two sibling delegations, the verification, the lead's report.
	var ns []int
	for i, e := range want {
		if e.Type == orchestrator.EventModelCalled {
			ns = append(ns, i)
		}
	}

	// landed names the phases the kills landed in: the call in flight and
	// the last event the killed run's journal holds.
	landed := map[string]bool{}
	phase := func(aim string, cut []*orchestrator.Event) string {
		last := cut[len(cut)-1]
		after := string(last.Type)
		if last.Tool != "" {
			after += "(" + last.Tool + ")"
		}
		return aim + " call in flight after " + after
	}
	for _, n := range ns {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "team.yaml"), crashTeam)
			journal := filepath.Join(dir, "run.jsonl")
			// The journal is written before each model call is made (the run
			// commits it before each effect), so a call that finds n lines
			// there is one made after the n-th event: the server holds it,
			// and every later one.
			held := make(chan struct{}, 1)
			// Sibling delegations run at once, so the call made first after
			// the n-th event need not be the uninterrupted run's next one:
			// the server holds that one (same agent and purpose) and lets
			// any other through, so every phase is aimed at on every run.
			aim := want[n].Agent + " " + string(want[n].Purpose)
			srv := crashServer(t, func(req *openaitest.ChatRequest) bool {
				return countLines(journal) >= n && callOf(req) == aim
			}, held)
			args := []string{"--team", "team.yaml", "--base-url", srv.URL, "--escalations", "auto", "--quiet", "--journal", "run.jsonl", "Write notes about delegation"}
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			cmd, _, _ := command(ctx, dir, "", args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			var err error
			select {
			case <-held:
				cmd.Process.Signal(syscall.SIGKILL)
				err = <-exited
			case err = <-exited:
			case <-ctx.Done():
				t.Fatalf("no model call was made after %d events", n)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Skipf("the run ended before the kill: %v", err)
			}
			// Closing the server waits for the requests the killed process
			// sent: the count is then all it asked for.
			srv.Close()
			before := srv.Count()
			f, err := os.Open(journal)
			if err != nil {
				t.Fatal(err)
			}
			cut, _, err := orchestrator.ReadJournal(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			last := cut[len(cut)-1]
			landed[phase(aim, cut)] = true
			recorded := len(ofType(cut, orchestrator.EventModelCalled))
			if last.Type == orchestrator.EventRunFinished {
				t.Skip("killed after the run finished")
			}

			// The journal's mark, outside it, is never ahead of it, and is
			// at least every action tool call that ran.
			var ran, called int64
			for _, e := range cut {
				if e.Type == orchestrator.EventToolCalled && e.Tool == "write_file" {
					called = e.Seq
				}
				if e.Type == orchestrator.EventToolResult && e.Tool == "write_file" {
					ran = called
				}
			}
			if mark := readMark(t, cut[0].Run); mark > called || mark < ran {
				t.Errorf("mark %d; the journal's last write_file call is event %d, the last that ran %d", mark, called, ran)
			}

			srv2 := crashServer(t, nil, nil)
			res := runBinary(t, dir, "", "resume", "--quiet", "--base-url", srv2.URL, "run.jsonl")
			if res.code != ref.code {
				t.Fatalf("killed after %d events (%s), resumed: %s", len(cut), last.Type, res)
			}
			if mark := readMark(t, cut[0].Run); mark != 0 {
				t.Errorf("the run ended and its mark %d is still kept", mark)
			}
			got := res.journal(t, "run.jsonl")
			checkComplete(t, got)
			if len(ofType(got, orchestrator.EventRunResumed)) != 1 {
				t.Error("the resumed journal has no run.resumed")
			}
			fin, wantFin := got[len(got)-1], want[len(want)-1]
			if fin.Status != wantFin.Status || fin.Result != wantFin.Result {
				t.Errorf("resumed run finished %s %q, the uninterrupted one %s %q", fin.Status, fin.Result, wantFin.Status, wantFin.Result)
			}
			results := map[string]int{}
			for _, e := range got {
				if e.Type == orchestrator.EventToolResult && e.Tool == "write_file" {
					k := fmt.Sprintf("%s/%s/t%d/c%d", e.Delegation, e.Conversation, e.Turn, e.CallIndex)
					if results[k]++; results[k] > 1 {
						t.Errorf("write_file's result %s recorded twice", k)
					}
				}
			}
			if w, g := len(ofType(want, orchestrator.EventToolResult)), len(ofType(got, orchestrator.EventToolResult)); g != w {
				t.Errorf("the resumed journal holds %d tool results, the uninterrupted one %d", g, w)
			}
			inFlight := before - recorded
			if total := before + srv2.Count(); total > refCalls+inFlight {
				t.Errorf("%d model calls in all (%d before the kill, %d recorded), the uninterrupted run made %d: more than the %d in flight",
					total, before, recorded, refCalls, inFlight)
			}
			var types, wantTypes []string
			for _, e := range got {
				if e.Type != orchestrator.EventRunResumed {
					types = append(types, string(e.Type))
				}
			}
			for _, e := range want {
				wantTypes = append(wantTypes, string(e.Type))
			}
			if len(types) != len(wantTypes) {
				t.Errorf("the resumed journal holds %d events (run.resumed aside), the uninterrupted one %d", len(types), len(wantTypes))
			}
		})
	}
	got := strings.Join(keys(landed), "; ")
	t.Logf("kills landed: %s", got)
	for _, p := range []string{"lead judge", "lead verify", "after tool.result(ask_clarification)"} {
		if !strings.Contains(got, p) {
			t.Errorf("no kill landed with %s", p)
		}
	}
	// The two writers run at once: which of them a kill lands on is the
	// scheduler's choice, so one of them is what can be asked.
	if !strings.Contains(got, "writer turn") && !strings.Contains(got, "notes turn") {
		t.Error("no kill landed with a worker's turn")
	}
}

func keys(m map[string]bool) []string {
	out := slices.Collect(maps.Keys(m))
	slices.Sort(out)
	return out
}

// A journal that cannot be resumed is refused with exit 2 and a reason,
// and is left as it was.
func TestResumeRefused(t *testing.T) {
	dir := t.TempDir()
	ref := runBinary(t, dir, "", "--quiet", "--escalations", "auto", "--journal", "run.jsonl", "Write a haiku about delegation")
	if ref.code != 0 {
		t.Fatalf("the run: %s", ref)
	}
	full, err := os.ReadFile(filepath.Join(dir, "run.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(full, []byte("\n"))
	writeFile(t, filepath.Join(dir, "corrupt.jsonl"), string(bytes.Join([][]byte{lines[0], []byte("{not json\n"), lines[1]}, nil)))
	writeFile(t, filepath.Join(dir, "cut.jsonl"), string(bytes.Join(lines[:12], nil)))
	// A run on Temporal is its workers' to carry on: its journal, sealed by
	// entrust-temporal run as run seals its own, is refused.
	tj := readJournal(t, filepath.Join(dir, "cut.jsonl"))
	var cfg map[string]any
	if err := json.Unmarshal(tj[0].Config, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["temporal"] = map[string]string{"address": "localhost:7233", "namespace": "default", "task_queue": "entrust"}
	tj[0].Config, _ = json.Marshal(cfg)
	key, _, err := orchestrator.LoadJournalKey(true)
	if err != nil {
		t.Fatal(err)
	}
	j, err := orchestrator.CreateJournal(filepath.Join(dir, "temporal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Seal(key, ""); err != nil {
		t.Fatal(err)
	}
	for _, e := range tj {
		if err := j.Emit(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "other.yaml"), "lead: solo\nagents:\n  - name: solo\n    role: Works alone.\n    tools: [write_file]\n")
	// Forgeries of the cut journal by someone who can edit it but does not
	// hold the key: a recorded result changed, a future event added, an
	// event dropped, the seals removed.
	forge := func(name string, ls ...[]byte) {
		writeFile(t, filepath.Join(dir, name), string(bytes.Join(ls, nil)))
	}
	edited := bytes.Replace(lines[8], []byte(`"agent":"`), []byte(`"agent":"x`), 1)
	forge("edited.jsonl", append(append(slices.Clone(lines[:8]), edited), lines[9:12]...)...)
	forge("added.jsonl", append(slices.Clone(lines[:12]), bytes.Replace(lines[12], []byte(`"seq":13`), []byte(`"seq":13,"is_error":true`), 1))...)
	forge("dropped.jsonl", append(slices.Clone(lines[:5]), lines[6:12]...)...)
	unsealed := unseal(bytes.Join(lines[:12], nil))
	forge("stripped.jsonl", bytes.Replace(unsealed, []byte("Write a haiku about delegation"), []byte("Delete every file"), 1))
	noDigest := regexp.MustCompile(`,"goal_hash":"[0-9a-f]+"`).ReplaceAll(unsealed, nil)
	// Seals, key_id and goal_hash all stripped: it reads as a journal from
	// before seals, but its run sealed it here (the sealed record).
	forge("stripped-all.jsonl", noDigest)
	// A journal of a run from before seals (and goal digests), which this
	// machine never sealed: another run id.
	run := tj[0].Run
	forge("unsigned.jsonl", bytes.ReplaceAll(noDigest, []byte(`"run":"`+run+`"`), []byte(`"run":"20250101-000000-legacy"`)))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"edited", []string{"edited.jsonl"}, "integrity broken at event 9"},
		{"added", []string{"added.jsonl"}, "integrity broken at event 13"},
		{"dropped", []string{"dropped.jsonl"}, "integrity broken at event 6"},
		{"unsigned", []string{"unsigned.jsonl"}, "it is not signed"},
		{"seals stripped, resumed as unsigned", []string{"--unsigned", "stripped.jsonl"}, "its seals were removed"},
		{"seals, key and goal digest stripped, resumed as unsigned", []string{"--unsigned", "stripped-all.jsonl"}, "a run here sealed a journal of run"},
		{"finished", []string{"run.jsonl"}, "the run finished"},
		{"corrupt", []string{"corrupt.jsonl"}, "journal line 2"},
		{"missing", []string{"nowhere.jsonl"}, "no such file"},
		{"another team", []string{"--team", "other.yaml", "cut.jsonl"}, "another team"},
		{"two journals", []string{"run.jsonl", "cut.jsonl"}, "name one journal file"},
		{"on Temporal", []string{"temporal.jsonl"}, "a run on Temporal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(filepath.Join(dir, tc.args[len(tc.args)-1]))
			res := runBinary(t, dir, "", append([]string{"resume", "--quiet"}, tc.args...)...)
			if res.code != 2 || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("want exit 2 saying %q: %s", tc.want, res)
			}
			after, _ := os.ReadFile(filepath.Join(dir, tc.args[len(tc.args)-1]))
			if !bytes.Equal(before, after) {
				t.Error("a refused resume changed the journal")
			}
		})
	}
	// Cut short after a tool call its run wrote (the mark says so): refused,
	// as a resume would make the call again.
	t.Run("cut after a written tool call", func(t *testing.T) {
		run := ref.journal(t, "cut.jsonl")[0].Run
		mark := markFile(run)
		if err := os.MkdirAll(filepath.Dir(mark), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, mark, "13\n")
		defer os.Remove(mark)
		res := runBinary(t, dir, "", "resume", "--quiet", "cut.jsonl")
		if res.code != 2 || !strings.Contains(res.stderr, "it ends at event 12, but its run wrote a tool call as event 13") {
			t.Errorf("want exit 2 saying the journal was cut short: %s", res)
		}
	})
	// Sealed with another key: refused, and said so.
	t.Run("another key", func(t *testing.T) {
		t.Setenv(orchestrator.EnvJournalKey, strings.Repeat("k", 32))
		res := runBinary(t, dir, "", "resume", "--quiet", "cut.jsonl")
		if res.code != 2 || !strings.Contains(res.stderr, "sealed with another key") {
			t.Errorf("want exit 2 saying the journal is sealed with another key: %s", res)
		}
		if res := runBinary(t, dir, "", "replay", "cut.jsonl"); res.code != 1 || !strings.Contains(res.stdout, "integrity: sealed with another key") {
			t.Errorf("replay: want it shown, exit 1: %s", res)
		}
	})
	// Replay shows each; one that cannot be believed exits 1.
	for file, want := range map[string]struct {
		shown string
		code  int
	}{"cut.jsonl": {"integrity: verified", 0}, "added.jsonl": {"integrity: broken at event 13", 1}, "unsigned.jsonl": {"integrity: not signed", 0}} {
		if res := runBinary(t, dir, "", "replay", file); res.code != want.code || !strings.Contains(res.stdout, want.shown) {
			t.Errorf("replay %s: want %q, exit %d: %s", file, want.shown, want.code, res)
		}
	}
	// An unsigned journal resumes when asked to, and stays unsigned.
	res := runBinary(t, dir, "", "resume", "--quiet", "--unsigned", "unsigned.jsonl")
	if res.code != 0 {
		t.Fatalf("resume --unsigned: %s", res)
	}
	if res := runBinary(t, dir, "", "replay", "unsigned.jsonl"); !strings.Contains(res.stdout, "integrity: not signed") {
		t.Errorf("the resumed unsigned journal: %s", res)
	}
	// The cut journal, with its own team, resumes to the same end, and its
	// appended lines continue the chain.
	res = runBinary(t, dir, "", "resume", "--quiet", "cut.jsonl")
	if res.code != 0 {
		t.Fatalf("resume: %s", res)
	}
	got := res.journal(t, "cut.jsonl")
	checkComplete(t, got)
	if n, want := len(got), len(lines); n != want { // run.resumed, and no torn last line
		t.Errorf("the resumed journal holds %d events, the run's %d and run.resumed", n, want)
	}
	if res := runBinary(t, dir, "", "replay", "cut.jsonl"); !strings.Contains(res.stdout, "integrity: verified") {
		t.Errorf("the resumed journal: %s", res)
	}
}

// deadEndpoint is an address nothing listens at. A port a test listened at
// and closed is no such address: the tests of other packages, run at the
// same time, start loopback servers on ports the system hands out, and one
// took such a port, so that a "dead" endpoint answered with another test's
// script (and that test's script ran out). Port 1 is never handed out.
const deadEndpoint = "http://127.0.0.1:1/v1"

// unseal removes a journal's seals and key id, as someone editing it might.
func unseal(journal []byte) []byte {
	return regexp.MustCompile(`,"(seal|key_id)":"[0-9a-f]+"`).ReplaceAll(journal, nil)
}

// A resume whose endpoint cannot be reached exits 2 and leaves the journal
// as a crash there would, without the cancellation it caused: it can be
// resumed again once the endpoint is up, to the uninterrupted run's end.
func TestResumeWithEndpointDown(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "team.yaml"), crashTeam)
	srv := crashServer(t, nil, nil)
	ref := runBinary(t, dir, "", "--team", "team.yaml", "--base-url", srv.URL, "--escalations", "auto", "--quiet", "--journal", "run.jsonl", "Write notes about delegation")
	if ref.code != 0 {
		t.Fatalf("the run: %s", ref)
	}
	want := ref.journal(t, "run.jsonl")
	full, err := os.ReadFile(filepath.Join(dir, "run.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(full, []byte("\n"))
	writeFile(t, filepath.Join(dir, "cut.jsonl"), string(bytes.Join(lines[:12], nil)))

	closed := deadEndpoint
	res := runBinary(t, dir, "", "resume", "--quiet", "--base-url", closed, "cut.jsonl")
	if res.code != 2 || !strings.Contains(res.stderr, "cannot reach") || !strings.Contains(res.stderr, "run resume cut.jsonl once it is up") {
		t.Fatalf("want exit 2 saying the endpoint cannot be reached: %s", res)
	}
	cut := res.journal(t, "cut.jsonl")
	for _, e := range cut {
		if e.Type == orchestrator.EventRunFinished || e.Type.Terminal() {
			t.Fatalf("the resume with its endpoint down ended the run (%s): it can no longer be resumed", e.Type)
		}
	}

	srv2 := crashServer(t, nil, nil)
	res = runBinary(t, dir, "", "resume", "--quiet", "--base-url", srv2.URL, "cut.jsonl")
	if res.code != 0 {
		t.Fatalf("the resume once the endpoint is up: %s", res)
	}
	got := res.journal(t, "cut.jsonl")
	checkComplete(t, got)
	if fin, wantFin := got[len(got)-1], want[len(want)-1]; fin.Status != wantFin.Status || fin.Result != wantFin.Result {
		t.Errorf("resumed run finished %s %q, the uninterrupted one %s %q", fin.Status, fin.Result, wantFin.Status, wantFin.Result)
	}
}

// proxy forwards the connections it accepts to an address until it is
// killed: then it refuses new ones and cuts those it holds, as an endpoint
// that dies does.
type proxy struct {
	l      net.Listener
	mu     sync.Mutex
	conns  []net.Conn
	killed bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	// Once killed, its port must stay dead: other packages' tests, run at
	// the same time, take ports on 127.0.0.1 for their loopback servers
	// (see deadEndpoint), so the proxy listens on another loopback address
	// where the system allows one (Linux routes all of 127.0.0.0/8 to lo).
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.killed {
				c.Close()
				up.Close()
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(p.kill)
	return p
}

func (p *proxy) kill() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.killed = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// A fresh run whose endpoint dies mid-run stops as a crash there would:
// exit 2, saying how to resume, and a journal without the cancellation the
// failure caused (which would make it finished, and not resumable); once
// the endpoint is back, "run resume" ends it as the uninterrupted run ends.
func TestRunWithEndpointDying(t *testing.T) {
	want := uninterruptedCrashRun(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "team.yaml"), crashTeam)
	// The endpoint dies while it holds the run's fifth model call.
	var calls atomic.Int32
	held := make(chan struct{}, 1)
	srv := crashServer(t, func(*openaitest.ChatRequest) bool { return calls.Add(1) > 4 }, held)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	go func() {
		<-held
		p.kill()
	}()
	u.Host = p.l.Addr().String()
	res := runBinary(t, dir, "", crashRunArgs(u.String())...)
	if res.code != 2 || !strings.Contains(res.stderr, "cannot reach") || !strings.Contains(res.stderr, "run resume run.jsonl once it is up") {
		t.Fatalf("want exit 2 saying the endpoint cannot be reached and how to resume: %s", res)
	}
	cut := res.journal(t, "run.jsonl")
	checkResumable(t, cut)
	if len(ofType(cut, orchestrator.EventModelCalled)) != 4 {
		t.Errorf("%d model calls recorded, want the 4 made before the endpoint died", len(ofType(cut, orchestrator.EventModelCalled)))
	}
	checkResumedAsUninterrupted(t, dir, want)
}

// crashRunArgs are the arguments of a run of crashTeam (team.yaml) against
// the endpoint at url, its journal run.jsonl.
func crashRunArgs(url string) []string {
	return []string{"--team", "team.yaml", "--base-url", url, "--escalations", "auto", "--quiet", "--journal", "run.jsonl", "Write notes about delegation"}
}

// uninterruptedCrashRun runs crashTeam to its end against crashServer and
// returns its journal.
func uninterruptedCrashRun(t *testing.T) []*orchestrator.Event {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "team.yaml"), crashTeam)
	ref := runBinary(t, dir, "", crashRunArgs(crashServer(t, nil, nil).URL)...)
	if ref.code != 0 {
		t.Fatalf("the uninterrupted run: %s", ref)
	}
	return ref.journal(t, "run.jsonl")
}

// checkResumable fails t if the journal of a run an endpoint stopped holds
// what would keep it from being resumed as it stood: a terminal event or
// a failed model call.
func checkResumable(t *testing.T, events []*orchestrator.Event) {
	t.Helper()
	for _, e := range events {
		if e.Type == orchestrator.EventRunFinished || e.Type.Terminal() || (e.Type == orchestrator.EventModelCalled && e.Error != "") {
			t.Fatalf("the run the endpoint stopped recorded %s %s: it cannot be resumed as it stood", e.Type, e.Error)
		}
	}
}

// checkResumedAsUninterrupted resumes dir's run.jsonl against a crashServer
// that answers and checks that it ends as want, the uninterrupted run's
// journal, ends.
func checkResumedAsUninterrupted(t *testing.T, dir string, want []*orchestrator.Event) {
	t.Helper()
	res := runBinary(t, dir, "", "resume", "--quiet", "--base-url", crashServer(t, nil, nil).URL, "run.jsonl")
	if res.code != 0 {
		t.Fatalf("the resume once the endpoint answers: %s", res)
	}
	got := res.journal(t, "run.jsonl")
	checkComplete(t, got)
	if fin, wantFin := got[len(got)-1], want[len(want)-1]; fin.Status != wantFin.Status || fin.Result != wantFin.Result {
		t.Errorf("resumed run finished %s %q, the uninterrupted one %s %q", fin.Status, fin.Result, wantFin.Status, wantFin.Result)
	}
}

// readMark reads run's journal mark; 0 when there is none.
func readMark(t *testing.T, run string) int64 {
	t.Helper()
	b, err := os.ReadFile(markFile(run))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
