package mcptools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/mcptools"
	"github.com/entrust-dev/entrust/internal/mcptest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var serverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mcptools")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBin, err = mcptest.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// inMemory serves mcptest in memory; each connection (a restart too) gets
// its server session on sessions.
func inMemory(started chan<- string, sessions chan<- *mcp.ServerSession) func(context.Context) (mcp.Transport, error) {
	server := mcptest.NewServer(started)
	return func(ctx context.Context) (mcp.Transport, error) {
		client, srv := mcp.NewInMemoryTransports()
		ss, err := server.Connect(ctx, srv, nil)
		if err != nil {
			return nil, err
		}
		if sessions != nil {
			sessions <- ss
		}
		return client, nil
	}
}

func connect(t *testing.T, srv mcptools.Server) (*mcptools.Conn, map[string]agents.Tool) {
	t.Helper()
	conn, err := mcptools.Connect(t.Context(), srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	tools := map[string]agents.Tool{}
	for _, tl := range conn.Tools() {
		tools[tl.Def().Name] = tl
	}
	return conn, tools
}

func call(t *testing.T, tl agents.Tool, args string) agents.Result {
	t.Helper()
	return tl.Call(t.Context(), json.RawMessage(args))
}

func TestToolsAreNamedServerToolWithTheServersSchema(t *testing.T) {
	conn, tools := connect(t, mcptools.Server{Name: "calc", Transport: inMemory(nil, nil)})
	var names []string
	for _, tl := range conn.Tools() {
		names = append(names, tl.Def().Name)
	}
	want := "calc__add calc__big calc__crash calc__echo calc__fail calc__getenv calc__pid calc__slow" // as the server lists them
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("tools = %s, want %s", got, want)
	}
	// The schema is the server's, as it listed it.
	listed := conn.Infos()[0].Remote().InputSchema
	raw, _ := json.Marshal(listed)
	if got := string(tools["calc__add"].Def().Parameters); got != string(raw) {
		t.Errorf("add's parameters = %s, want the server's %s", got, raw)
	}
	if d := tools["calc__echo"].Def().Description; d != "Say the text back." {
		t.Errorf("echo's description = %q", d)
	}
}

func TestCallsReachTheServer(t *testing.T) {
	_, tools := connect(t, mcptools.Server{Name: "calc", Transport: inMemory(nil, nil)})
	if res := call(t, tools["calc__echo"], `{"text":"hi"}`); res.IsError || res.Content != "hi" {
		t.Errorf("echo = %+v", res)
	}
	if res := call(t, tools["calc__add"], `{"a":1,"b":2}`); res.IsError || res.Content != `{"sum":3}` {
		t.Errorf("add = %+v", res)
	}
}

func TestArgumentsAreValidatedBeforeTheCall(t *testing.T) {
	started := make(chan string, 10)
	_, tools := connect(t, mcptools.Server{Name: "calc", Transport: inMemory(started, nil)})
	for _, args := range []string{`{"a":"one","b":2}`, `{"a":1}`, `not json`, `{"a":1,"b":2,"c":3}`} {
		res := call(t, tools["calc__add"], args)
		if !res.IsError || !strings.Contains(res.Content, "invalid arguments for calc__add") {
			t.Errorf("add(%s) = %+v, want an argument error", args, res)
		}
	}
	select {
	case name := <-started:
		t.Fatalf("the server was called (%s) with invalid arguments", name)
	default:
	}
}

func TestToolErrorsComeBackAsToolErrors(t *testing.T) {
	_, tools := connect(t, mcptools.Server{Name: "calc", Transport: inMemory(nil, nil)})
	res := call(t, tools["calc__fail"], `{}`)
	if !res.IsError || !strings.Contains(res.Content, "it failed on purpose") {
		t.Errorf("fail = %+v, want a tool error with the server's message", res)
	}
}

