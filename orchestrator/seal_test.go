package orchestrator_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

var sealKey = []byte("0123456789abcdef0123456789abcdef")

// sealedRun runs a short goal into a sealed journal and returns its lines.
func sealedRun(t *testing.T) [][]byte {
	t.Helper()
	g := noteGoal
	var buf bytes.Buffer
	j := orchestrator.NewJournal(&buf)
	if err := j.Seal(sealKey, ""); err != nil {
		t.Fatal(err)
	}
	m := model.NewScripted("m", turn(accept(g)), turn(withID("n1", call("note", map[string]string{"text": "x"}))), turn(complete(g, "noted", "n1")))
	rt, _ := newRuntime(t, solo(m, newRecorder(t, "note").tool), &orchestrator.Options{Sinks: []orchestrator.Sink{j}, SupervisionFor: orchestrator.StructuralOnly})
	if _, err := rt.Run(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	j.Close()
	lines := bytes.SplitAfter(buf.Bytes(), []byte("\n"))
	return lines[:len(lines)-1] // after the last newline

}

func readSealed(t *testing.T, lines [][]byte, key []byte) ([]*orchestrator.Event, orchestrator.Integrity) {
	t.Helper()
	events, in, _, err := orchestrator.ReadSealedJournal(bytes.NewReader(bytes.Join(lines, nil)), key)
	if err != nil {
		t.Fatal(err)
	}
	return events, in
}

// A sealed journal verifies with its key; every edit someone without the
// key can make — a line changed, added, dropped, moved or taken from
// another run, the seals removed — is found, at the first line it touches.
func TestSealedJournal(t *testing.T) {
	lines := sealedRun(t)
	events, in := readSealed(t, lines, sealKey)
	if in.State != orchestrator.IntegrityVerified || in.String() != "verified" || len(events) != len(lines) {
		t.Fatalf("integrity %v of %d events (%d lines)", in, len(events), len(lines))
	}
	if events[0].KeyID != orchestrator.JournalKeyID(sealKey) || events[0].GoalHash == "" || events[1].Seal == "" || events[1].KeyID != "" {
		t.Errorf("run.started %s; event 2 %s", mustJSON(events[0]), mustJSON(events[1]))
	}
	toolResult := slices.IndexFunc(events, func(e *orchestrator.Event) bool { return e.Type == orchestrator.EventToolResult })
	other := sealedRun(t) // another run, same key
	seals := regexp.MustCompile(`,"(seal|key_id)":"[0-9a-f]+"`)
	edit := func(i int, f func([]byte) []byte) [][]byte {
		ls := slices.Clone(lines)
		ls[i] = f(ls[i])
		return ls
	}
	for _, tc := range []struct {
		name  string
		lines [][]byte
		at    int
	}{
		{"a result changed", edit(toolResult, func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"result":"`), []byte(`"result":"forged `), 1)
		}), toolResult + 1},
		{"a future event added", append(slices.Clone(lines), []byte(`{"seq":99,"run":"x","type":"escalation.resolved","seal":"`+strings.Repeat("0", 64)+"\"}\n")), len(lines) + 1},
		{"an event dropped", slices.Delete(slices.Clone(lines), 3, 4), 4},
		{"two events swapped", edit(3, func([]byte) []byte { return lines[4] }), 4},
		{"a line from another run", edit(3, func([]byte) []byte { return other[3] }), 4},
		{"a seal removed", edit(2, func(b []byte) []byte { return seals.ReplaceAll(b, nil) }), 3},
		{"the goal changed", edit(0, func(b []byte) []byte { return bytes.Replace(b, []byte(noteGoal.Objective), []byte("delete it all"), 1) }), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, in := readSealed(t, tc.lines, sealKey)
			if in.State != orchestrator.IntegrityBroken || in.Event != tc.at || !strings.HasPrefix(in.String(), "broken at event") {
				t.Errorf("integrity %v, want broken at event %d", in, tc.at)
			}
		})
	}
	// Every seal removed: not signed, which a resume must be told to accept.
	if _, in := readSealed(t, [][]byte{seals.ReplaceAll(bytes.Join(lines, nil), nil)}, sealKey); in.State != orchestrator.IntegrityUnsigned || in.String() != "not signed" {
		t.Errorf("unsealed: %v", in)
	}
	// Another key, or none: cannot be checked.
	for _, key := range [][]byte{[]byte("another key, another key, another"), nil} {
		if _, in := readSealed(t, lines, key); in.State != orchestrator.IntegrityOtherKey || !strings.Contains(in.String(), "another key") {
			t.Errorf("key %q: %v", key, in)
		}
	}
}

