package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/telemetry"
	"github.com/entrust-dev/entrust/orchestrator/trust"
)

// observers are what watches a run besides the journal and the view: the
// structured log, the OpenTelemetry traces, and the trust ledger.
type observers struct {
	sinks    []orchestrator.Sink
	ledger   *trust.Ledger
	logTo    *switchWriter
	shutdown func(context.Context) error
	// hush, when set and true, silences the log: the run ended on an
	// error said once, and what follows is its echo.
	hush func() bool
}

// switchWriter lets the log be routed through the live view once it exists,
// so log lines do not tear its redraw.
type switchWriter struct{ w io.Writer }

func (s *switchWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

// openObservers opens the log, the traces and the trust ledger. The log's
// level is --log-level's; by default warn with --quiet, else
// off: the live view and --json already show every warning, and a second
// copy on stderr would say each twice.
func openObservers(ctx context.Context, f *runOptions, stderr io.Writer) (*observers, error) {
	o := &observers{shutdown: func(context.Context) error { return nil }, logTo: &switchWriter{stderr}}
	lvl := strings.ToLower(strings.TrimSpace(f.logLevel))
	if lvl == "" {
		lvl = "off"
		if f.quiet {
			lvl = "warn"
		}
	}
	if lvl != "off" && lvl != "none" {
		level, err := telemetry.ParseLevel(lvl)
		if err != nil {
			return nil, fmt.Errorf("--log-level %q: want debug, info, warn, error or off", f.logLevel)
		}
		h := slog.NewTextHandler(o.logTo, &slog.HandlerOptions{Level: level})
		log := telemetry.NewLogSink(slog.New(h))
		o.sinks = append(o.sinks, orchestrator.SinkFunc(func(ctx context.Context, e *orchestrator.Event) error {
			if o.hush != nil && o.hush() {
				return nil
			}
			return log.Emit(ctx, e)
		}))
	}
	tracer, shutdown, err := telemetry.FromEnv(ctx)
	if err != nil {
		return nil, err
	}
	o.shutdown = shutdown
	if tracer != nil {
		o.sinks = append(o.sinks, tracer)
	}
	if f.trust != "" {
		l, err := trust.Open(f.trust)
		if err != nil {
			return nil, fmt.Errorf("--trust: %w", err)
		}
		o.ledger = l
		o.sinks = append(o.sinks, l)
	}
	return o, nil
}

// supervisionFor is the trust ledger's supervision per agent and model, or
// nil without a ledger.
func (o *observers) supervisionFor() func(agent, model string) orchestrator.Supervision {
	if o.ledger == nil {
		return nil
	}
	return o.ledger.SupervisionForModel
}

func (o *observers) scorer() cli.Scorer {
	if o.ledger == nil {
		return nil
	}
	return o.ledger
}

// close saves the ledger and flushes the traces.
func (o *observers) close(stderr io.Writer) {
	if o.ledger != nil {
		if err := o.ledger.Save(); err != nil {
			fmt.Fprintf(stderr, "run: saving the trust ledger: %v\n", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.shutdown(ctx); err != nil {
		fmt.Fprintf(stderr, "run: flushing traces: %v\n", err)
	}
}
