// Package mcptools gives agents the tools of Model Context Protocol servers.
// Connect starts a stdio server (or reaches a streamable-HTTP one), lists its
// tools and returns each tool T of server S as an agents.Tool named S__T,
// with the server's input schema shown to the model as given and checked
// before every call. Calls carry the caller's context; a tool error the
// server reports (isError) comes back to the model as a tool error; a server
// that dies is restarted once, after which its tools fail with a clear error.
//
// It is built on the official Go SDK, github.com/modelcontextprotocol/go-sdk.
package mcptools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Separator joins a server's name and its tool's name in the agent tool's
// name: tool "read_file" of server "fs" is "fs__read_file". Models'
// function names allow no dots, so two underscores it is.
const Separator = "__"

// Server describes one MCP server: a stdio command, a streamable-HTTP URL,
// or (for tests and custom transports) a Transport function.
type Server struct {
	// Name prefixes the server's tools; see ValidName.
	Name string
	// Command is the program and its arguments of a stdio server.
	Command []string
	// Env is added to the stdio server's environment. The server does not
	// inherit this process's environment — API keys stay here — only the
	// variables a program needs to run (PATH, HOME, USER, LANG, TMPDIR…).
	Env map[string]string
	// URL is the endpoint of a streamable-HTTP server (http or https).
	URL string
	// Headers are sent with every HTTP request, e.g. an Authorization.
	Headers map[string]string
	// Tools, when not empty, allows only these of the server's tools; a
	// name the server does not offer is an error of Connect.
	Tools []string
	// TrustHints lets the server's annotations of all its tools decide how
	// they are run: readOnlyHint makes a tool's calls concurrent, it or
	// idempotentHint lets a call whose fate is unknown be made again, and
	// destructiveHint false marks a tool not destructive. Annotations are
	// the server's own word, so they are ignored unless trusted here or in
	// HintedTools: an untrusted tool is run alone, never made again, and
	// taken to be destructive.
	TrustHints bool
	// HintedTools names the tools whose annotations are trusted when
	// TrustHints is not set; a name the server does not offer (or that
	// Tools does not allow) is an error.
	HintedTools []string
	// Transport, when set, connects instead of Command or URL. It is called
	// again for a restart, so it must return a fresh transport each time.
	Transport func(ctx context.Context) (mcp.Transport, error)
}

// Kind names how s is reached: "stdio", "http" or "transport".
func (s *Server) Kind() string {
	switch {
	case s.Transport != nil:
		return "transport"
	case s.URL != "":
		return "http"
	}
	return "stdio"
}

// Source describes s for people: its command line or its URL.
func (s *Server) Source() string {
	switch s.Kind() {
	case "transport":
		return "mcp " + s.Name
	case "http":
		return "mcp " + s.Name + " (" + s.URL + ")"
	}
	return "mcp " + s.Name + " (" + strings.Join(s.Command, " ") + ")"
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// ValidName reports whether name may name a server: a lowercase identifier
// (letters, digits and single underscores, starting with a letter), so that
// S__T splits back into S and T.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// toolNameRE is what models accept as a function name.
var toolNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ToolName returns the agent tool name of tool of server.
func ToolName(server, tool string) string { return server + Separator + tool }

// SplitToolName splits an agent tool name into its server and the server's
// tool name; ok is false when name has no valid server prefix.
func SplitToolName(name string) (server, tool string, ok bool) {
	server, tool, ok = strings.Cut(name, Separator)
	if !ok || !ValidName(server) || tool == "" {
		return "", "", false
	}
	return server, tool, true
}

// Validate checks s without reaching the server.
func (s *Server) Validate() error {
	if !ValidName(s.Name) {
		return fmt.Errorf("mcp server name %q: use a lowercase identifier (letters, digits and single underscores, starting with a letter)", s.Name)
	}
	n := 0
	if len(s.Command) > 0 {
		n++
		if s.Command[0] == "" {
			return fmt.Errorf("mcp server %s: empty program in command", s.Name)
		}
	}
	if s.URL != "" {
		n++
		if !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
			return fmt.Errorf("mcp server %s: url %q: want http:// or https://", s.Name, s.URL)
		}
	}
	if s.Transport != nil {
		n++
	}
	switch {
	case n == 0:
		return fmt.Errorf("mcp server %s: give a command (stdio) or a url (streamable HTTP)", s.Name)
	case n > 1:
		return fmt.Errorf("mcp server %s: give either a command or a url, not both", s.Name)
	case len(s.Env) > 0 && len(s.Command) == 0:
		return fmt.Errorf("mcp server %s: env is for stdio servers (with a command)", s.Name)
	case len(s.Headers) > 0 && s.URL == "":
		return fmt.Errorf("mcp server %s: headers are for HTTP servers (with a url)", s.Name)
	}
	for i, t := range s.Tools {
		if slices.Index(s.Tools, t) < i {
			return fmt.Errorf("mcp server %s: tool %q is allowed twice", s.Name, t)
		}
	}
	for _, t := range s.HintedTools {
		if len(s.Tools) > 0 && !slices.Contains(s.Tools, t) {
			return fmt.Errorf("mcp server %s: the hints of tool %q are trusted, but the tool is not allowed (tools: %s)", s.Name, t, strings.Join(s.Tools, ", "))
		}
	}
	return nil
}

