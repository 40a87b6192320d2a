package httpe2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/openaitest"
	"github.com/entrust-dev/entrust/orchestrator"
	goopenai "github.com/sashabaranov/go-openai"
)

// The benchmarks run independent delegations, each a whole rt.Run of a solo
// team under structural supervision: offer → accept (judged by the runtime
// and the automatic principal, no model) → one action tool → complete
// (verified by the runtime). That is three model calls in a row, each over
// HTTP, and nothing else: the longest chain of sequential calls is 3.
const chain = 3

var benchGoal = agents.Goal{Intent: "measure the runtime over HTTP", Objective: "take a note",
	Criteria: []string{"a note is taken"}, Constraints: []string{"nothing else"}}

var benchUsage = model.Usage{PromptTokens: 100, CompletionTokens: 10}

// benchRemote plays the delegate on the server, statelessly, by the length
// of the conversation: accept, note, complete. Its calls are built once,
// with ids, so nothing is written to shared values.
func benchRemote() *model.Scripted {
	acc, nt, done := accept(benchGoal, "take the note"), note("x"), complete(benchGoal, "done", "c2")
	acc.ID, nt.ID, done.ID = "c1", "c2", "c3"
	m := model.ScriptFunc("bench", func(_ context.Context, req *model.Request) (*model.Response, error) {
		c := done
		switch len(req.Messages) {
		case 2:
			c = acc
		case 4:
			c = nt
		}
		return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{c}}, Usage: benchUsage}, nil
	})
	m.SetRecording(false)
	return m
}

// counting is a Sink that counts what the benchmarks check, and keeps
// nothing, so the heap measures the runtime, not a growing journal. It
// borrows the events it is given (orchestrator.Borrower), as a journal
// does: a run whose sinks all borrow allocates no event.
type counting struct {
	completed, finished, retried, failed atomic.Int64
}

// Borrows marks the sink as an orchestrator.Borrower: it keeps nothing of
// an event once Emit returns.
func (*counting) Borrows() {}

var _ orchestrator.Borrower = (*counting)(nil)

func (c *counting) Emit(_ context.Context, e *orchestrator.Event) error {
	switch e.Type {
	case orchestrator.EventGoalCompleted:
		c.completed.Add(1)
	case orchestrator.EventGoalFailed:
		c.failed.Add(1)
	case orchestrator.EventRunFinished:
		c.finished.Add(1)
	case orchestrator.EventModelRetried:
		c.retried.Add(1)
	}
	return nil
}

type benchEnv struct {
	srv   *openaitest.Server
	model model.Model // the provider under test, in WithRetry
	rt    *orchestrator.Runtime
	sink  *counting
	// transport is the provider's, shared by the bare client of
	// BenchmarkConcurrentVsBare.
	transport *http.Transport
	runs      atomic.Int64 // of the note tool
	dials     atomic.Int64 // connections the provider opened
}

// newBenchEnv starts a server answering with benchRemote after latency and
// a runtime whose one agent reaches it through p. The provider's transport
// keeps enough idle connections for every call in flight to reuse one: the
// default (2 a host) would open and close thousands.
func newBenchEnv(b *testing.B, p provider, latency time.Duration) *benchEnv {
	b.Helper()
	e := &benchEnv{sink: &counting{}}
	e.srv = openaitest.NewServer(b, &openaitest.Options{NoRecord: true, Latency: latency, Handler: openaitest.FromModel(benchRemote()),
		Models: []string{"bench"}})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0 // no limit
	tr.MaxIdleConnsPerHost = 4096
	tr.MaxConnsPerHost = 0
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		e.dials.Add(1)
		return dialer.DialContext(ctx, network, addr)
	}
	b.Cleanup(tr.CloseIdleConnections)
	e.transport = tr
	e.model = model.WithRetry(p.build(b, e.srv, &http.Client{Transport: tr}, "bench"), nil)
	rt, err := orchestrator.New(orchestrator.Team{Lead: "worker", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "worker", Role: "takes notes", Model: e.model, Tools: []agents.Tool{noteTool(b, &e.runs)}}},
	}}, &orchestrator.Options{Sinks: []orchestrator.Sink{e.sink}, SupervisionFor: orchestrator.StructuralOnly})
	if err != nil {
		b.Fatal(err)
	}
	e.rt = rt
	return e
}

// fanOut calls fn n times from conc goroutines and returns the wall time.
// It stops at the first error, which it returns.
func fanOut(n, conc int, fn func(i int) error) (time.Duration, error) {
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	start := time.Now()
	for range min(conc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errOnce.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), first
}