func TestAnnotationsSetConcurrencyAndIdempotency(t *testing.T) {
	conn, _ := connect(t, mcptools.Server{Name: "calc", Transport: inMemory(nil, nil), TrustHints: true})
	for _, tl := range conn.Infos() {
		var c, i, d bool
		k := agents.KindActs // a tool that does not only read, by a name that writes no file
		switch tl.Remote().Name {
		case "echo", "slow", "getenv", "big", "pid": // readOnlyHint
			c, i, d, k = true, true, false, agents.KindReads
		case "add": // idempotentHint, destructiveHint false
			c, i, d = false, true, false
		default: // no annotations: the MCP defaults
			c, i, d = false, false, true
		}
		if tl.Concurrent() != c || tl.Idempotent() != i || agents.IsIdempotent(tl) != i || tl.Destructive() != d {
			t.Errorf("%s: concurrent %v idempotent %v destructive %v, want %v %v %v", tl.Def().Name, tl.Concurrent(), tl.Idempotent(), tl.Destructive(), c, i, d)
		}
		if tl.Kind() != k || agents.KindOf(tl) != k {
			t.Errorf("%s: kind %v (KindOf %v), want %v", tl.Def().Name, tl.Kind(), agents.KindOf(tl), k)
		}
	}
}

// A server's hints are its own word: unless the server (or the tool) is
// trusted, every tool is run alone, never made again, and destructive,
// whatever it claims.
func TestHintsAreIgnoredUnlessTrusted(t *testing.T) {
	for _, tc := range []struct {
		name    string
		srv     mcptools.Server
		trusted []string
	}{
		{"not trusted", mcptools.Server{}, nil},
		{"one tool trusted", mcptools.Server{HintedTools: []string{"add"}}, []string{"add"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.srv
			srv.Name, srv.Transport = "calc", inMemory(nil, nil)
			conn, _ := connect(t, srv)
			for _, tl := range conn.Infos() {
				want := slices.Contains(tc.trusted, tl.Remote().Name)
				if tl.HintsTrusted() != want {
					t.Errorf("%s: hints trusted %v, want %v", tl.Def().Name, tl.HintsTrusted(), want)
				}
				if !want && (tl.Concurrent() || tl.Idempotent() || agents.IsIdempotent(tl) || !tl.Destructive()) {
					t.Errorf("%s (claims %+v): concurrent %v idempotent %v destructive %v, want false false true",
						tl.Def().Name, tl.Remote().Annotations, tl.Concurrent(), tl.Idempotent(), tl.Destructive())
				}
				// Untrusted, a claim to only read declares nothing here:
				// the runtime goes by the name, and echo's says nothing.
				if !want && (tl.Kind() != agents.KindUnknown || agents.KindOf(tl) != agents.KindFromName(tl.Def().Name)) {
					t.Errorf("%s (claims %+v): kind %v, KindOf %v, want undeclared", tl.Def().Name, tl.Remote().Annotations, tl.Kind(), agents.KindOf(tl))
				}
			}
		})
	}
	_, err := mcptools.Connect(t.Context(), mcptools.Server{Name: "calc", HintedTools: []string{"ad"}, Transport: inMemory(nil, nil)}, nil)
	if err == nil || !strings.Contains(err.Error(), `has no tool "ad"`) {
		t.Errorf("an unknown hinted tool: err = %v", err)
	}
	err = (&mcptools.Server{Name: "calc", Command: []string{"x"}, Tools: []string{"echo"}, HintedTools: []string{"add"}}).Validate()
	if err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("a hinted tool that is not allowed: err = %v", err)
	}
}

