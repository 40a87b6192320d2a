package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/entrust-dev/entrust/agents/model"
)

// DefaultBaseURL is the OpenAI API, used when neither Config.BaseURL nor
// OPENAI_BASE_URL is set.
const DefaultBaseURL = "https://api.openai.com/v1"

// Config configures a Model. Model is required; the rest has defaults.
type Config struct {
	// BaseURL is the API's base URL, such as "http://localhost:11434/v1".
	// Empty falls back to $OPENAI_BASE_URL, then to DefaultBaseURL.
	BaseURL string
	// APIKey is sent as a bearer token. Empty falls back to $OPENAI_API_KEY;
	// local servers may need none.
	APIKey string
	// Model is the model's name, e.g. "gpt-4o-mini" or "qwen2.5:7b".
	Model string
	// Temperature is used when a request sets none; nil leaves the server's.
	Temperature *float64
	// MaxTokens is used when a request sets none; 0 leaves the server's.
	MaxTokens int
	// Stream asks for server-sent events instead of one JSON answer.
	Stream bool
	// ParallelToolCalls is used when a request sets none.
	ParallelToolCalls *bool
	// HTTPClient sends the requests; nil uses a new http.Client whose
	// transport bounds connecting (30s), the TLS handshake (15s) and the
	// wait for an answer's headers (10m), and keeps up to 1024 idle
	// connections to the endpoint, so that many calls at once reuse their
	// connections. Bound each whole call with the context, or
	// model.RetryOptions.Timeout. A client of your own should keep as many
	// idle connections (Transport.MaxIdleConnsPerHost) as it has calls at
	// once: http.DefaultTransport keeps 2 a host.
	HTTPClient *http.Client
	// MaxResponseBytes bounds the body of one answer, streamed or not; a
	// larger one fails with an error matching model.ErrTooLarge. Zero means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// OnDelta, when set, receives each fragment of text as it streams in
	// (Stream only), with the context of the call.
	OnDelta func(ctx context.Context, delta string)
}

// DefaultMaxResponseBytes is the default bound on one answer's body.
const DefaultMaxResponseBytes = 8 << 20

// Model is a model.Model over an OpenAI-compatible endpoint. It is safe for
// concurrent use.
//
// What the server sends back never carries the model's credential further:
// every occurrence of the API key (and so of the Authorization header) and
// of a password in the base URL is replaced by model.Redacted in errors and
// answers, and error messages are cut at model.MaxErrorText.
type Model struct {
	cfg    Config
	client *goopenai.Client
	redact *model.Redactor
	bufs   sync.Pool // of *requestBuffers
}

var _ model.Model = (*Model)(nil)

// The environment variables an empty Config.BaseURL and Config.APIKey are
// read from.
const (
	EnvBaseURL = "OPENAI_BASE_URL"
	EnvAPIKey  = "OPENAI_API_KEY"
)

// Endpoint returns baseURL and apiKey, each read from the environment
// (EnvBaseURL, EnvAPIKey) when empty, as New reads them. Either may still be
// empty: New then uses DefaultBaseURL and sends no key.
func Endpoint(baseURL, apiKey string) (string, string) {
	if baseURL == "" {
		baseURL = os.Getenv(EnvBaseURL)
	}
	if apiKey == "" {
		apiKey = os.Getenv(EnvAPIKey)
	}
	return baseURL, apiKey
}

// New returns a Model for cfg.
func New(cfg Config) (*Model, error) {
	if cfg.Model == "" {
		return nil, errors.New("openai: Config.Model is required")
	}
	cfg.BaseURL, cfg.APIKey = Endpoint(cfg.BaseURL, cfg.APIKey)
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if !strings.HasPrefix(cfg.BaseURL, "http://") && !strings.HasPrefix(cfg.BaseURL, "https://") {
		return nil, fmt.Errorf("openai: base URL %q is not an http(s) URL", model.RedactURL(cfg.BaseURL))
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Transport: defaultTransport()}
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	secrets := append([]string{cfg.APIKey}, model.URLSecrets(cfg.BaseURL)...)
	cc := goopenai.DefaultConfig(cfg.APIKey)
	cc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	cc.HTTPClient = capturingDoer{c: cfg.HTTPClient, limit: cfg.MaxResponseBytes}
	return &Model{cfg: cfg, client: goopenai.NewClientWithConfig(cc), redact: model.NewRedactor(secrets...)}, nil
}

// Name returns the configured model name.
func (m *Model) Name() string { return m.cfg.Model }

// Provider returns "openai": the wire protocol, whatever the server behind it.
func (m *Model) Provider() string { return "openai" }