// Options configure Connect. The zero value is usable.
type Options struct {
	// Stderr receives the standard error of stdio servers; default
	// discarded (its last lines still appear in errors about the server).
	Stderr io.Writer
	// HTTPClient makes the requests to HTTP servers; default
	// http.DefaultClient.
	HTTPClient *http.Client
	// StartTimeout bounds starting a server and listing its tools; default
	// one minute (a package runner may download the server first).
	StartTimeout time.Duration
	// Logger receives the SDK's log; default none.
	Logger *slog.Logger
	// MaxMessageSize bounds the bytes of one message a stdio or HTTP
	// server sends — a call's result among them — counted as it is read,
	// so a hostile server cannot fill memory; default
	// DefaultMaxMessageSize. A call during which the server goes over
	// fails with ErrTooLarge, and the connection is closed (the server is
	// restarted for the next call, once, as after a crash). A Server's own
	// Transport is not bounded here.
	MaxMessageSize int64
}

// ErrUnavailable is matched (errors.Is) by the errors of a server that is
// closed or that died after its one restart.
var ErrUnavailable = errors.New("mcp server unavailable")

// Conn is a connection to one MCP server and the tools it gave. It is safe
// for concurrent use; Close stops the server.
type Conn struct {
	srv    Server
	opts   Options
	client *mcp.Client
	tools  []*Tool

	mu       sync.Mutex
	cur      *session
	restarts int
	closed   bool
	gone     error // set once the server is given up
	skipped  []error
}

// session is one live connection: a restart makes a new one.
type session struct {
	cs     *mcp.ClientSession
	cmd    *exec.Cmd // stdio only
	pid    int       // of cmd, its process group's id
	stderr *tail
	lim    *limiter      // nil for a Server's own Transport
	done   chan struct{} // closed when the connection ends
	waited chan struct{} // closed when the watcher returned
}

// Connect starts or reaches the server, lists its tools and returns them
// as agent tools. ctx bounds the start (with opts.StartTimeout), not the
// server's life: Close ends that.
func Connect(ctx context.Context, srv Server, opts *Options) (*Conn, error) {
	if err := srv.Validate(); err != nil {
		return nil, err
	}
	c := &Conn{srv: srv}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.StartTimeout <= 0 {
		c.opts.StartTimeout = time.Minute
	}
	if c.opts.MaxMessageSize <= 0 {
		c.opts.MaxMessageSize = DefaultMaxMessageSize
	}
	c.client = mcp.NewClient(&mcp.Implementation{Name: "entrust", Version: "v0"}, &mcp.ClientOptions{Logger: c.opts.Logger})
	s, err := c.start(ctx)
	if err != nil {
		return nil, err
	}
	c.cur = s
	listed, err := c.list(ctx, s)
	if err != nil {
		c.stop(s)
		return nil, err
	}
	if c.tools, err = c.wrap(listed); err != nil {
		c.stop(s)
		return nil, err
	}
	return c, nil
}

// Name returns the server's name.
func (c *Conn) Name() string { return c.srv.Name }

// Server returns the server's description.
func (c *Conn) Server() Server { return c.srv }

// Tools returns the server's tools (those allowed), in the server's order.
func (c *Conn) Tools() []agents.Tool {
	out := make([]agents.Tool, len(c.tools))
	for i, t := range c.tools {
		out[i] = t
	}
	return out
}

// Infos describes the server's tools (those allowed), in the server's order.
func (c *Conn) Infos() []*Tool { return slices.Clone(c.tools) }

// Close stops the server (a stdio server's process is ended: its standard
// input is closed, then it is sent SIGTERM, then killed) and makes its
// tools fail with ErrUnavailable. It is safe to call more than once.
func (c *Conn) Close() error {
	c.mu.Lock()
	s := c.cur
	c.cur = nil
	c.closed = true
	c.mu.Unlock()
	if s == nil {
		return nil
	}
	return c.stop(s)
}

