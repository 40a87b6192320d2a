package mcptools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// DefaultMaxMessageSize is the default bound of one message from a server
// (Options.MaxMessageSize).
const DefaultMaxMessageSize = 8 << 20

// ErrTooLarge is matched (errors.Is) by the error of a call during which the
// server sent a message larger than Options.MaxMessageSize.
var ErrTooLarge = errors.New("mcp message too large")

// limiter bounds the bytes of each message one session reads from its
// server, as they are read: the SDK would otherwise hold a whole message in
// memory before anything could look at its size (an HTTP server's JSON
// answer without any bound). Once a message goes over, the read fails, the
// connection ends, and tripped says why.
type limiter struct {
	max     int64
	tripped atomic.Bool
}

// framing is how a stream delimits its messages.
type framing int

const (
	framedByLine  framing = iota // stdio: one message a line
	framedByEvent                // server-sent events: an empty line ends one
	framedByBody                 // a JSON answer: the whole body is one
)

// reader bounds each message of r, delimited as f says.
func (l *limiter) reader(r io.Reader, f framing) *limitedReader {
	return &limitedReader{r: r, l: l, f: f}
}

type limitedReader struct {
	r       io.Reader
	l       *limiter
	f       framing
	n       int64 // bytes of the message being read
	lineLen int64 // bytes of the line being read, line ends aside
}

func (r *limitedReader) Read(p []byte) (int, error) {
	if r.l.tripped.Load() {
		return 0, r.l.err()
	}
	n, err := r.r.Read(p)
	for _, b := range p[:n] {
		r.n++
		switch {
		case r.f == framedByBody:
		case b == '\n':
			if r.f == framedByLine || r.lineLen == 0 {
				r.n = 0 // the message ended
			}
			r.lineLen = 0
		case b != '\r':
			r.lineLen++
		}
		if r.n > r.l.max {
			r.l.tripped.Store(true)
			return 0, r.l.err()
		}
	}
	return n, err
}

func (l *limiter) err() error {
	return fmt.Errorf("a message over %d bytes: %w", l.max, ErrTooLarge)
}

// limitedBodies is an http.RoundTripper whose response bodies are bounded
// per message: a JSON answer as a whole, an event stream event by event.
type limitedBodies struct {
	base http.RoundTripper
	l    *limiter
}

func (t limitedBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	f := framedByBody
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/event-stream" {
		f = framedByEvent
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{t.l.reader(resp.Body, f), resp.Body}
	return resp, nil
}

// stdioTransport runs a server's command and talks to it over its standard
// input and output, as mcp.CommandTransport does, with each line it writes
// bounded by l while it is read.
type stdioTransport struct {
	cmd       *exec.Cmd
	terminate time.Duration
	l         *limiter
}

func (t *stdioTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	stdout, err := t.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := t.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := t.cmd.Start(); err != nil {
		return nil, err
	}
	return (&mcp.IOTransport{
		Reader: io.NopCloser(t.l.reader(stdout, framedByLine)), // the connection ends by closing stdin
		Writer: &serverInput{WriteCloser: stdin, stdout: stdout, l: t.l, cmd: t.cmd, terminate: t.terminate},
		// The SDK's own bound stays, well above ours, as a second guard.
		MaxLineLength: int(2*t.l.max) + 4096,
	}).Connect(ctx)
}

// serverInput is a stdio server's standard input. Closing it ends the
// server as the MCP specification asks: its input is closed, then it is
// sent SIGTERM if it has not exited in time, then killed. A server that
// went over the bound may be blocked writing the rest: its output is closed
// first, so that it stops at once.
type serverInput struct {
	io.WriteCloser
	stdout    io.Closer
	l         *limiter
	cmd       *exec.Cmd
	terminate time.Duration
}

func (s *serverInput) Close() error {
	if s.l.tripped.Load() {
		s.stdout.Close()
	}
	if err := s.WriteCloser.Close(); err != nil {
		return fmt.Errorf("closing stdin: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	wait := func() (error, bool) {
		t := time.NewTimer(s.terminate)
		defer t.Stop()
		select {
		case err := <-exited:
			return err, true
		case <-t.C:
			return nil, false
		}
	}
	if err, ok := wait(); ok {
		return err
	}
	if s.cmd.Process.Signal(syscall.SIGTERM) == nil {
		if err, ok := wait(); ok {
			return err
		}
	}
	if err := s.cmd.Process.Kill(); err != nil {
		return err
	}
	if err, ok := wait(); ok {
		return err
	}
	return errors.New("the server's process does not exit")
}
