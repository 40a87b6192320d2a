package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/entrust-dev/entrust/internal/treeview"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/spf13/cobra"
)

// viewOptions are "run view"'s.
type viewOptions struct {
	io   *iostreams
	dir  string
	addr string
}

func newViewCmd(io *iostreams) *cobra.Command {
	opts := &viewOptions{io: io}
	cmd := &cobra.Command{
		Use:   "view [flags] [DIR]",
		Short: "Look at runs and evals in a browser",
		Long: `Serves a local web viewer of DIR (default ./runs): an index of its runs (goal,
status, tokens, time, date) and eval directories, newest first; a run's page
shows its delegation tree with everything replay shows, expandable, and
follows a run still in progress as its journal grows; an eval directory's page
is its report, with each trial's journal a run page. Nothing is fetched from
elsewhere: it works offline. It listens on --addr until interrupted.`,
		Example: `  run view
  run view --addr 127.0.0.1:9000 runs/`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.dir = "runs"
			if len(args) == 1 {
				opts.dir = args[0]
			}
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runView(ctx, opts)
		},
	}
	cmd.Flags().StringVar(&opts.addr, "addr", "127.0.0.1:8080", "`HOST:PORT` to listen on")
	return cmd
}

// runView serves opts.dir until ctx ends.
func runView(ctx context.Context, opts *viewOptions) error {
	srv, err := newViewServer(opts.dir)
	if err != nil {
		return configError(err)
	}
	defer srv.close()
	l, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return configError(fmt.Errorf("--addr: %w", err))
	}
	fmt.Fprintf(opts.io.err, "run view: serving %s at http://%s/ (Ctrl-C to stop)\n", opts.dir, l.Addr())
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(l) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	<-done
	return nil
}

// viewServer serves a runs directory. Every path it opens is opened through
// an os.Root, so no request reaches outside the directory.
type viewServer struct {
	dir  string
	root *os.Root
	mux  *http.ServeMux
	// poll is how often a live page's event stream looks at its journal.
	poll time.Duration
}

func newViewServer(dir string) (*viewServer, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	s := &viewServer{dir: dir, root: root, mux: http.NewServeMux(), poll: 250 * time.Millisecond}
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.HandleFunc("GET /run/{file...}", s.run)
	s.mux.HandleFunc("GET /events/{file...}", s.events)
	s.mux.HandleFunc("GET /eval/{dir}/{$}", s.eval)
	s.mux.HandleFunc("GET /eval/{dir}/journals/{file}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/run/"+r.PathValue("dir")+"/journals/"+r.PathValue("file"), http.StatusFound)
	})
	return s, nil
}

func (s *viewServer) close() { s.root.Close() }

// ServeHTTP serves the viewer; every page forbids loading anything from
// elsewhere.
func (s *viewServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

// runEntry is one run of the index.
type runEntry struct {
	File, Goal, Status, Reason string
	Tokens                     int
	Duration                   time.Duration
	Start                      time.Time
	Live                       bool
}

// evalEntry is one eval directory of the index.
type evalEntry struct {
	Dir      string
	Modified time.Time
	Report   bool
}

func (s *viewServer) index(w http.ResponseWriter, _ *http.Request) {
	entries, err := fs.ReadDir(s.root.FS(), ".")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var runs []runEntry
	var evals []evalEntry
	for _, e := range entries {
		switch {
		case e.IsDir():
			info, err := e.Info()
			if err != nil {
				continue
			}
			_, rerr := s.root.Stat(path.Join(e.Name(), "report.html"))
			_, terr := s.root.Stat(path.Join(e.Name(), "trials.jsonl"))
			if rerr == nil || terr == nil {
				evals = append(evals, evalEntry{Dir: e.Name(), Modified: info.ModTime(), Report: rerr == nil})
			}
		case strings.HasSuffix(e.Name(), ".jsonl"):
			if re, ok := s.summarize(e.Name()); ok {
				runs = append(runs, re)
			}
		}
	}
	slices.SortFunc(runs, func(a, b runEntry) int { return b.Start.Compare(a.Start) })
	slices.SortFunc(evals, func(a, b evalEntry) int { return b.Modified.Compare(a.Modified) })
	s.render(w, "index", map[string]any{"Dir": s.dir, "Runs": runs, "Evals": evals})
}

// summarize reads one journal for the index; ok is false when it is not
// one.
func (s *viewServer) summarize(name string) (runEntry, bool) {
	events, _, err := s.journal(name)
	if err != nil || len(events) == 0 || events[0].Type != orchestrator.EventRunStarted {
		return runEntry{}, false
	}
	first, last := events[0], events[len(events)-1]
	re := runEntry{File: name, Start: first.Time, Duration: last.Time.Sub(first.Time).Round(time.Millisecond), Live: true}
	if first.Goal != nil {
		re.Goal = first.Goal.Objective
	}
	for _, e := range events {
		switch {
		case e.Type == orchestrator.EventModelCalled && e.Usage != nil:
			re.Tokens += e.Usage.Total()
		case e.Type == orchestrator.EventRunFinished:
			re.Status, re.Reason, re.Live = string(e.Status), e.Reason, false
		}
	}
	return re, true
}

// journal reads a journal under the directory; a torn last line (a run
// still writing) is left out.
func (s *viewServer) journal(name string) ([]*orchestrator.Event, int64, error) {
	f, err := s.root.Open(name)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, 0, err
	}
	events, _, err := orchestrator.ReadJournal(bytes.NewReader(data))
	return events, int64(len(data)), err
}

