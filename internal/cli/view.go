package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/entrust-dev/entrust/orchestrator"
)

// redrawEvery bounds the live view's redraws (10 a second); the clock in its
// header advances at least once a second.
const redrawEvery = 100 * time.Millisecond

// LiveView is the Sink that shows the delegation tree as it unfolds: redrawn
// in place with colour on a terminal, one plain line per notable event
// otherwise. Its redraw goroutine is owned by the view and stopped by Close.
type LiveView struct {
	out io.Writer
	tty bool
	st  Style
	sc  Scorer
	now func() time.Time

	mu       sync.Mutex
	t        *tracker
	dirty    bool
	drawn    int // lines of the last draw, to move back over
	lastDraw time.Time
	paused   bool
	closed   bool

	logTo   io.Writer    // where the held log goes
	held    bytes.Buffer // log lines held while the tree is drawn
	dropped int          // log bytes past maxHeldLog

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// NewLiveView returns the live view written to out, with the trust of sc
// (nil: none shown). Close it when the run ends.
func NewLiveView(out io.Writer, sc Scorer) *LiveView {
	v := &LiveView{out: out, tty: redrawsOn(out), st: NewStyle(out), sc: sc,
		now: time.Now, t: newTracker()}
	if v.tty {
		v.stop, v.done = make(chan struct{}), make(chan struct{})
		go v.loop()
	}
	return v
}

// Borrows marks the view as an orchestrator.Borrower: it keeps nothing of
// an event once Emit returns but what its fields point to (the tracker
// copies the run.finished event it keeps).
func (v *LiveView) Borrows() {}

// Emit folds e into the tree; on a terminal the next tick redraws it, else
// the event is written as a line at once.
func (v *LiveView) Emit(_ context.Context, e *orchestrator.Event) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.t.apply(e)
	if v.tty {
		v.dirty = true
		return nil
	}
	if s := v.t.describe(e); s != "" {
		_, err := fmt.Fprintln(v.out, s)
		return err
	}
	return nil
}

func (v *LiveView) loop() {
	defer close(v.done)
	tick := time.NewTicker(redrawEvery)
	defer tick.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-tick.C:
			v.mu.Lock()
			if !v.paused && (v.dirty || v.now().Sub(v.lastDraw) >= time.Second) {
				v.draw()
			}
			v.mu.Unlock()
		}
	}
}

// draw redraws the tree over the last one. The caller holds mu.
func (v *LiveView) draw() {
	width, height := termSize(v.out)
	if width > 0 {
		width-- // never write the last column: some terminals wrap there
	}
	lines := v.t.lines(v.st, width, v.now(), v.sc)
	if height > 2 && len(lines) > height-1 {
		cut := len(lines) - (height - 2)
		lines = append(lines[:1:1], append([]string{v.st.line(width, segment{Dim, fmt.Sprintf("… %d more lines", cut)})}, lines[1+cut:]...)...)
	}
	var b bytes.Buffer
	v.clear(&b)
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\x1b[K\n")
	}
	v.out.Write(b.Bytes())
	v.drawn = len(lines)
	v.dirty = false
	v.lastDraw = v.now()
}

// clear moves back over the last draw and erases it.
func (v *LiveView) clear(b *bytes.Buffer) {
	if v.drawn > 0 {
		fmt.Fprintf(b, "\r\x1b[%dA\x1b[J", v.drawn)
	}
	v.drawn = 0
}

// Pause draws the tree as it is and stops redrawing, so a prompt can be
// written below it.
func (v *LiveView) Pause() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.tty && !v.closed {
		v.draw()
	}
	v.paused = true
}

// Resume starts redrawing again, below whatever was written meanwhile.
func (v *LiveView) Resume() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.paused = false
	v.drawn = 0
	v.dirty = true
}

// redrawsOn reports whether a live view on out is redrawn in place: out is
// a terminal that can move the cursor.
func redrawsOn(out io.Writer) bool {
	return IsTerminal(out) && os.Getenv("TERM") != "dumb"
}

// maxHeldLog bounds the log held while the tree is drawn.
const maxHeldLog = 4 << 20

// LogWriter returns the writer of the log (to w). While the tree is redrawn
// on a terminal, log lines would tear it: they are held, and written below
// the final tree by flushLog.
func (v *LiveView) LogWriter(w io.Writer) io.Writer {
	if !v.tty {
		return w
	}
	v.logTo = w
	return writerFunc(func(p []byte) (int, error) {
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.closed {
			return w.Write(p)
		}
		if v.held.Len()+len(p) > maxHeldLog {
			v.dropped += len(p)
			return len(p), nil
		}
		return v.held.Write(p)
	})
}

// FlushLog writes the log held during the run, after the final tree. It is
// called once the view is closed.
func (v *LiveView) FlushLog() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.logTo == nil {
		return
	}
	v.logTo.Write(v.held.Bytes())
	v.held.Reset()
	if v.dropped > 0 {
		fmt.Fprintf(v.logTo, "run: %d bytes of log were dropped while the tree was drawn; use --quiet to see the log as it is written\n", v.dropped)
		v.dropped = 0
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Close stops the redraws and draws the final tree.
func (v *LiveView) Close() {
	v.closeOnce.Do(func() {
		if v.tty {
			close(v.stop)
			<-v.done
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.tty {
			v.paused = false
			v.draw()
		}
		v.closed = true
	})
}

// Pauser is what the terminal principal needs of the view.
type Pauser interface {
	Pause()
	Resume()
}