// delegations runs n delegations, conc at a time, and checks that each
// completed with three model calls and one run of the tool.
func (e *benchEnv) delegations(b *testing.B, n, conc int) time.Duration {
	b.Helper()
	completed, tools := e.sink.completed.Load(), e.runs.Load()
	d, err := fanOut(n, conc, func(int) error {
		out, err := e.rt.Run(context.Background(), benchGoal)
		if err == nil && out.Steps != chain {
			b.Errorf("a delegation took %d steps", out.Steps)
		}
		return err
	})
	if err != nil {
		b.Fatalf("after %d delegations: %v", e.sink.completed.Load()-completed, err)
	}
	if got := e.sink.completed.Load() - completed; got != int64(n) || e.runs.Load()-tools != int64(n) {
		b.Fatalf("%d of %d delegations completed, the tool ran %d times", got, n, e.runs.Load()-tools)
	}
	return d
}

// captured returns the requests of one delegation as the server received
// them, to replay as the bare baseline.
func (e *benchEnv) captured(b *testing.B) []*model.Request {
	b.Helper()
	e.srv.SetRecording(true)
	e.delegations(b, 1, 1)
	e.srv.SetRecording(false)
	var out []*model.Request
	for _, r := range e.srv.Requests() {
		mr, err := r.ModelRequest()
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, mr)
	}
	if len(out) != chain {
		b.Fatalf("a delegation sent %d requests", len(out))
	}
	return out
}

