package model_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	lcopenai "github.com/tmc/langchaingo/llms/openai"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/langchain"
	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/internal/openaitest"
)

// A provider under test: given the scripted model that plays the remote
// side, it returns the model to call and, for HTTP providers, the loopback
// server in between.
type provider struct {
	name  string
	build func(t *testing.T, remote model.Model) (model.Model, *openaitest.Server)
}

func providers() []provider {
	serve := func(t *testing.T, remote model.Model) *openaitest.Server {
		return openaitest.NewServer(t, &openaitest.Options{Handler: openaitest.FromModel(remote)})
	}
	goOpenAI := func(stream bool) func(t *testing.T, remote model.Model) (model.Model, *openaitest.Server) {
		return func(t *testing.T, remote model.Model) (model.Model, *openaitest.Server) {
			srv := serve(t, remote)
			m, err := openai.New(openai.Config{BaseURL: srv.URL, APIKey: "sk-test", Model: remote.Name(), HTTPClient: srv.Client(), Stream: stream})
			if err != nil {
				t.Fatal(err)
			}
			return m, srv
		}
	}
	return []provider{
		{"scripted", func(t *testing.T, remote model.Model) (model.Model, *openaitest.Server) { return remote, nil }},
		{"openai", goOpenAI(false)},
		{"openai-stream", goOpenAI(true)},
		{"langchain", func(t *testing.T, remote model.Model) (model.Model, *openaitest.Server) {
			srv := serve(t, remote)
			llm, err := lcopenai.New(
				lcopenai.WithToken("placeholder"), // refused when empty, even for a local server
				lcopenai.WithBaseURL(srv.URL),
				lcopenai.WithModel(remote.Name()),
				lcopenai.WithHTTPClient(langchain.HTTPClient(srv.Client())),
			)
			if err != nil {
				t.Fatal(err)
			}
			return langchain.New(llm, remote.Name(), nil), srv
		}},
	}
}

// env is what a conformance check can look at.
type env struct {
	provider string
	remote   *model.Scripted    // what the remote model was asked
	server   *openaitest.Server // nil for the scripted provider
}

type conformanceCase struct {
	name  string
	turns []model.Turn
	req   func() *model.Request
	check func(t *testing.T, e env, resp *model.Response, err error)
}

var lookup = model.ToolDef{
	Name:        "lookup",
	Description: "Look a term up.",
	Parameters:  json.RawMessage(`{"type":"object","properties":{"term":{"type":"string"}},"required":["term"],"additionalProperties":false}`),
}

func userAsks(text string) func() *model.Request {
	return func() *model.Request {
		return &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: text}}, Tools: []model.ToolDef{lookup}}
	}
}

func mustSucceed(t *testing.T, resp *model.Response, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if resp.Message.Role != model.RoleAssistant {
		t.Errorf("role %q", resp.Message.Role)
	}
	if resp.Model != "remote-model" {
		t.Errorf("model %q", resp.Model)
	}
}

func sameJSON(t *testing.T, got, want json.RawMessage) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("arguments %s: %v", got, err)
	}
	_ = json.Unmarshal(want, &w)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("arguments %s, want %s", got, want)
	}
}

func wantAPIError(t *testing.T, err error, status int) *model.APIError {
	t.Helper()
	var ae *model.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v (%T), want *model.APIError", err, err)
	}
	if ae.StatusCode != status {
		t.Errorf("status %d, want %d", ae.StatusCode, status)
	}
	return ae
}