// Generate sends req and returns the first choice of the answer.
func (m *Model) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	bufs, _ := m.bufs.Get().(*requestBuffers)
	if bufs == nil {
		bufs = new(requestBuffers)
	}
	defer m.release(bufs)
	creq, err := m.chatRequest(req, bufs)
	if err != nil {
		return nil, err
	}
	cctx := &captureContext{Context: ctx}
	ctx, capt := cctx, &cctx.capture
	if m.cfg.Stream {
		return m.stream(ctx, req, creq, capt)
	}
	resp, err := m.client.CreateChatCompletion(ctx, creq)
	if err != nil {
		if perr := invalidParameters(req, err); perr != nil {
			return nil, perr
		}
		return nil, m.redact.Error(mapError(ctx, err, capt))
	}
	if len(resp.Choices) == 0 {
		return nil, fmt.Errorf("openai: %w: the answer has no choices", model.ErrMalformed)
	}
	ch := resp.Choices[0]
	content := ch.Message.Content
	if content == "" {
		for _, p := range ch.Message.MultiContent {
			if p.Type == goopenai.ChatMessagePartTypeText {
				content += p.Text
			}
		}
	}
	calls := ch.Message.ToolCalls
	if len(calls) == 0 && ch.Message.FunctionCall != nil {
		calls = []goopenai.ToolCall{{Type: goopenai.ToolTypeFunction, Function: *ch.Message.FunctionCall}}
	}
	var usage model.Usage
	if resp.Usage.PromptTokens != 0 || resp.Usage.CompletionTokens != 0 {
		usage = fromUsage(&resp.Usage)
	}
	return m.response(req, resp.ID, resp.Model, content, calls, string(ch.FinishReason), usage), nil
}

// defaultIdleConns is how many idle connections the default transport keeps
// to the endpoint: as many as a busy process has calls at once, so that a
// thousand concurrent delegations reuse their connections rather than open
// and close one a call (http.DefaultTransport keeps 2 a host).
const defaultIdleConns = 1024

// defaultTransport is http.DefaultTransport's settings with bounds on the
// phases of a request, so an endpoint that accepts a connection and never
// answers cannot hold a call for ever even without a deadline, and with
// room for defaultIdleConns idle connections (closed after 90s unused).
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = defaultIdleConns, defaultIdleConns
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 15 * time.Second
	t.ResponseHeaderTimeout = 10 * time.Minute
	return t
}

// response assembles the answer and smooths the quirks of the server.
func (m *Model) response(req *model.Request, id, name, content string, calls []goopenai.ToolCall, finish string, usage model.Usage) *model.Response {
	out := &model.Response{
		Message:      model.Message{Role: model.RoleAssistant, Content: m.redact.String(content)},
		FinishReason: finish,
		Model:        name,
		Usage:        usage,
	}
	if out.Model == "" {
		out.Model = m.modelName(req)
	}
	if len(calls) > 0 {
		out.Message.ToolCalls = make([]model.ToolCall, 0, len(calls))
	}
	for i, c := range calls {
		args := m.redact.String(c.Function.Arguments)
		if strings.TrimSpace(args) == "" {
			args = "{}"
		}
		tc := model.ToolCall{ID: c.ID, Name: m.redact.String(c.Function.Name), Arguments: json.RawMessage(args)}
		if tc.ID == "" {
			tc.ID = stableID(id, len(req.Messages), i, tc.Name, args)
		}
		out.Message.ToolCalls = append(out.Message.ToolCalls, tc)
	}
	switch {
	case len(out.Message.ToolCalls) > 0:
		out.FinishReason = "tool_calls"
	case out.FinishReason == "" || out.FinishReason == "null":
		out.FinishReason = "stop"
	}
	if out.Usage == (model.Usage{}) {
		out.Usage = model.EstimateUsage(req, &out.Message)
	}
	return out
}

func fromUsage(u *goopenai.Usage) model.Usage {
	out := model.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens}
	if u.PromptTokensDetails != nil {
		out.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	return out
}

func (m *Model) modelName(req *model.Request) string {
	if req.Model != "" {
		return req.Model
	}
	return m.cfg.Model
}

