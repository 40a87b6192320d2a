// Package openaitest runs a loopback OpenAI-compatible server for the tests
// of every package: POST /v1/chat/completions, plain and streamed (SSE), and
// GET /v1/models. Answers are scripted, as a queue of replies or a handler of
// each request; FromModel turns a model.Model into such a handler, so whole
// scenarios can run over real HTTP. Replies can reproduce the quirks of
// compatible servers and inject faults (error statuses in several shapes,
// Retry-After, latency, truncated or malformed bodies). The server records
// every request it received, so tests can assert on what a client sent.
package openaitest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// Options configures a Server. The zero value answers every chat request
// with an error saying that nothing was scripted.
type Options struct {
	// Replies are served first, one per chat request, in order.
	Replies []Reply
	// Handler answers the chat requests that find the queue empty.
	Handler func(req *ChatRequest) Reply
	// Latency is waited at the start of every request, on every endpoint.
	Latency time.Duration
	// Models are listed by GET /v1/models; default ["test-model"].
	Models []string
	// APIKey, when set, is required as "Authorization: Bearer <APIKey>";
	// other requests are answered 401.
	APIKey string
	// NoRecord leaves requests unrecorded, so memory stays flat in
	// benchmarks. See also SetRecording.
	NoRecord bool
	// FragmentSize is the size in bytes of the text and argument fragments
	// of a stream; default 5.
	FragmentSize int
}

// Server is a loopback OpenAI-compatible server. It is safe for concurrent
// use.
type Server struct {
	// URL is the base URL of the API, ending in "/v1", as clients expect it.
	URL string

	srv       *httptest.Server
	opts      Options
	closeOnce sync.Once

	conns atomic.Int64 // accepted

	mu       sync.Mutex
	queue    []Reply
	handler  func(req *ChatRequest) Reply
	count    int
	noRecord bool
	requests []*ChatRequest
}

// NewServer starts a server. When t is not nil the server is closed when the
// test ends; otherwise the caller must call Close. opts may be nil.
func NewServer(t testing.TB, opts *Options) *Server {
	s := &Server{}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.FragmentSize <= 0 {
		s.opts.FragmentSize = 5
	}
	if len(s.opts.Models) == 0 {
		s.opts.Models = []string{"test-model"}
	}
	s.queue = append([]Reply(nil), s.opts.Replies...)
	s.handler = s.opts.Handler
	s.noRecord = s.opts.NoRecord

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.serveChat)
	mux.HandleFunc("GET /v1/models", s.serveModels)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeRaw(w, http.StatusNotFound, ErrorBody("openaitest: no route for "+r.Method+" "+r.URL.Path, "invalid_request_error", "not_found"), 0)
	})
	s.srv = httptest.NewUnstartedServer(mux)
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.Start()
	s.URL = s.srv.URL + "/v1"
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// Close shuts the server down, waiting for the requests in flight.
func (s *Server) Close() { s.closeOnce.Do(s.srv.Close) }

// Client returns an HTTP client configured for the server; Close closes its
// idle connections.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Enqueue adds replies to the end of the queue.
func (s *Server) Enqueue(replies ...Reply) {
	s.mu.Lock()
	s.queue = append(s.queue, replies...)
	s.mu.Unlock()
}

// SetHandler replaces the handler of the requests that find the queue empty.
func (s *Server) SetHandler(h func(req *ChatRequest) Reply) {
	s.mu.Lock()
	s.handler = h
	s.mu.Unlock()
}

// SetRecording turns the recording of requests on or off.
func (s *Server) SetRecording(on bool) {
	s.mu.Lock()
	s.noRecord = !on
	s.mu.Unlock()
}

// Requests returns the chat requests recorded so far, oldest first.
func (s *Server) Requests() []*ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*ChatRequest(nil), s.requests...)
}

// LastRequest returns the last chat request recorded, or nil.
func (s *Server) LastRequest() *ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return nil
	}
	return s.requests[len(s.requests)-1]
}