var conformanceCases = []conformanceCase{
	{
		name:  "text",
		turns: []model.Turn{model.Text("The answer is 42.")},
		req:   userAsks("What is the answer?"),
		check: func(t *testing.T, e env, resp *model.Response, err error) {
			mustSucceed(t, resp, err)
			if resp.Message.Content != "The answer is 42." || len(resp.Message.ToolCalls) != 0 || resp.FinishReason != "stop" {
				t.Errorf("response %+v", resp)
			}
		},
	},
	{
		name:  "tool-call",
		turns: []model.Turn{model.Calls(model.Call("lookup", map[string]string{"term": "entrust"}))},
		req:   userAsks("Define entrust."),
		check: func(t *testing.T, e env, resp *model.Response, err error) {
			mustSucceed(t, resp, err)
			tc := resp.Message.ToolCalls
			if len(tc) != 1 || tc[0].Name != "lookup" || tc[0].ID == "" || resp.FinishReason != "tool_calls" {
				t.Fatalf("response %+v", resp)
			}
			sameJSON(t, tc[0].Arguments, json.RawMessage(`{"term":"entrust"}`))
			// The remote model was shown the tool as defined.
			got := e.remote.Requests()[0].Tools
			if len(got) != 1 || got[0].Name != "lookup" || got[0].Description != lookup.Description {
				t.Errorf("tools seen %+v", got)
			}
			sameJSON(t, got[0].Parameters, lookup.Parameters)
		},
	},
	{
		name: "parallel-tool-calls",
		turns: []model.Turn{model.Calls(
			model.Call("lookup", map[string]string{"term": "delegation, which must be accepted"}),
			model.Call("lookup", map[string]string{"term": "escalation"}),
			model.Call("lookup", map[string]string{"term": "ünïcödé"}),
		)},
		req: userAsks("Define three terms."),
		check: func(t *testing.T, e env, resp *model.Response, err error) {
			mustSucceed(t, resp, err)
			tc := resp.Message.ToolCalls
			if len(tc) != 3 {
				t.Fatalf("%d calls, want 3: %+v", len(tc), tc)
			}
			seen := map[string]bool{}
			for i, term := range []string{"delegation, which must be accepted", "escalation", "ünïcödé"} {
				want, _ := json.Marshal(map[string]string{"term": term})
				sameJSON(t, tc[i].Arguments, want)
				if tc[i].ID == "" || seen[tc[i].ID] {
					t.Errorf("call %d: id %q empty or repeated", i, tc[i].ID)
				}
				seen[tc[i].ID] = true
			}
		},
	},
	{
		name:  "tool-result-round-trip",
		turns: []model.Turn{model.Text("entrust means to hand over with trust.")},
		req: func() *model.Request {
			return &model.Request{
				Messages: []model.Message{
					{Role: model.RoleSystem, Content: "You define words."},
					{Role: model.RoleUser, Content: "Define entrust."},
					{Role: model.RoleAssistant, ToolCalls: []model.ToolCall{{ID: "call_xyz", Name: "lookup", Arguments: json.RawMessage(`{"term":"entrust"}`)}}},
					{Role: model.RoleTool, ToolCallID: "call_xyz", Name: "lookup", Content: "to hand over with trust"},
				},
				Tools: []model.ToolDef{lookup},
			}
		},
		check: func(t *testing.T, e env, resp *model.Response, err error) {
			mustSucceed(t, resp, err)
			msgs := e.remote.Requests()[0].Messages
			if len(msgs) != 4 {
				t.Fatalf("remote saw %d messages", len(msgs))
			}
			if a := msgs[2]; a.Role != model.RoleAssistant || len(a.ToolCalls) != 1 || a.ToolCalls[0].ID != "call_xyz" || a.ToolCalls[0].Name != "lookup" {
				t.Errorf("assistant message seen %+v", a)
			} else {
				sameJSON(t, a.ToolCalls[0].Arguments, json.RawMessage(`{"term":"entrust"}`))
			}
			if m := msgs[3]; m.Role != model.RoleTool || m.ToolCallID != "call_xyz" || m.Content != "to hand over with trust" {
				t.Errorf("tool message seen %+v", m)
			}
			if e.server != nil {
				// And on the wire, as the server received it.
				w := e.server.LastRequest().Messages[3]
				if w.Role != "tool" || w.ToolCallID != "call_xyz" || w.Content != "to hand over with trust" {
					t.Errorf("tool message on the wire %+v", w)
				}
			}
		},
	},
	{
		name:  "usage",
		turns: []model.Turn{{Text: "ok", Usage: model.Usage{PromptTokens: 1200, CompletionTokens: 34, CachedTokens: 1024}}},
		req:   userAsks("Count."),
		check: func(t *testing.T, e env, resp *model.Response, err error) {
			mustSucceed(t, resp, err)
			if want := (model.Usage{PromptTokens: 1200, CompletionTokens: 34, CachedTokens: 1024}); resp.Usage != want {
				t.Errorf("usage %+v, want %+v", resp.Usage, want)
			}
		},
	},
	{
		name:  "request-settings",
		turns: []model.Turn{model.Text("ok")},
		req: func() *model.Request {
			temp, seed := 0.0, 11
			r := userAsks("Settings.")()
			r.Temperature, r.MaxTokens, r.Seed = &temp, 256, &seed
			r.ToolChoice = model.ToolChoice{Name: "lookup"}
			return r
		},
		check: func(t *testing.T, e env, resp *model.Response, err error) {
			mustSucceed(t, resp, err)
			got := e.remote.Requests()[0]
			if got.Temperature == nil || *got.Temperature > 1e-6 || got.MaxTokens != 256 || got.Seed == nil || *got.Seed != 11 {
				t.Errorf("settings seen: temperature %v, max tokens %d, seed %v", got.Temperature, got.MaxTokens, got.Seed)
			}
			if got.ToolChoice.Name != "lookup" {
				t.Errorf("tool choice seen %+v", got.ToolChoice)
			}
		},
	},
	{
		name:  "error-429",
		turns: []model.Turn{{Err: &model.APIError{StatusCode: 429, Type: "rate_limit_error", Message: "slow down", RetryAfter: 3 * time.Second}}},
		req:   userAsks("Hurry."),
		check: func(t *testing.T, e env, resp *model.Response, err error) {
			ae := wantAPIError(t, err, 429)
			if ae.RetryAfter != 3*time.Second || ae.Message != "slow down" || !ae.Temporary() || !model.Retryable(err) {
				t.Errorf("error %+v", ae)
			}
		},
	},
	{
		name:  "error-500",
		turns: []model.Turn{{Err: &model.APIError{StatusCode: 500, Message: "internal"}}},
		req:   userAsks("Break."),
		check: func(t *testing.T, e env, resp *model.Response, err error) {
			if ae := wantAPIError(t, err, 500); !ae.Temporary() || !model.Retryable(err) {
				t.Errorf("error %+v not temporary", ae)
			}
		},
	},
	{
		name:  "error-400",
		turns: []model.Turn{{Err: &model.APIError{StatusCode: 400, Type: "invalid_request_error", Message: "bad schema"}}},
		req:   userAsks("Misbehave."),
		check: func(t *testing.T, e env, resp *model.Response, err error) {
			if ae := wantAPIError(t, err, 400); ae.Temporary() || model.Retryable(err) || ae.Message != "bad schema" {
				t.Errorf("error %+v", ae)
			}
		},
	},
}

// TestConformance runs the same cases against the scripted model and every
// provider, each of which talks over HTTP to a loopback server that the same
// scripted model answers through.
func TestConformance(t *testing.T) {
	for _, p := range providers() {
		t.Run(p.name, func(t *testing.T) {
			for _, c := range conformanceCases {
				t.Run(c.name, func(t *testing.T) {
					remote := model.NewScripted("remote-model", c.turns...)
					m, srv := p.build(t, remote)
					resp, err := m.Generate(t.Context(), c.req())
					c.check(t, env{provider: p.name, remote: remote, server: srv}, resp, err)
				})
			}
		})
	}
}