// run is a run's page: its delegation tree, followed live while the run
// goes on. With ?fragment=1 it is the tree alone, for the live page to
// swap in.
func (s *viewServer) run(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	events, _, err := s.journal(name)
	if err != nil {
		status := http.StatusNotFound
		if !errors.Is(err, fs.ErrNotExist) {
			status = http.StatusUnprocessableEntity
		}
		http.Error(w, fmt.Sprintf("%s: %v", name, err), status)
		return
	}
	root, err := orchestrator.Rebuild(events)
	if err != nil && len(events) > 0 && hasDelegation(events) {
		http.Error(w, fmt.Sprintf("%s is not a consistent journal: %v", name, err), http.StatusUnprocessableEntity)
		return
	}
	page := map[string]any{"File": name, "Root": root, "Live": true}
	if len(events) > 0 {
		first, last := events[0], events[len(events)-1]
		page["Start"], page["Duration"] = first.Time, last.Time.Sub(first.Time).Round(time.Millisecond)
		page["Goal"] = first.Goal
		page["Run"] = first.Run
		if last.Type == orchestrator.EventRunFinished {
			page["Live"], page["Status"], page["Reason"] = false, string(last.Status), last.Reason
		}
	}
	if r.URL.Query().Get("fragment") == "1" {
		s.render(w, "runbody", page)
		return
	}
	s.render(w, "run", page)
}

func hasDelegation(events []*orchestrator.Event) bool {
	return slices.ContainsFunc(events, func(e *orchestrator.Event) bool { return e.Type == orchestrator.EventGoalOffered })
}