// reasoning reports whether name is one of OpenAI's reasoning models, which
// take max_completion_tokens and no temperature.
func reasoning(name string) bool {
	for _, p := range []string{"o1", "o3", "o4", "gpt-5", "gpt-6"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// invalidParameters returns the error naming the first tool of req whose
// parameters are not valid JSON, when err is go-openai failing to encode
// the request; otherwise nil. Checking only after a failure leaves the
// common case to the encoder's own validation, done once.
func invalidParameters(req *model.Request, err error) error {
	var me *json.MarshalerError
	if !errors.As(err, &me) {
		return nil
	}
	for _, t := range req.Tools {
		if len(t.Parameters) > 0 && string(t.Parameters) != "null" && !json.Valid(t.Parameters) {
			return fmt.Errorf("openai: tool %q: parameters are not valid JSON", t.Name)
		}
	}
	return nil
}

// emptySchema is the parameters of a tool that declares none.
var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

// requestBuffers hold the slices a request is built in. go-openai encodes a
// request before sending it and keeps nothing of it, so once a call has
// returned they are cleared (nothing of the conversation stays behind) and
// a later call builds its request in them: at a thousand calls at once,
// the kilobyte or so a call would otherwise allocate is collector work
// that every call pays for.
type requestBuffers struct {
	msgs  []goopenai.ChatCompletionMessage
	calls []goopenai.ToolCall
	tools []goopenai.Tool
	defs  []goopenai.FunctionDefinition
}

// maxPooledMessages bounds the requests whose buffers are kept for reuse,
// so one huge conversation does not pin its buffers' size for ever.
const maxPooledMessages = 512

// release clears b and keeps it for a later call, unless a large request
// grew it past maxPooledMessages.
func (m *Model) release(b *requestBuffers) {
	if cap(b.msgs) > maxPooledMessages || cap(b.calls) > maxPooledMessages || cap(b.tools) > maxPooledMessages {
		return
	}
	// Up to their capacity: a request that failed half-built left its
	// messages past the slices' length.
	clear(b.msgs[:cap(b.msgs)])
	clear(b.calls[:cap(b.calls)])
	clear(b.tools[:cap(b.tools)])
	clear(b.defs[:cap(b.defs)])
	b.msgs, b.calls, b.tools, b.defs = b.msgs[:0], b.calls[:0], b.tools[:0], b.defs[:0]
	m.bufs.Put(b)
}

// chatRequest maps req to go-openai's request, in b's slices. It does not
// modify req.
func (m *Model) chatRequest(req *model.Request, b *requestBuffers) (goopenai.ChatCompletionRequest, error) {
	name := m.modelName(req)
	ncalls := 0
	for i := range req.Messages {
		ncalls += len(req.Messages[i].ToolCalls)
	}
	b.msgs = slices.Grow(b.msgs[:0], len(req.Messages))
	b.calls = slices.Grow(b.calls[:0], ncalls)
	out := goopenai.ChatCompletionRequest{Model: name, Seed: req.Seed, Messages: b.msgs}
	for i, msg := range req.Messages {
		cm := goopenai.ChatCompletionMessage{Content: msg.Content}
		switch msg.Role {
		case model.RoleSystem:
			cm.Role = goopenai.ChatMessageRoleSystem
			cm.Name = msg.Name
		case model.RoleUser:
			cm.Role = goopenai.ChatMessageRoleUser
			cm.Name = msg.Name
		case model.RoleAssistant:
			cm.Role = goopenai.ChatMessageRoleAssistant
			start := len(b.calls)
			for _, c := range msg.ToolCalls {
				args := string(c.Arguments)
				if strings.TrimSpace(args) == "" {
					args = "{}"
				}
				b.calls = append(b.calls, goopenai.ToolCall{
					ID:       c.ID,
					Type:     goopenai.ToolTypeFunction,
					Function: goopenai.FunctionCall{Name: c.Name, Arguments: args},
				})
			}
			if len(b.calls) > start {
				cm.ToolCalls = b.calls[start:len(b.calls):len(b.calls)]
			}
		case model.RoleTool:
			// The name of a tool message is left out: OpenAI's schema has
			// none, and strict servers refuse unknown fields.
			cm.Role = goopenai.ChatMessageRoleTool
			cm.ToolCallID = msg.ToolCallID
		default:
			return out, fmt.Errorf("openai: message %d: unknown role %q", i, msg.Role)
		}
		out.Messages = append(out.Messages, cm)
	}
	b.msgs = out.Messages
	// Parameters are not checked here: encoding the request checks them,
	// and invalidParameters names the tool when that fails.
	if len(req.Tools) > 0 {
		b.tools = slices.Grow(b.tools[:0], len(req.Tools))[:len(req.Tools)]
		b.defs = slices.Grow(b.defs[:0], len(req.Tools))[:len(req.Tools)]
		for i, t := range req.Tools {
			params := t.Parameters
			if len(params) == 0 || string(params) == "null" {
				params = emptySchema
			}
			b.defs[i] = goopenai.FunctionDefinition{Name: t.Name, Description: t.Description, Parameters: params}
			b.tools[i] = goopenai.Tool{Type: goopenai.ToolTypeFunction, Function: &b.defs[i]}
		}
		out.Tools = b.tools
	}
	if len(out.Tools) > 0 {
		switch {
		case req.ToolChoice.Mode == model.ChoiceNone:
			out.ToolChoice = "none"
		case req.ToolChoice.Name != "":
			out.ToolChoice = goopenai.ToolChoice{Type: goopenai.ToolTypeFunction, Function: goopenai.ToolFunction{Name: req.ToolChoice.Name}}
		case req.ToolChoice.Mode == model.ChoiceRequired:
			out.ToolChoice = "required"
		}
		parallel := req.ParallelToolCalls
		if parallel == nil {
			parallel = m.cfg.ParallelToolCalls
		}
		if parallel != nil {
			out.ParallelToolCalls = *parallel
		}
	}
	temp := req.Temperature
	if temp == nil {
		temp = m.cfg.Temperature
	}
	maxTokens := req.MaxTokens
	if maxTokens == 0 {
		maxTokens = m.cfg.MaxTokens
	}
	if reasoning(name) {
		out.MaxCompletionTokens = maxTokens
	} else {
		out.MaxTokens = maxTokens
		if temp != nil {
			// go-openai leaves a zero temperature out (omitempty), which
			// servers read as their default, often 0.7 or 1.
			out.Temperature = max(float32(*temp), math.SmallestNonzeroFloat32)
		}
	}
	return out, nil
}