// A resumed run's lines, appended to a sealed journal, continue its chain.
func TestSealedJournalAppend(t *testing.T) {
	lines := sealedRun(t)
	cut := 5
	path := filepath.Join(t.TempDir(), "j.jsonl")
	if err := os.WriteFile(path, append(bytes.Join(lines[:cut], nil), `{"seq":6,"ty`...), 0o600); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	events, in, torn, err := orchestrator.ReadSealedJournal(f, sealKey)
	f.Close()
	if err != nil || !torn || in.State != orchestrator.IntegrityVerified || len(events) != cut {
		t.Fatalf("cut journal: %v %v %v %d events", err, torn, in, len(events))
	}
	j, err := orchestrator.AppendJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Seal(sealKey, "not a seal"); err == nil {
		t.Error("Seal took a bad seal to continue from")
	}
	if err := j.Seal(sealKey, in.Last); err != nil {
		t.Fatal(err)
	}
	// An event read back (with its old seal) is sealed anew.
	j.Emit(t.Context(), events[cut-1])
	j.Emit(t.Context(), &orchestrator.Event{Seq: 7, Type: orchestrator.EventRunResumed, Run: events[0].Run, Attempt: 1})
	j.Close()
	f, _ = os.Open(path)
	defer f.Close()
	if events, in, _, err := orchestrator.ReadSealedJournal(f, sealKey); err != nil || in.State != orchestrator.IntegrityVerified || len(events) != cut+2 {
		t.Errorf("appended journal: %v %v, %d events", err, in, len(events))
	}
}

// A last line that lacks only its newline is read, and kept when a resumed
// run appends: the chain goes on from it.
func TestSealedJournalAppendAfterALineWithoutItsNewline(t *testing.T) {
	lines := sealedRun(t)
	path := filepath.Join(t.TempDir(), "j.jsonl")
	if err := os.WriteFile(path, bytes.TrimSuffix(bytes.Join(lines[:4], nil), []byte("\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	events, in, _, err := orchestrator.ReadSealedJournal(f, sealKey)
	f.Close()
	if err != nil || len(events) != 4 || in.State != orchestrator.IntegrityVerified {
		t.Fatalf("%d events, %v, %v", len(events), in, err)
	}
	j, err := orchestrator.AppendJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	j.Seal(sealKey, in.Last)
	j.Emit(t.Context(), &orchestrator.Event{Seq: 5, Type: orchestrator.EventRunResumed, Run: events[0].Run, Attempt: 1})
	j.Close()
	f, _ = os.Open(path)
	defer f.Close()
	if events, in, _, err := orchestrator.ReadSealedJournal(f, sealKey); err != nil || len(events) != 5 || in.State != orchestrator.IntegrityVerified {
		t.Errorf("appended: %d events, %v, %v", len(events), in, err)
	}
}

// The key comes from the environment or from a 0600 file made on first use;
// a short key, or a file others can read, is refused.
func TestLoadJournalKey(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("HOME", dir)
	t.Setenv(orchestrator.EnvJournalKey, "short")
	if _, _, err := orchestrator.LoadJournalKey(true); !errors.Is(err, orchestrator.ErrJournalKey) {
		t.Errorf("a short key: %v", err)
	}
	t.Setenv(orchestrator.EnvJournalKey, string(sealKey))
	if k, from, err := orchestrator.LoadJournalKey(true); err != nil || !bytes.Equal(k, sealKey) || from != "$"+orchestrator.EnvJournalKey {
		t.Errorf("from the environment: %q %q %v", k, from, err)
	}
	os.Unsetenv(orchestrator.EnvJournalKey)
	path, err := orchestrator.JournalKeyFile()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := orchestrator.LoadJournalKey(false); err == nil {
		t.Error("no key file, and none to be made: no error")
	}
	k1, from, err := orchestrator.LoadJournalKey(true)
	if err != nil || from != path || len(k1) != 32 {
		t.Fatalf("made: %x %q %v", k1, from, err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", info.Mode(), err)
	}
	if k2, _, err := orchestrator.LoadJournalKey(true); err != nil || !bytes.Equal(k1, k2) {
		t.Errorf("read again: %x %v", k2, err)
	}
	os.Chmod(path, 0o644)
	if _, _, err := orchestrator.LoadJournalKey(true); !errors.Is(err, orchestrator.ErrJournalKey) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a key file others can read: %v", err)
	}
}

// BenchmarkJournal measures a pipelined delegation written to a journal,
// plain and sealed: what sealing costs a run.
func BenchmarkJournal(b *testing.B) {
	for _, sealed := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "sealed"}[sealed], func(b *testing.B) {
			j := orchestrator.NewJournal(io.Discard)
			if sealed {
				j.Seal(sealKey, "")
			}
			rt := benchTeam(b, 1, []orchestrator.Sink{j}, true)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rt.Run(b.Context(), benchGoal); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
