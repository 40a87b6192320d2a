package mcptools_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents/mcptools"
	"github.com/entrust-dev/entrust/internal/mcptest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// connectWith is connect with options.
func connectWith(t *testing.T, srv mcptools.Server, opts *mcptools.Options) map[string]*mcptools.Tool {
	t.Helper()
	conn, err := mcptools.Connect(t.Context(), srv, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	tools := map[string]*mcptools.Tool{}
	for _, tl := range conn.Infos() {
		tools[tl.Def().Name] = tl
	}
	return tools
}

// A result over the bound fails the call with a clear error, counted while
// it is read; a result within it passes, and the next call works.
func TestAResultOverTheBoundFailsTheCall(t *testing.T) {
	const bound = 64 << 10
	for _, tc := range []struct {
		name string
		srv  func(t *testing.T) mcptools.Server
	}{
		{"stdio", func(*testing.T) mcptools.Server { return mcptools.Server{Name: "proc", Command: []string{serverBin}} }},
		{"http json", func(t *testing.T) mcptools.Server {
			return httpServer(t, &mcp.StreamableHTTPOptions{JSONResponse: true}, nil)
		}},
		{"http events", func(t *testing.T) mcptools.Server { return httpServer(t, nil, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.srv(t)
			tools := connectWith(t, srv, &mcptools.Options{MaxMessageSize: bound})
			big := tools[srv.Name+"__big"]
			if res := big.Call(t.Context(), []byte(`{"bytes":1000}`)); res.IsError || len(res.Content) != 1000 {
				t.Fatalf("a small result: %.200v", res)
			}
			res := big.Call(t.Context(), []byte(`{"bytes":1048576}`))
			if !res.IsError || !strings.Contains(res.Content, "over 65536 bytes") || !strings.Contains(res.Content, "mcp message too large") {
				t.Fatalf("a result over the bound: %.300v", res)
			}
			if res := tools[srv.Name+"__echo"].Call(t.Context(), []byte(`{"text":"still here"}`)); res.IsError || res.Content != "still here" {
				t.Fatalf("the call after: %.300v", res)
			}
		})
	}
}

// httpServer serves mcptest over streamable HTTP; hostile, when set, answers
// the requests it wants instead.
func httpServer(t *testing.T, opts *mcp.StreamableHTTPOptions, hostile func(w http.ResponseWriter, r *http.Request, body []byte) bool) mcptools.Server {
	server := mcptest.NewServer(nil)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, opts)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hostile != nil && r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			if hostile(w, r, body) {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return mcptools.Server{Name: "web", URL: ts.URL}
}

// A hostile server whose answer never ends: without a bound applied while
// reading, the client would read until memory runs out (here: until the
// deadline). The call fails at the bound instead, having read little more.
func TestAnAnswerWithoutEndIsCutAtTheBound(t *testing.T) {
	const bound = 256 << 10
	var sent atomic.Int64
	flood := func(w http.ResponseWriter, _ *http.Request, body []byte) bool {
		if !bytes.Contains(body, []byte(`"tools/call"`)) {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"`)
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for sent.Load() < 1<<30 {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return true
			}
		}
		return true
	}
	for _, tc := range []struct {
		name string
		srv  func(t *testing.T) mcptools.Server
		tool string
		args string
	}{
		{"http", func(t *testing.T) mcptools.Server {
			return httpServer(t, &mcp.StreamableHTTPOptions{JSONResponse: true}, flood)
		}, "web__echo", `{"text":"hi"}`},
		{"stdio", func(*testing.T) mcptools.Server { return mcptools.Server{Name: "proc", Command: []string{serverBin}} }, "proc__flood", `{}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tools := connectWith(t, tc.srv(t), &mcptools.Options{MaxMessageSize: bound})
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			res := tools[tc.tool].Call(ctx, []byte(tc.args))
			if !res.IsError || !strings.Contains(res.Content, "mcp message too large") {
				t.Fatalf("an answer without end: %.300v", res)
			}
			if n := sent.Load(); n > 64<<20 {
				t.Errorf("the client read on: the server sent %d bytes", n)
			}
		})
	}
}