func (c *Conn) start(ctx context.Context) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	s := &session{done: make(chan struct{}), waited: make(chan struct{})}
	var t mcp.Transport
	switch c.srv.Kind() {
	case "transport":
		var err error
		if t, err = c.srv.Transport(ctx); err != nil {
			return nil, fmt.Errorf("mcp server %s: %w", c.srv.Name, err)
		}
	case "http":
		client := c.opts.HTTPClient
		if client == nil {
			client = http.DefaultClient
		}
		s.lim = &limiter{max: c.opts.MaxMessageSize}
		hc := *client
		hc.Transport = limitedBodies{base: client.Transport, l: s.lim}
		if len(c.srv.Headers) > 0 {
			hc.Transport = headerTransport{base: hc.Transport, headers: c.srv.Headers}
		}
		// The SDK's own bound of an event stays, well above ours.
		t = &mcp.StreamableClientTransport{Endpoint: c.srv.URL, HTTPClient: &hc, MaxEventSize: int(2*c.opts.MaxMessageSize) + 4096}
	default:
		cmd := exec.Command(c.srv.Command[0], c.srv.Command[1:]...)
		cmd.Env = serverEnv(c.srv.Env)
		s.stderr = &tail{w: c.opts.Stderr}
		cmd.Stderr = s.stderr
		// A program the server started may hold its standard error open
		// after the server exited: waiting for it ends soon, and the
		// process group is killed after (reap).
		cmd.WaitDelay = 500 * time.Millisecond
		detach(cmd)
		s.cmd = cmd
		s.lim = &limiter{max: c.opts.MaxMessageSize}
		t = &stdioTransport{cmd: cmd, terminate: 2 * time.Second, l: s.lim}
	}
	cs, err := c.client.Connect(ctx, t, nil)
	if err != nil {
		if s.cmd != nil && s.cmd.Process != nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
		return nil, fmt.Errorf("mcp server %s: starting: %w%s", c.srv.Name, err, s.stderr.say())
	}
	s.cs = cs
	if s.cmd != nil {
		s.pid = s.cmd.Process.Pid
	}
	go func() {
		defer close(s.waited)
		cs.Wait()
		close(s.done)
	}()
	return s, nil
}

// stop ends s and waits for its watcher.
func (c *Conn) stop(s *session) error {
	err := s.cs.Close()
	<-s.waited
	reap(s.pid)
	if errors.Is(err, mcp.ErrConnectionClosed) || s.cmd != nil {
		// A stdio server ended by us exits with a signal or status: that
		// is the stop, not a failure of it.
		err = nil
	}
	return err
}

func (c *Conn) list(ctx context.Context, s *session) ([]*mcp.Tool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	var out []*mcp.Tool
	for t, err := range s.cs.Tools(ctx, nil) {
		if err != nil {
			if s.tooLarge() {
				err = s.lim.err()
			}
			return nil, fmt.Errorf("mcp server %s: listing tools: %w", c.srv.Name, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// tooLarge reports whether the server sent s a message over the bound.
func (s *session) tooLarge() bool { return s.lim != nil && s.lim.tripped.Load() }

// live returns the session to call, restarting a server that died once.
func (c *Conn) live(ctx context.Context) (*session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, fmt.Errorf("mcp server %s is closed: %w", c.srv.Name, ErrUnavailable)
	case c.gone != nil:
		return nil, c.gone
	}
	select {
	case <-c.cur.done:
	default:
		return c.cur, nil
	}
	why := c.exit(c.cur)
	if c.restarts > 0 {
		c.gone = fmt.Errorf("mcp server %s stopped again (%s) after its one restart: its tools are unavailable for the rest of the run: %w", c.srv.Name, why, ErrUnavailable)
		return nil, c.gone
	}
	c.restarts++
	s, err := c.start(ctx)
	if err != nil {
		if ctx.Err() != nil {
			c.restarts-- // not a failure of the server: try again next call
			return nil, err
		}
		c.gone = fmt.Errorf("mcp server %s stopped (%s) and did not restart: %v: %w", c.srv.Name, why, err, ErrUnavailable)
		return nil, c.gone
	}
	c.cur = s
	return s, nil
}

// exit ends a dead session and says why it ended.
func (c *Conn) exit(s *session) string {
	c.stop(s)
	why := "connection closed"
	if s.cmd != nil && s.cmd.ProcessState != nil {
		why = s.cmd.ProcessState.String()
	}
	return why + s.stderr.say()
}

// serverEnv is the environment of a stdio server: the variables a program
// needs to run, from this process, plus extra.
func serverEnv(extra map[string]string) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LC_ALL", "TMPDIR", "TZ", "SYSTEMROOT", "APPDATA", "USERPROFILE"} {
		if v, ok := os.LookupEnv(k); ok {
			if _, over := extra[k]; !over {
				env = append(env, k+"="+v)
			}
		}
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return env
}

type headerTransport struct {
	base    http.RoundTripper
	headers map[string]string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.headers {
		r.Header.Set(k, v)
	}
	base := h.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// tail keeps the last lines a server wrote to its standard error, for the
// errors that say why it stopped, and copies them to w.
type tail struct {
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

const tailSize = 2048

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = slices.Clone(t.buf[len(t.buf)-tailSize:])
	}
	t.mu.Unlock()
	if t.w != nil {
		t.w.Write(p)
	}
	return len(p), nil
}

// say returns "; stderr: …" with the last lines, or "".
func (t *tail) say() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return "; its last words: " + strings.Join(lines, " | ")
}