// bare sends n of reqs, in turn, straight to the provider, conc at a time.
func (e *benchEnv) bare(b *testing.B, reqs []*model.Request, n, conc int) time.Duration {
	b.Helper()
	d, err := fanOut(n, conc, func(i int) error {
		_, err := e.model.Generate(context.Background(), reqs[i%len(reqs)])
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// resetPeakRSS resets the process's VmHWM (Linux ≥ 4.0); it reports
// whether it could.
func resetPeakRSS() bool { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil }

// memStatus returns VmHWM and VmRSS of the process in bytes, 0 when unknown.
func memStatus() (hwm, rss int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(string(f[1]), 10, 64)
		switch string(f[0]) {
		case "VmHWM:":
			hwm = kb << 10
		case "VmRSS:":
			rss = kb << 10
		}
	}
	return hwm, rss
}

const mib = 1 << 20

// cpuTime is the CPU time the process has used so far, user and system: the
// client, the server and the runtime alike. Unlike wall time, it does not
// grow when other processes compete for the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConcurrentDelegations runs batches of n independent delegations
// at once (one goroutine and one rt.Run each) against the loopback server
// answering every call after a latency. The latency bound of a batch is the
// longest chain of sequential calls: 3 × latency. x-bound is bounded by the
// CPU the HTTP client and the test server spend, not by the runtime, so the
// target is stated beside a bare client in BenchmarkConcurrentVsBare; this
// one keeps the absolute figures and the peak RSS (within 1 GiB for the
// whole process, server included, at n=1000).
//
// A first, unmeasured batch opens the connections; its ratio is
// cold-x-bound. cpu-floor-x is the CPU time of a batch (client, server and
// runtime) spread over every core, as a ratio to the bound: no scheduling
// can bring x-bound below it, so where it exceeds 1.5 the target is out of
// reach of the cores, not of the runtime. The other cases show where the
// time goes: 100 and 10 delegations at 20 ms, and 1,000 at 200 ms. Started
// together, the delegations move in lock-step, so a batch takes about
// chain × (latency + n × CPU per call ÷ cores).
func BenchmarkConcurrentDelegations(b *testing.B) {
	cases := []struct {
		n       int
		latency time.Duration
	}{{1000, 20 * time.Millisecond}, {100, 20 * time.Millisecond}, {10, 20 * time.Millisecond}, {1000, 200 * time.Millisecond}}
	for _, c := range cases {
		for _, p := range providers {
			name := p.name + "/n=" + strconv.Itoa(c.n) + "/latency=" + c.latency.String()
			b.Run(name, func(b *testing.B) { benchConcurrent(b, p, c.n, c.latency) })
		}
	}
}

func benchConcurrent(b *testing.B, p provider, n int, latency time.Duration) {
	bound := chain * latency
	e := newBenchEnv(b, p, latency)
	runtime.GC()
	reset := resetPeakRSS()
	_, rssBefore := memStatus()

	cold := e.delegations(b, n, n)
	var worst time.Duration
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		worst = max(worst, e.delegations(b, n, n))
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0

	hwm, _ := memStatus()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	perBatch := float64(b.Elapsed()) / float64(b.N)
	b.ReportMetric(perBatch/float64(bound), "x-bound")
	b.ReportMetric(float64(worst)/float64(bound), "worst-x-bound")
	b.ReportMetric(float64(cold)/float64(bound), "cold-x-bound")
	b.ReportMetric(float64(cpu)/float64(b.N)/float64(runtime.GOMAXPROCS(0))/float64(bound), "cpu-floor-x")
	b.ReportMetric(float64(cpu.Microseconds())/float64(chain*n*b.N), "cpu-µs/req")
	if reset {
		b.ReportMetric(float64(hwm)/mib, "peak-RSS-MiB")
	} else {
		b.ReportMetric(float64(hwm)/mib, "lifetime-peak-RSS-MiB")
	}
	b.ReportMetric(float64(rssBefore)/mib, "RSS-before-MiB")
	b.ReportMetric(float64(ms.Sys)/mib, "Sys-MiB")
	b.ReportMetric(float64(e.dials.Load()), "dials")
	if r := e.sink.retried.Load(); r > 0 {
		b.ReportMetric(float64(r), "retries")
	}
}

// BenchmarkThroughput runs 10,000 delegations without latency, 64 at a
// time, and compares their request throughput (3 calls each) with the bare
// throughput of the same server through the same provider: the same three
// requests, captured from a delegation, sent straight to the provider, 64 at
// a time. The two alternate in five rounds (2,000 delegations, then 6,000
// bare requests), so that load from outside the process falls on both
// alike. The target is fraction ≥ 0.7 (wall time); cpu-fraction is the same
// ratio in CPU time per request, which outside load does not skew. ns/op is
// the time of the 10,000 delegations alone.
func BenchmarkThroughput(b *testing.B) {
	const (
		n      = 10000
		rounds = 5
		conc   = 64
	)
	for _, p := range providers {
		b.Run(p.name, func(b *testing.B) {
			e := newBenchEnv(b, p, 0)
			reqs := e.captured(b)
			// Warm both up: connections, pools, the heap.
			e.bare(b, reqs, 3*conc*4, conc)
			e.delegations(b, conc*4, conc)

			var bareT, delegT, bareCPU, delegCPU time.Duration
			b.ResetTimer()
			for range b.N {
				for range rounds {
					b.StopTimer()
					c := cpuTime()
					bareT += e.bare(b, reqs, chain*n/rounds, conc)
					bareCPU += cpuTime() - c
					b.StartTimer()
					c = cpuTime()
					delegT += e.delegations(b, n/rounds, conc)
					delegCPU += cpuTime() - c
				}
			}
			b.StopTimer()
			total := float64(chain * n * b.N)
			b.ReportMetric(total/bareT.Seconds(), "bare-req/s")
			b.ReportMetric(total/delegT.Seconds(), "deleg-req/s")
			b.ReportMetric(bareT.Seconds()/delegT.Seconds(), "fraction")
			b.ReportMetric(bareCPU.Seconds()/delegCPU.Seconds(), "cpu-fraction")
			b.ReportMetric(float64(bareCPU.Microseconds())/total, "bare-cpu-µs/req")
			b.ReportMetric(float64(delegCPU.Microseconds())/total, "deleg-cpu-µs/req")
			b.ReportMetric(float64((delegCPU-bareCPU).Microseconds())/float64(n*b.N), "overhead-cpu-µs/deleg")
			if r := e.sink.retried.Load(); r > 0 {
				b.ReportMetric(float64(r), "retries")
			}
		})
	}
}

// BenchmarkConcurrentVsBare is the concurrency target restated: n
// delegations at once against the loopback server (each three model calls in
// a row, through the go-openai provider), beside a bare go-openai client
// making the same three requests in a row from n goroutines at once — same
// server, same latency, same transport settings, same process. The bare
// client sends the very bytes the provider sent (checked before measuring),
// holding the tools' parameters as json.RawMessage as the provider does
// (the cheapest form for go-openai to encode), and both sides must make
// exactly 3n requests a batch (no retries). The two alternate, six rounds
// each, in the order bare, entrust, entrust, bare, … so that outside load,
// rising or falling, falls on both alike; the heap is collected before each
// batch, outside the measure, so that neither side pays for collecting the
// other's garbage.
//
// x-bare is the delegations' wall time over the bare client's (target ≤
// 1.15 at n=1000, 20 ms); cpu-x-bare is the same ratio in process CPU time,
// which load from other processes skews much less; runtime-cpu-µs/deleg is
// the CPU a delegation costs beyond its bare requests (client and server
// cost the same on both sides), the runtime's own share, provider and GC
// included; dials counts the connections opened while measuring (0: both
// sides reuse the ones the warm-up opened).
func BenchmarkConcurrentVsBare(b *testing.B) {
	for _, n := range []int{1000, 100} {
		b.Run("n="+strconv.Itoa(n)+"/latency=20ms", func(b *testing.B) { benchVsBare(b, n, 20*time.Millisecond) })
	}
}

func benchVsBare(b *testing.B, n int, latency time.Duration) {
	const rounds = 6
	e := newBenchEnv(b, providers[0], latency)
	e.srv.SetRecording(true)
	e.delegations(b, 1, 1)
	sent := e.srv.Requests()
	if len(sent) != chain {
		b.Fatalf("a delegation sent %d requests", len(sent))
	}
	reqs := make([]goopenai.ChatCompletionRequest, len(sent))
	for i, r := range sent {
		if err := json.Unmarshal(r.Body, &reqs[i]); err != nil {
			b.Fatal(err)
		}
		for j := range reqs[i].Tools {
			f := *reqs[i].Tools[j].Function
			f.Parameters = r.Tools[j].Function.Parameters
			reqs[i].Tools[j].Function = &f
		}
	}
	cfg := goopenai.DefaultConfig("sk-test")
	cfg.BaseURL = e.srv.URL
	cfg.HTTPClient = &http.Client{Transport: e.transport}
	bare := goopenai.NewClientWithConfig(cfg)
	conversation := func(int) error {
		for i := range reqs {
			if _, err := bare.CreateChatCompletion(context.Background(), reqs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := conversation(0); err != nil {
		b.Fatal(err)
	}
	again := e.srv.Requests()[chain:]
	e.srv.SetRecording(false)
	for i := range sent {
		if !bytes.Equal(again[i].Body, sent[i].Body) {
			b.Fatalf("request %d differs:\nentrust: %s\nbare:    %s", i+1, sent[i].Body, again[i].Body)
		}
	}
	bareBatch := func() (time.Duration, time.Duration) {
		runtime.GC()
		c, count := cpuTime(), e.srv.Count()
		d, err := fanOut(n, n, conversation)
		if err != nil {
			b.Fatal(err)
		}
		if got := e.srv.Count() - count; got != chain*n {
			b.Fatalf("the bare client made %d requests, not %d", got, chain*n)
		}
		return d, cpuTime() - c
	}
	delegBatch := func() (time.Duration, time.Duration) {
		runtime.GC()
		c, count := cpuTime(), e.srv.Count()
		d := e.delegations(b, n, n)
		if got := e.srv.Count() - count; got != chain*n {
			b.Fatalf("the delegations made %d requests, not %d", got, chain*n)
		}
		return d, cpuTime() - c
	}
	// Warm both: connections, pools, the heap.
	bareBatch()
	delegBatch()

	var bareT, delegT, bareCPU, delegCPU time.Duration
	dials := e.dials.Load()
	b.ResetTimer()
	for range b.N {
		for r := range rounds {
			if r%2 == 0 {
				d, c := bareBatch()
				bareT, bareCPU = bareT+d, bareCPU+c
			}
			d, c := delegBatch()
			delegT, delegCPU = delegT+d, delegCPU+c
			if r%2 == 1 {
				d, c := bareBatch()
				bareT, bareCPU = bareT+d, bareCPU+c
			}
		}
	}
	b.StopTimer()
	batches := float64(rounds * b.N)
	b.ReportMetric(delegT.Seconds()/bareT.Seconds(), "x-bare")
	b.ReportMetric(delegCPU.Seconds()/bareCPU.Seconds(), "cpu-x-bare")
	b.ReportMetric(float64(bareT.Milliseconds())/batches, "bare-ms/batch")
	b.ReportMetric(float64(delegT.Milliseconds())/batches, "deleg-ms/batch")
	b.ReportMetric(float64(delegCPU.Microseconds())/batches/float64(n), "cpu-µs/deleg")
	b.ReportMetric(float64((delegCPU-bareCPU).Microseconds())/batches/float64(n), "runtime-cpu-µs/deleg")
	b.ReportMetric(float64(chain*latency.Milliseconds()), "bound-ms")
	b.ReportMetric(float64(e.dials.Load()-dials), "dials")
}
