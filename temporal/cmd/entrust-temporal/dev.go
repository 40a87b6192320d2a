package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"go.temporal.io/server/temporaltest"
)

type devOptions struct {
	port int
	out  io.Writer
}

func newDevCmd(out io.Writer) *cobra.Command {
	opts := &devOptions{out: out}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Start a Temporal server in this process, for local use and tests",
		Long: "dev starts a real Temporal server in this process (go.temporal.io/server/temporaltest: in memory, gone when it stops) and prints its address and namespace. No external binary to install.\n\n" +
			"It runs until interrupted.",
		Example: "  entrust-temporal dev --port 7233",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runDev(ctx, opts)
		},
	}
	cmd.Flags().IntVar(&opts.port, "port", 0, "the `PORT` to listen on at 127.0.0.1 (default: the server's own, printed)")
	return cmd
}

func runDev(ctx context.Context, opts *devOptions) error {
	if opts.port < 0 || opts.port > 65535 {
		return usageErrorf("--port %d: want 0 to 65535", opts.port)
	}
	ts := temporaltest.NewServer()
	defer ts.Stop()
	addr := ts.GetFrontendHostPort()
	if opts.port != 0 {
		// temporaltest picks its own port: a proxy listens on the one asked for.
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", opts.port))
		if err != nil {
			return &exitError{code: exitFailed, err: err}
		}
		defer l.Close()
		go proxy(l, addr)
		addr = l.Addr().String()
	}
	ns := ts.GetDefaultNamespace()
	fmt.Fprintf(opts.out, "temporal dev server at %s, namespace %s\n", addr, ns)
	fmt.Fprintf(opts.out, "  workers: entrust-temporal worker --address %s --namespace %s --team FILE --workspace DIR\n", addr, ns)
	fmt.Fprintf(opts.out, "  goals:   entrust-temporal run --address %s --namespace %s \"GOAL\"\n", addr, ns)
	<-ctx.Done()
	return nil
}

// proxy forwards each connection accepted on l to addr until l closes.
func proxy(l net.Listener, addr string) {
	for {
		in, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer in.Close()
			out, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer out.Close()
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(out, in); out.(*net.TCPConn).CloseWrite() }()
			go func() { defer wg.Done(); io.Copy(in, out); in.(*net.TCPConn).CloseWrite() }()
			wg.Wait()
		}()
	}
}