// events streams server-sent events for a journal: "changed" each time it
// grows, "finished" once it ends with run.finished, after which the stream
// ends.
func (s *viewServer) events(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	var size int64 = -1
	tick := time.NewTicker(s.poll)
	defer tick.Stop()
	for {
		events, n, err := s.journal(name)
		if err != nil {
			fmt.Fprintf(w, "event: error\ndata: %s\n\n", strings.ReplaceAll(err.Error(), "\n", " "))
			flusher.Flush()
			return
		}
		if n != size {
			if size >= 0 {
				fmt.Fprintf(w, "event: changed\ndata: %d\n\n", len(events))
			}
			size = n
			if len(events) > 0 && events[len(events)-1].Type == orchestrator.EventRunFinished {
				fmt.Fprint(w, "event: finished\ndata: \n\n")
				flusher.Flush()
				return
			}
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

// eval is an eval directory's page: its report, or, while it runs, what
// trials.jsonl holds so far.
func (s *viewServer) eval(w http.ResponseWriter, r *http.Request) {
	dir := r.PathValue("dir")
	f, err := s.root.Open(path.Join(dir, "report.html"))
	if err == nil {
		defer f.Close()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.Copy(w, f)
		return
	}
	if _, err := s.root.Stat(path.Join(dir, "trials.jsonl")); err != nil {
		http.NotFound(w, r)
		return
	}
	var journals []string
	entries, _ := fs.ReadDir(s.root.FS(), path.Join(dir, "journals"))
	for _, e := range entries {
		journals = append(journals, e.Name())
	}
	s.render(w, "evalrunning", map[string]any{"Dir": dir, "Journals": journals})
}

func (s *viewServer) render(w http.ResponseWriter, name string, data any) {
	var b bytes.Buffer
	if err := viewPages.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

var viewPages = template.Must(treeview.Template().Funcs(template.FuncMap{
	"css":  func() template.CSS { return treeview.CSS },
	"date": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
	"num":  cli.Thousands,
}).Parse(viewSource))

const viewSource = `
{{define "head"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · entrust</title>
<style>
body{font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2328;margin:0;padding:20px 32px;max-width:1300px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #d0d7de;vertical-align:top}
th{background:#f6f8fa;font-size:12px;color:#57606a}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.muted{color:#57606a}.completed{color:#1a7f37}.failed{color:#cf222e}.declined{color:#9a6700}.running{color:#0969da}
{{css}}
</style></head><body>{{end}}

{{define "index"}}{{template "head" "runs"}}
<h1>entrust runs</h1><div class="muted">{{.Dir}}</div>
<h2>Runs</h2>
{{if .Runs}}<table><tr><th>started</th><th>goal</th><th>status</th><th class="n">tokens</th><th class="n">time</th></tr>
{{range .Runs}}<tr><td class="muted">{{date .Start}}</td><td><a href="/run/{{.File}}">{{.Goal}}</a></td><td class="{{if .Live}}running{{else}}{{.Status}}{{end}}">{{if .Live}}running{{else}}{{.Status}}{{end}}</td><td class="n">{{num .Tokens}}</td><td class="n">{{.Duration}}</td></tr>
{{end}}</table>{{else}}<p class="muted">No runs in this directory.</p>{{end}}
<h2>Evals</h2>
{{if .Evals}}<table><tr><th>directory</th><th>modified</th><th></th></tr>
{{range .Evals}}<tr><td><a href="/eval/{{.Dir}}/">{{.Dir}}</a></td><td class="muted">{{date .Modified}}</td><td class="muted">{{if not .Report}}running{{end}}</td></tr>
{{end}}</table>{{else}}<p class="muted">No eval directories.</p>{{end}}
</body></html>{{end}}

{{define "run"}}{{template "head" .File}}
<p><a href="/">← runs</a></p>
<h1>{{with .Goal}}{{.Objective}}{{else}}{{.File}}{{end}}</h1>
<div id="body">{{template "runbody" .}}</div>
{{if .Live}}<script>
(function(){
  var es = new EventSource("/events/{{.File}}");
  function refresh(){ fetch(location.pathname + "?fragment=1").then(function(r){return r.text()}).then(function(t){
    var open = {}; document.querySelectorAll("#body details").forEach(function(d,i){ open[i] = d.open; });
    document.getElementById("body").innerHTML = t;
    document.querySelectorAll("#body details").forEach(function(d,i){ if (i in open) d.open = open[i]; });
  }); }
  es.addEventListener("changed", refresh);
  es.addEventListener("finished", function(){ refresh(); es.close(); });
})();
</script>{{end}}
</body></html>{{end}}

{{define "runbody"}}<div class="muted">run {{.Run}} · {{with .Start}}{{date .}}{{end}} · {{.Duration}} · {{if .Live}}<span class="running">in progress (following live)</span>{{else}}<span class="{{.Status}}">{{.Status}}</span>{{with .Reason}}: {{.}}{{end}}{{end}}</div>
{{with .Goal}}<div class="muted">{{range .Criteria}}criterion: {{.}}<br>{{end}}{{range .Constraints}}constraint: {{.}}<br>{{end}}</div>{{end}}
{{template "tree" .Root}}{{end}}

{{define "evalrunning"}}{{template "head" .Dir}}
<p><a href="/">← runs</a></p><h1>{{.Dir}}</h1><p class="running">In progress: the report is written when the eval ends.</p>
<ul>{{range .Journals}}<li><a href="/run/{{$.Dir}}/journals/{{.}}">{{.}}</a></li>{{end}}</ul>
</body></html>{{end}}
`