// An untrusted server's claim to only read lowers what a tool's name would
// prove, and never raises it (third review, finding 5): run_sql marked
// read-only reads (its name alone says it acts), and a read-only tool whose
// name says nothing stays of unknown kind. A trusted server's tool that does
// not only read acts, whatever its name: no hint says which file it writes.
func TestUntrustedReadOnlyHintLowersTheKind(t *testing.T) {
	server := mcp.NewServer(&mcp.Implementation{Name: "db"}, nil)
	type args struct {
		Path string `json:"path,omitempty"`
	}
	for _, name := range []string{"run_sql", "fetch", "write_file", "upload_file"} {
		mcp.AddTool(server, &mcp.Tool{Name: name, Annotations: &mcp.ToolAnnotations{ReadOnlyHint: name != "write_file" && name != "upload_file"}},
			func(context.Context, *mcp.CallToolRequest, args) (*mcp.CallToolResult, any, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil, nil
			})
	}
	transport := func(ctx context.Context) (mcp.Transport, error) {
		client, srv := mcp.NewInMemoryTransports()
		if _, err := server.Connect(ctx, srv, nil); err != nil {
			return nil, err
		}
		return client, nil
	}
	for _, trust := range []bool{false, true} {
		_, tools := connect(t, mcptools.Server{Name: "db", Transport: transport, TrustHints: trust})
		for name, want := range map[string][2]agents.ToolKind{ // untrusted, trusted
			"db__run_sql":     {agents.KindReads, agents.KindReads},
			"db__fetch":       {agents.KindUnknown, agents.KindReads},
			"db__write_file":  {agents.KindActs, agents.KindActs},
			"db__upload_file": {agents.KindActs, agents.KindActs},
		} {
			w := want[0]
			if trust {
				w = want[1]
			}
			if got := agents.KindOf(tools[name]); got != w {
				t.Errorf("trusted %v: KindOf(%s) = %v, want %v", trust, name, got, w)
			}
		}
	}
}

// A server that dies under a call of a tool claiming to only read: the call
// is made again only when that claim is trusted.
func TestACallIsMadeAgainOnlyOnTrustedHints(t *testing.T) {
	for _, trust := range []bool{false, true} {
		t.Run(fmt.Sprint("trusted ", trust), func(t *testing.T) {
			started := make(chan string, 4)
			sessions := make(chan *mcp.ServerSession, 3)
			_, tools := connect(t, mcptools.Server{Name: "calc", Transport: inMemory(started, sessions), TrustHints: trust})
			first := <-sessions
			done := make(chan agents.Result)
			go func() { done <- call(t, tools["calc__slow"], `{"seconds":0.05}`) }()
			<-started
			first.Close() // the server goes away under the call
			res := <-done
			switch {
			case trust && (res.IsError || res.Content != "done"):
				t.Errorf("trusted read-only call after the server died = %+v, want it made again", res)
			case !trust && (!res.IsError || !strings.Contains(res.Content, "whether it took effect is unknown")):
				t.Errorf("untrusted call after the server died = %+v, want it not made again", res)
			}
			if again := len(started); trust != (again == 1) {
				t.Errorf("trusted %v: the call was made %d more times", trust, again)
			}
		})
	}
}

func TestAllowList(t *testing.T) {
	conn, _ := connect(t, mcptools.Server{Name: "calc", Tools: []string{"add", "echo"}, Transport: inMemory(nil, nil)})
	var names []string
	for _, tl := range conn.Tools() {
		names = append(names, tl.Def().Name)
	}
	if got := strings.Join(names, " "); got != "calc__add calc__echo" {
		t.Errorf("allowed tools = %s", got)
	}
	_, err := mcptools.Connect(t.Context(), mcptools.Server{Name: "calc", Tools: []string{"ad"}, Transport: inMemory(nil, nil)}, nil)
	if err == nil || !strings.Contains(err.Error(), `has no tool "ad"`) {
		t.Errorf("unknown allowed tool: err = %v", err)
	}
}

func TestServerValidation(t *testing.T) {
	for _, tc := range []struct {
		srv  mcptools.Server
		want string
	}{
		{mcptools.Server{Name: "Fs", Command: []string{"x"}}, "lowercase identifier"},
		{mcptools.Server{Name: "a__b", Command: []string{"x"}}, "lowercase identifier"},
		{mcptools.Server{Name: "fs"}, "give a command"},
		{mcptools.Server{Name: "fs", Command: []string{"x"}, URL: "http://h"}, "not both"},
		{mcptools.Server{Name: "fs", URL: "ftp://h"}, "want http"},
		{mcptools.Server{Name: "fs", URL: "http://h", Env: map[string]string{"A": "b"}}, "env is for stdio"},
		{mcptools.Server{Name: "fs", Command: []string{"x"}, Headers: map[string]string{"A": "b"}}, "headers are for HTTP"},
		{mcptools.Server{Name: "fs", Command: []string{"x"}, Tools: []string{"a", "a"}}, "allowed twice"},
	} {
		_, err := mcptools.Connect(t.Context(), tc.srv, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.srv, err, tc.want)
		}
	}
	if s, tl, ok := mcptools.SplitToolName("fs__read_file"); !ok || s != "fs" || tl != "read_file" {
		t.Errorf("SplitToolName = %q %q %v", s, tl, ok)
	}
	if _, _, ok := mcptools.SplitToolName("read_file"); ok {
		t.Error("SplitToolName(read_file) is ok")
	}
}

