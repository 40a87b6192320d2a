package httpe2e

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lcopenai "github.com/tmc/langchaingo/llms/openai"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/langchain"
	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/internal/openaitest"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
)

// provider builds the model.Model an agent calls: a real provider pointed at
// the loopback server, asking for the remote model named name.
type provider struct {
	name  string
	build func(tb testing.TB, srv *openaitest.Server, client *http.Client, name string) model.Model
}

func goOpenAI(stream bool) func(tb testing.TB, srv *openaitest.Server, client *http.Client, name string) model.Model {
	return func(tb testing.TB, srv *openaitest.Server, client *http.Client, name string) model.Model {
		tb.Helper()
		m, err := openai.New(openai.Config{BaseURL: srv.URL, APIKey: "sk-test", Model: name, HTTPClient: client, Stream: stream})
		if err != nil {
			tb.Fatal(err)
		}
		return m
	}
}

func langchainGo(tb testing.TB, srv *openaitest.Server, client *http.Client, name string) model.Model {
	tb.Helper()
	llm, err := lcopenai.New(
		lcopenai.WithToken("placeholder"), // refused when empty, even for a local server
		lcopenai.WithBaseURL(srv.URL),
		lcopenai.WithModel(name),
		lcopenai.WithHTTPClient(langchain.HTTPClient(client)),
	)
	if err != nil {
		tb.Fatal(err)
	}
	return langchain.New(llm, name, nil)
}

var providers = []provider{
	{"openai", goOpenAI(false)},
	{"openai-stream", goOpenAI(true)},
	{"langchain", langchainGo},
}

// fastRetry keeps the waits of the tests short and deterministic: backoff is
// half of BaseDelay << (attempt-1) with no jitter; MaxDelay caps a
// Retry-After, so one read wrongly in whole seconds shows as a 50 ms wait.
var fastRetry = model.RetryOptions{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 50 * time.Millisecond,
	Jitter: func() float64 { return 0 }}

// fault answers one request in place of the remote model.
type fault func(req *openaitest.ChatRequest) openaitest.Reply

// remote is one agent's model as the loopback server plays it: a scripted
// model behind openaitest.FromModel, with faults injected by the number of
// the request (from 1) that this agent sent. It records the usage the
// server reported on each answer it gave, in order.
type remote struct {
	name   string
	model  *model.Scripted
	faults map[int]fault

	mu    sync.Mutex
	count int
	usage []model.Usage
}

func (r *remote) reported() []model.Usage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]model.Usage(nil), r.usage...)
}

// route is a handler for the server that routes each request to the remote
// named by its "model" field.
func route(remotes ...*remote) func(req *openaitest.ChatRequest) openaitest.Reply {
	byName := map[string]*remote{}
	for _, r := range remotes {
		byName[r.name] = r
	}
	return func(req *openaitest.ChatRequest) openaitest.Reply {
		r := byName[req.Model]
		if r == nil {
			return openaitest.Error(http.StatusNotFound, openaitest.ErrorBody("no model "+req.Model, "invalid_request_error", "model_not_found"))
		}
		r.mu.Lock()
		r.count++
		f := r.faults[r.count]
		r.mu.Unlock()
		if f != nil {
			return f(req)
		}
		reply := openaitest.FromModel(r.model)(req)
		if reply.Status == 0 && reply.Usage != nil {
			r.mu.Lock()
			r.usage = append(r.usage, model.Usage{PromptTokens: reply.Usage.PromptTokens,
				CompletionTokens: reply.Usage.CompletionTokens, CachedTokens: reply.Usage.CachedTokens})
			r.mu.Unlock()
		}
		return reply
	}
}

// usageFor is the usage of the i-th turn of a script: distinct for every
// turn and agent, with cached tokens on every other one, so a usage read
// from the wrong answer or field shows.
func usageFor(base, i int) model.Usage {
	u := model.Usage{PromptTokens: base + 10*i, CompletionTokens: 3 + i}
	if i%2 == 1 {
		u.CachedTokens = base / 2
	}
	return u
}

// script numbers turns of tool calls with usageFor(base, i).
func script(name string, base int, turns ...[]model.ToolCall) *model.Scripted {
	ts := make([]model.Turn, len(turns))
	for i, calls := range turns {
		ts[i] = model.Turn{Calls: calls, Usage: usageFor(base, i)}
	}
	return model.NewScripted(name, ts...)
}

func calls(c ...model.ToolCall) []model.ToolCall { return c }

var (
	accept         = protocoltest.Accept
	complete       = protocoltest.Complete
	delegateTo     = protocoltest.DelegateTo
	ofType         = protocoltest.OfType
	trace          = protocoltest.Trace
	checkTerminals = protocoltest.CheckJournal
)

func note(text string) model.ToolCall { return model.Call("note", map[string]string{"text": text}) }

// noteTool is the one action tool: it counts its runs.
func noteTool(tb testing.TB, runs *atomic.Int64) agents.Tool {
	tb.Helper()
	tool, err := agents.NewTool("note", "writes a note", func(ctx context.Context, in struct {
		Text string `json:"text"`
	}) (string, error) {
		runs.Add(1)
		return "noted: " + in.Text, nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return protocoltest.Declared(tool, agents.KindActs)
}

// modelCalls returns the usage and purpose of the model.called events of agent,
// in journal order.
func modelCalls(events []*orchestrator.Event, agent string) (usage []model.Usage, purposes []string, evs []*orchestrator.Event) {
	for _, e := range events {
		if e.Type != orchestrator.EventModelCalled || e.Agent != agent {
			continue
		}
		var u model.Usage
		if e.Usage != nil {
			u = *e.Usage
		}
		usage = append(usage, u)
		purposes = append(purposes, string(e.Purpose))
		evs = append(evs, e)
	}
	return usage, purposes, evs
}

func sum(us []model.Usage) model.Usage {
	var t model.Usage
	for _, u := range us {
		t = t.Add(u)
	}
	return t
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func lastToolMessage(req *model.Request) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == model.RoleTool {
			return req.Messages[i].Content
		}
	}
	return ""
}

func toolNames(req *model.Request) []string {
	var out []string
	for _, t := range req.Tools {
		out = append(out, t.Name)
	}
	return out
}
