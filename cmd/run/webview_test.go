package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// put writes a file, making its directory.
func put(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, content)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestViewServer: the index lists runs and evals, a run's page shows its
// tree with what replay shows, nothing outside the directory is served,
// and nothing is loaded from elsewhere.
func TestViewServer(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "runs")
	journal, err := os.ReadFile("testdata/haiku.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(journal), "\n")
	put(t, filepath.Join(dir, "done.jsonl"), string(journal))
	put(t, filepath.Join(dir, "live.jsonl"), strings.Join(lines[:4], ""))
	put(t, filepath.Join(dir, "eval-1", "report.html"), "<html>the eval report</html>")
	put(t, filepath.Join(dir, "eval-1", "trials.jsonl"), "")
	put(t, filepath.Join(dir, "eval-1", "journals", "baseline-sim-1.jsonl"), string(journal))
	put(t, filepath.Join(parent, "secret.jsonl"), string(journal))
	put(t, filepath.Join(dir, "notes.jsonl"), "not a journal\n")

	vs, err := newViewServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer vs.close()
	vs.poll = 5 * time.Millisecond
	srv := httptest.NewServer(vs)
	defer srv.Close()

	code, body := get(t, srv.URL+"/")
	for _, want := range []string{`href="/run/done.jsonl"`, "Write a haiku about delegation", "completed", "8,268", `href="/run/live.jsonl"`, "running", `href="/eval/eval-1/"`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("index lacks %q (status %d):\n%s", want, code, body)
		}
	}
	if strings.Contains(body, "notes.jsonl") {
		t.Error("the index lists a file that is not a journal")
	}

	code, body = get(t, srv.URL+"/run/done.jsonl")
	for _, want := range []string{"I understand the purpose: write a haiku about delegation.", "aligned", "judged by lead",
		"verified by lead", "accept", "writer", "a haiku about delegation is in the workspace", "met", "wrote 300 bytes"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("run page lacks %q (status %d)", want, code)
		}
	}
	if strings.Contains(body, "EventSource") {
		t.Error("a finished run's page follows it live")
	}
	for _, page := range []string{"/", "/run/done.jsonl", "/run/live.jsonl"} {
		_, body := get(t, srv.URL+page)
		if strings.Contains(body, "https://") || strings.Contains(body, "http://") || strings.Contains(body, " src=") {
			t.Errorf("%s loads something from elsewhere", page)
		}
	}
	code, body = get(t, srv.URL+"/eval/eval-1/")
	if code != 200 || body != "<html>the eval report</html>" {
		t.Errorf("eval page %d %q", code, body)
	}
	code, body = get(t, srv.URL+"/run/eval-1/journals/baseline-sim-1.jsonl")
	if code != 200 || !strings.Contains(body, "verified by lead") {
		t.Errorf("an eval's journal: %d", code)
	}
	for _, p := range []string{"/run/../secret.jsonl", "/run/%2e%2e/secret.jsonl", "/run/..%2fsecret.jsonl", "/run/missing.jsonl"} {
		if code, body := get(t, srv.URL+p); code == 200 || strings.Contains(body, "haiku") {
			t.Errorf("%s: %d %s", p, code, body)
		}
	}
}

// TestViewFollowsALiveRun: the event stream of a growing journal says
// "changed" as lines arrive and "finished" at run.finished, and the run's
// page follows it.
func TestViewFollowsALiveRun(t *testing.T) {
	dir := t.TempDir()
	journal, err := os.ReadFile("testdata/haiku.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(journal), "\n")
	live := filepath.Join(dir, "live.jsonl")
	put(t, live, strings.Join(lines[:3], ""))
	vs, err := newViewServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer vs.close()
	vs.poll = 2 * time.Millisecond
	srv := httptest.NewServer(vs)
	defer srv.Close()

	_, page := get(t, srv.URL+"/run/live.jsonl")
	if !strings.Contains(page, "EventSource") || !strings.Contains(page, "in progress") {
		t.Fatalf("a live run's page does not follow it:\n%s", page)
	}
	resp, err := http.Get(srv.URL + "/events/live.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan string)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- name
			}
		}
	}()
	// The journal grows a line at a time; the stream says so, then ends
	// with the run.
	f, err := os.OpenFile(live, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(lines[3])
	if got := <-events; got != "changed" {
		t.Fatalf("first event %q", got)
	}
	f.WriteString(strings.Join(lines[4:], ""))
	var got []string
	for e := range events {
		got = append(got, e)
	}
	if len(got) == 0 || got[len(got)-1] != "finished" {
		t.Fatalf("events after the run ended: %v", got)
	}
	_, frag := get(t, srv.URL+"/run/live.jsonl?fragment=1")
	if !strings.Contains(frag, "completed") || strings.Contains(frag, "<html") {
		t.Errorf("fragment:\n%s", frag)
	}
}
