package main

import (
	"errors"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

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
	port      int
	namespace string
	out       io.Writer
}

func newDevCmd(out io.Writer) *cobra.Command {
	opts := &devOptions{out: out}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Start a Temporal server in this process, for local use and tests",
		Long: "dev starts a real Temporal server in this process (go.temporal.io/server/temporaltest: in memory, gone when it stops), registers the namespace (default: default, which worker and run use unless told otherwise) and prints its address. No external binary to install.\n\n" +
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
	cmd.Flags().StringVar(&opts.namespace, "namespace", "default", "the `NAMESPACE` to register")
	return cmd
}

func runDev(ctx context.Context, opts *devOptions) error {
	if opts.port < 0 || opts.port > 65535 {
		return usageErrorf("--port %d: want 0 to 65535", opts.port)
	}
	if opts.namespace == "" {
		return usageErrorf("dev: --namespace is empty")
	}
	ts := temporaltest.NewServer()
	defer ts.Stop()
	addr := ts.GetFrontendHostPort()
	// temporaltest registers a namespace of a random name; the one asked
	// for is registered too, so that workers and runs need no --namespace.
	if err := registerNamespace(ctx, addr, opts.namespace); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
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
	ns := ""
	if opts.namespace != "default" {
		ns = " --namespace " + opts.namespace
	}
	fmt.Fprintf(opts.out, "temporal dev server at %s, namespace %s\n", addr, opts.namespace)
	fmt.Fprintf(opts.out, "  workers: entrust-temporal worker --address %s%s --workspace DIR [--team FILE]\n", addr, ns)
	fmt.Fprintf(opts.out, "  goals:   entrust-temporal run --address %s%s \"GOAL\"\n", addr, ns)
	<-ctx.Done()
	return nil
}

// registerNamespace registers ns on the server at addr, with a day's
// retention (the server is in memory: it keeps nothing past its stop).
func registerNamespace(ctx context.Context, addr, ns string) error {
	nc, err := client.NewNamespaceClient(client.Options{HostPort: addr, Logger: quietLogger{}})
	if err != nil {
		return fmt.Errorf("registering namespace %s: %w", ns, err)
	}
	defer nc.Close()
	err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("registering namespace %s: %w", ns, err)
	}
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
