package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/telemetry"
	"github.com/entrust-dev/entrust/orchestrator/trust"
)

// ObserveOptions are the flags of what watches a run besides its journal and
// its view.
type ObserveOptions struct {
	// LogLevel is --log-level: debug, info, warn, error or off; "" is warn
	// when Quiet, else off.
	LogLevel string
	// Quiet is --quiet: no live view.
	Quiet bool
	// Trust is --trust: the trust ledger's file ("" for none).
	Trust string
	// CountOnce has the ledger count the run only once it was seen to its
	// end (run.finished), and only if no other process counted it already
	// (trust.Ledger.SaveOnce): for a run that more than one client may
	// follow (entrust-temporal run and follow). The run is known by its
	// run id, or by the key CountAs gives.
	CountOnce bool
}

// Observers are what watches a run besides the journal and the view: the
// structured log, the OpenTelemetry traces, and the trust ledger.
type Observers struct {
	// Sinks are the log's, the traces' and the ledger's, to add to the run's.
	Sinks []orchestrator.Sink
	// Ledger is the trust ledger, nil without one; set it to nil for
	// Close not to save it.
	Ledger   *trust.Ledger
	logTo    *switchWriter
	shutdown func(context.Context) error
	// hush, when set and true, silences the log (Hush).
	hush func() bool
	// once is CountOnce, seen whether the ledger saw an event, and
	// finished the run seen to its end.
	once     bool
	seen     atomic.Bool
	finished atomic.Pointer[string]
	// countAs is CountAs's key.
	countAs string
}

// hushable is the log sink, silenced while Hush says so; a
// hushableBorrower when the log sink borrows its events.
type hushable struct {
	obs *Observers
	log orchestrator.Sink
}

// Emit logs e unless the log is hushed.
func (h hushable) Emit(ctx context.Context, e *orchestrator.Event) error {
	if h.obs.hush != nil && h.obs.hush() {
		return nil
	}
	return h.log.Emit(ctx, e)
}

// hushableBorrower is a hushable whose log sink borrows its events, as
// telemetry.NewLogSink's does (orchestrator.Borrower): it keeps nothing of
// an event either, so a run whose other sinks borrow too lends its events.
type hushableBorrower struct{ hushable }

// Borrows marks the sink as an orchestrator.Borrower.
func (hushableBorrower) Borrows() {}

// switchWriter lets the log be routed through the live view once it exists,
// so log lines do not tear its redraw.
type switchWriter struct{ w io.Writer }

func (s *switchWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

// OpenObservers opens the log (to stderr), the traces and the trust ledger.
// The log's level is o.LogLevel; by default warn with Quiet, else off: the
// live view and --json already show every warning, and a second copy on
// stderr would say each twice.
func OpenObservers(ctx context.Context, o ObserveOptions, stderr io.Writer) (*Observers, error) {
	obs := &Observers{shutdown: func(context.Context) error { return nil }, logTo: &switchWriter{stderr}}
	lvl := strings.ToLower(strings.TrimSpace(o.LogLevel))
	if lvl == "" {
		lvl = "off"
		if o.Quiet {
			lvl = "warn"
		}
	}
	if lvl != "off" && lvl != "none" {
		level, err := telemetry.ParseLevel(lvl)
		if err != nil {
			return nil, fmt.Errorf("--log-level %q: want debug, info, warn, error or off", o.LogLevel)
		}
		h := slog.NewTextHandler(obs.logTo, &slog.HandlerOptions{Level: level})
		log := hushable{obs: obs, log: telemetry.NewLogSink(slog.New(h))}
		if _, ok := log.log.(orchestrator.Borrower); ok {
			obs.Sinks = append(obs.Sinks, hushableBorrower{log})
		} else {
			obs.Sinks = append(obs.Sinks, log)
		}
	}
	tracer, shutdown, err := telemetry.FromEnv(ctx)
	if err != nil {
		return nil, err
	}
	obs.shutdown = shutdown
	if tracer != nil {
		obs.Sinks = append(obs.Sinks, tracer)
	}
	if o.Trust != "" {
		l, err := trust.Open(o.Trust)
		if err != nil {
			return nil, fmt.Errorf("--trust: %w", err)
		}
		obs.Ledger = l
		obs.Sinks = append(obs.Sinks, l)
		if o.CountOnce {
			obs.once = true
			obs.Sinks = append(obs.Sinks, orchestrator.SinkFunc(func(_ context.Context, e *orchestrator.Event) error {
				obs.seen.Store(true)
				if e.Type == orchestrator.EventRunFinished {
					obs.finished.Store(&e.Run)
				}
				return nil
			}))
		}
	}
	return obs, nil
}

// Hush silences the log whenever hush reports true: the run ended on an
// error said once, and what follows is its echo. Call it before the run.
func (o *Observers) Hush(hush func() bool) { o.hush = hush }

// LogThrough routes the log through w from now on (LiveView.LogWriter).
func (o *Observers) LogThrough(w io.Writer) { o.logTo.w = w }

// SupervisionFor is the trust ledger's supervision per agent and model, or
// nil without a ledger.
func (o *Observers) SupervisionFor() func(agent, model string) orchestrator.Supervision {
	if o.Ledger == nil {
		return nil
	}
	return o.Ledger.SupervisionForModel
}

// Scorer is what the live view shows trust from: the ledger, or nil.
func (o *Observers) Scorer() Scorer {
	if o.Ledger == nil {
		return nil
	}
	return o.Ledger
}

// CountAs has a CountOnce ledger know the run by key rather than by its run
// id: what makes one run unique where its id may be given again to a new
// one (a Temporal workflow id, reused for each night's run, with the
// execution's run id). Call it before Close.
func (o *Observers) CountAs(key string) { o.countAs = key }

// Close saves the ledger (with CountOnce, a run seen to its end and not
// counted already) and flushes the traces; what fails is said on stderr.
func (o *Observers) Close(stderr io.Writer) {
	switch run := o.finished.Load(); {
	case o.Ledger == nil, o.once && !o.seen.Load():
	case o.once && run == nil:
		fmt.Fprintln(stderr, "run: the trust ledger is not saved: the run was not followed to its end (follow it again to count it)")
	case o.once:
		key, as := *run, ""
		if o.countAs != "" && o.countAs != key {
			key, as = o.countAs, " (as "+o.countAs+")"
		}
		counted, err := o.Ledger.SaveOnce(key)
		if err != nil {
			fmt.Fprintf(stderr, "run: saving the trust ledger: %v\n", err)
		} else if !counted {
			fmt.Fprintf(stderr, "run: the trust ledger had counted run %s%s already (another client followed it): it is not counted twice\n", *run, as)
		}
	default:
		if err := o.Ledger.Save(); err != nil {
			fmt.Fprintf(stderr, "run: saving the trust ledger: %v\n", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.shutdown(ctx); err != nil {
		fmt.Fprintf(stderr, "run: flushing traces: %v\n", err)
	}
}

// DefaultTrustPath is where the commands keep the trust ledger unless told
// otherwise.
const DefaultTrustPath = "runs/trust.json"
