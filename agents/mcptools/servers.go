package mcptools

import (
	"context"
	"errors"

	"github.com/entrust-dev/entrust/agents"
)

// Servers are connected MCP servers, in the order they were given.
type Servers struct {
	conns []*Conn
}

// ConnectAll connects to each server in turn. On an error it stops those it
// started and returns the error.
func ConnectAll(ctx context.Context, servers []Server, opts *Options) (*Servers, error) {
	out := &Servers{}
	for _, s := range servers {
		c, err := Connect(ctx, s, opts)
		if err != nil {
			out.Close()
			return nil, err
		}
		out.conns = append(out.conns, c)
	}
	return out, nil
}

// Conns returns the connections, in order. Callers must not modify the slice.
func (s *Servers) Conns() []*Conn {
	if s == nil {
		return nil
	}
	return s.conns
}

// Tools returns every server's tools, server after server.
func (s *Servers) Tools() []agents.Tool {
	var out []agents.Tool
	for _, c := range s.Conns() {
		out = append(out, c.Tools()...)
	}
	return out
}

// Close stops every server, and returns their errors joined.
func (s *Servers) Close() error {
	var errs []error
	for _, c := range s.Conns() {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