// Count returns how many chat requests the server received, recorded or not.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Connections returns how many connections the server accepted: a client
// that reuses its connections opens no more than it has calls at once.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// Pending returns how many queued replies are left.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.APIKey == "" || r.Header.Get("Authorization") == "Bearer "+s.opts.APIKey {
		return true
	}
	writeRaw(w, http.StatusUnauthorized, ErrorBody("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"), 0)
	return false
}

func (s *Server) serveModels(w http.ResponseWriter, r *http.Request) {
	if !sleep(r.Context(), s.opts.Latency) || !s.authorized(w, r) {
		return
	}
	list := wireModels{Object: "list"}
	for _, id := range s.opts.Models {
		list.Data = append(list.Data, wireModel{ID: id, Object: "model", Created: created, OwnedBy: "openaitest"})
	}
	writeJSON(w, list, 0)
}

// created is the fixed creation time of every answer, for reproducible bodies.
const created = 1700000000

func (s *Server) serveChat(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !sleep(ctx, s.opts.Latency) || !s.authorized(w, r) {
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	req, err := parseChat(body)
	if err != nil {
		writeRaw(w, http.StatusBadRequest, ErrorBody("openaitest: cannot parse the request body: "+err.Error(), "invalid_request_error", ""), 0)
		return
	}
	req.Header = r.Header
	req.Body = body
	req.ctx = ctx

	s.mu.Lock()
	s.count++
	n := s.count
	if !s.noRecord {
		// A recorded request outlives its handler: it keeps a copy of the
		// header. Otherwise the handler reads the request's own.
		req.Header = r.Header.Clone()
		s.requests = append(s.requests, req)
	}
	var reply Reply
	queued := len(s.queue) > 0
	if queued {
		reply = s.queue[0]
		s.queue = s.queue[1:]
	}
	handler := s.handler
	s.mu.Unlock()

	switch {
	case queued:
	case handler != nil:
		reply = handler(req)
	default:
		reply = Error(http.StatusBadRequest, ErrorBody(fmt.Sprintf("openaitest: no reply scripted for request %d", n), "invalid_request_error", "script_exhausted"))
	}
	if !sleep(ctx, reply.Delay) {
		return
	}
	for k, v := range reply.Header {
		w.Header()[http.CanonicalHeaderKey(k)] = v
	}
	id := strconv.Itoa(n)
	model := reply.Model
	if model == "" {
		model = req.Model
	}
	switch {
	case reply.isError():
		writeRaw(w, reply.Status, reply.Body, reply.TruncateAfter)
	case req.Stream:
		s.writeStream(ctx, w, req, &reply, id, model)
	case reply.Body != "":
		writeRaw(w, http.StatusOK, reply.Body, reply.TruncateAfter)
	default:
		resp := wireCompletion{
			ID:      "chatcmpl-" + id,
			Object:  "chat.completion",
			Created: created,
			Model:   model,
			Choices: []wireChoice{},
			Usage:   reply.Usage.wire(),
		}
		if !reply.EmptyChoices {
			fr := reply.finishReason()
			resp.Choices = append(resp.Choices, wireChoice{
				Message:      wireMessage{Role: "assistant", Content: reply.content(), ToolCalls: reply.calls(id)},
				FinishReason: &fr,
			})
		}
		writeJSON(w, resp, reply.TruncateAfter)
	}
}

// writeStream writes reply as server-sent events: the role, the text in
// fragments, then the tool calls, whose headers come first and whose
// argument fragments alternate between calls, as some servers send them,
// then the finish reason, the usage if asked for, and [DONE].
func (s *Server) writeStream(ctx context.Context, w http.ResponseWriter, req *ChatRequest, reply *Reply, id, model string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	out := &cutWriter{w: w, left: reply.TruncateAfter}
	if reply.Body != "" {
		out.write([]byte(reply.Body))
		return
	}
	base := wireChunk{ID: "chatcmpl-" + id, Object: "chat.completion.chunk", Created: created, Model: model}
	first := true
	defer out.flush()
	send := func(choices []wireChunkChoice, usage *wireUsage) bool {
		if !first && reply.ChunkDelay > 0 {
			out.flush()
		}
		if !first && !sleep(ctx, reply.ChunkDelay) {
			return false
		}
		first = false
		c := base
		c.Choices, c.Usage = choices, usage
		b, _ := json.Marshal(c)
		out.write([]byte("data: " + string(b) + "\n\n"))
		return true
	}
	delta := func(d wireDelta) []wireChunkChoice { return []wireChunkChoice{{Delta: d}} }

	if !reply.EmptyChoices {
		empty := ""
		if !send(delta(wireDelta{Role: "assistant", Content: &empty}), nil) {
			return
		}
		for _, f := range fragments(reply.Text, s.opts.FragmentSize) {
			if !send(delta(wireDelta{Content: &f}), nil) {
				return
			}
		}
		calls := reply.calls(id)
		frags := make([][]string, len(calls))
		for i, c := range calls {
			frags[i] = fragments(c.Function.Arguments, s.opts.FragmentSize)
		}
		for round := 0; ; round++ {
			sent := false
			for i, c := range calls {
				d := wireCallDelta{Index: i}
				switch {
				case round == 0:
					d.ID, d.Type, d.Function.Name = c.ID, c.Type, c.Function.Name
					if len(frags[i]) > 0 {
						d.Function.Arguments = frags[i][0]
					}
				case round < len(frags[i]):
					d.Function.Arguments = frags[i][round]
				default:
					continue
				}
				if !send(delta(wireDelta{ToolCalls: []wireCallDelta{d}}), nil) {
					return
				}
				sent = true
			}
			if !sent {
				break
			}
		}
		fr := reply.finishReason()
		if !send([]wireChunkChoice{{FinishReason: &fr}}, nil) {
			return
		}
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage && reply.Usage != nil {
		if !send([]wireChunkChoice{}, reply.Usage.wire()) {
			return
		}
	}
	out.write([]byte("data: [DONE]\n\n"))
}

// fragments cuts s into pieces of about size bytes, on rune boundaries.
func fragments(s string, size int) []string {
	var out []string
	for len(s) > 0 {
		n := min(size, len(s))
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n++
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any, cut int) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeRaw(w, http.StatusOK, string(b), cut)
}

// writeRaw writes body with status; with cut > 0 it announces the whole
// length but sends only cut bytes, then drops the connection.
func writeRaw(w http.ResponseWriter, status int, body string, cut int) {
	h := w.Header()
	if h.Get("Content-Type") == "" {
		if t := strings.TrimSpace(body); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			h.Set("Content-Type", "application/json")
		} else {
			h.Set("Content-Type", "text/plain; charset=utf-8")
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	out := &cutWriter{w: w, left: cut}
	out.write([]byte(body))
}

// cutWriter writes and flushes; once its budget of bytes is spent it aborts
// the connection, so the client sees a truncated body.
type cutWriter struct {
	w    http.ResponseWriter
	left int // bytes still allowed; 0 means no limit
}

func (c *cutWriter) write(p []byte) {
	limited := c.left > 0
	if limited && len(p) >= c.left {
		_, _ = c.w.Write(p[:c.left])
		_ = http.NewResponseController(c.w).Flush()
		panic(http.ErrAbortHandler)
	}
	if limited {
		c.left -= len(p)
	}
	_, _ = c.w.Write(p)
}

// flush sends what was written so far, before a pause and at the end, not
// after every fragment: the client sees the same events at the same times.
func (c *cutWriter) flush() { _ = http.NewResponseController(c.w).Flush() }

// sleep waits d, or less if ctx ends first; it reports whether to go on.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