func TestCallHonoursTheContext(t *testing.T) {
	started := make(chan string, 10)
	_, tools := connect(t, mcptools.Server{Name: "calc", Transport: inMemory(started, nil)})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan agents.Result)
	go func() { done <- tools["calc__slow"].Call(ctx, json.RawMessage(`{"seconds":60}`)) }()
	<-started
	cancel()
	res := <-done
	if !res.IsError || !strings.Contains(res.Content, "cancelled") {
		t.Errorf("cancelled slow = %+v", res)
	}
	ctx, cancel = context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	res = tools["calc__slow"].Call(ctx, json.RawMessage(`{"seconds":60}`))
	if !res.IsError || !strings.Contains(res.Content, "deadline") {
		t.Errorf("slow past its deadline = %+v", res)
	}
	// The server is still there.
	if res := call(t, tools["calc__echo"], `{"text":"still here"}`); res.IsError {
		t.Errorf("echo after a cancelled call = %+v", res)
	}
}

func TestAServerThatDiesIsRestartedOnce(t *testing.T) {
	sessions := make(chan *mcp.ServerSession, 3)
	// echo's hints are trusted: its call may be made again if the death is
	// seen only under it.
	conn, tools := connect(t, mcptools.Server{Name: "calc", Transport: inMemory(nil, sessions), TrustHints: true})
	(<-sessions).Close() // the server goes away between calls
	if res := call(t, tools["calc__echo"], `{"text":"again"}`); res.IsError || res.Content != "again" {
		t.Fatalf("echo after the server died = %+v, want it restarted", res)
	}
	(<-sessions).Close()
	res := call(t, tools["calc__echo"], `{"text":"again"}`)
	if !res.IsError || !strings.Contains(res.Content, "after its one restart") {
		t.Fatalf("echo after the second death = %+v", res)
	}
	if len(sessions) != 0 {
		t.Errorf("restarted more than once")
	}
	conn.Close()
	res = call(t, tools["calc__echo"], `{"text":"closed"}`)
	if !res.IsError {
		t.Errorf("a call after Close = %+v", res)
	}
}

func TestAServerThatCannotStart(t *testing.T) {
	_, err := mcptools.Connect(t.Context(), mcptools.Server{Name: "nope", Command: []string{"/nonexistent/mcp-server"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "mcp server nope") {
		t.Errorf("err = %v", err)
	}
	_, err = mcptools.Connect(t.Context(), mcptools.Server{Name: "quits", Command: []string{"sh", "-c", "echo bad config >&2; exit 1"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "bad config") {
		t.Errorf("a server that exits at once: err = %v, want its stderr", err)
	}
}

// A streamable-HTTP server is reached at its URL, with the headers given.
func TestHTTPServer(t *testing.T) {
	server := mcptest.NewServer(nil)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0ken" {
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close) // after the connection's Close, which ends its event stream

	_, tools := connect(t, mcptools.Server{Name: "web", URL: ts.URL, Headers: map[string]string{"Authorization": "Bearer t0ken"}})
	if res := call(t, tools["web__add"], `{"a":1,"b":1}`); res.IsError || res.Content != `{"sum":2}` {
		t.Errorf("add over HTTP = %+v", res)
	}
	_, err := mcptools.Connect(t.Context(), mcptools.Server{Name: "web", URL: ts.URL}, nil)
	if err == nil || !strings.Contains(err.Error(), "mcp server web") {
		t.Errorf("without the header: err = %v", err)
	}
}
