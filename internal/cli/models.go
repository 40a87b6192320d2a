package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
)

// DefaultOpenAIModel is the model of agents that name none when the endpoint
// is OpenAI's own.
const DefaultOpenAIModel = "gpt-4o-mini"

// ModelOptions say which models the agents run on: the model flags of the
// commands that call models.
type ModelOptions struct {
	// BaseURL and APIKey are the OpenAI-compatible endpoint's; empty, the
	// environment's (OPENAI_BASE_URL, OPENAI_API_KEY).
	BaseURL, APIKey string
	// Model is the model of agents whose team file names none.
	Model string
	// Stream streams the model's answers (server-sent events).
	Stream bool
	// CallTimeout bounds each attempt of a model call (0: none).
	CallTimeout time.Duration
	// Offline runs every agent on the simulator whatever the environment
	// says.
	Offline bool
}

// Models picks each agent's model: the offline simulator when no endpoint
// is configured or the team file asks for it ("sim", "sim/<persona>"), else
// the OpenAI-compatible provider with retries. One model value serves every
// agent that names the same model.
type Models struct {
	offline         bool
	baseURL, apiKey string
	stream          bool
	callTimeout     time.Duration
	// stop ends the run when an endpoint is found unavailable (SetStop).
	stop func(error)

	mu    sync.Mutex
	cache map[string]model.Model
	used  []string
}

// NewModels reads the endpoint from the options and the environment and
// checks that every agent of team (nil: none to check) will have a model
// name.
func NewModels(f ModelOptions, team *teamfile.File) (*Models, error) {
	m := &Models{baseURL: f.BaseURL, apiKey: f.APIKey, stream: f.Stream, callTimeout: f.CallTimeout, cache: map[string]model.Model{}}
	m.baseURL, m.apiKey = openai.Endpoint(m.baseURL, m.apiKey)
	m.offline = f.Offline || m.baseURL == "" && m.apiKey == ""
	if f.BaseURL != "" {
		if err := CheckBaseURL(f.BaseURL); err != nil {
			return nil, fmt.Errorf("--base-url %q: %w", model.RedactURL(f.BaseURL), err)
		}
	} else if m.baseURL != "" {
		if err := CheckBaseURL(m.baseURL); err != nil {
			return nil, fmt.Errorf("OPENAI_BASE_URL=%q: %w", model.RedactURL(m.baseURL), err)
		}
	}
	if _, sim := isSim(f.Model); m.offline && f.Model != "" && !sim {
		return nil, NeedsEndpoint(f.Model)
	}
	if m.offline || f.Model != "" || m.baseURL == "" || team == nil {
		return m, nil
	}
	for i := range team.Agents {
		if team.Resolve(i).Model == "" {
			return nil, fmt.Errorf("no model name for agent %s: the endpoint %s needs one; pass --model NAME (e.g. --model qwen2.5:7b for Ollama) or set model in the team file",
				team.Agents[i].Name, model.RedactURL(m.baseURL))
		}
	}
	return m, nil
}

// isSim reports whether a team file's model name asks for the simulator,
// and which persona.
func isSim(name string) (persona string, ok bool) {
	if name == "sim" {
		return "", true
	}
	if p, ok := strings.CutPrefix(name, "sim/"); ok {
		return p, true
	}
	return "", false
}

// SetStop has stop called, once per model, when a call finds its endpoint
// unavailable (an *Unavailable error), so the run can end at once. Call it
// before the first model is made.
func (m *Models) SetStop(stop func(error)) { m.stop = stop }

// Offline reports whether every agent runs on the simulator.
func (m *Models) Offline() bool { return m.offline }

// BaseURL is the endpoint the real models are at, as configured (it may
// hold credentials: redact it before showing it), or "".
func (m *Models) BaseURL() string { return m.baseURL }

// Model returns the model of one agent; it is teamfile.BuildOptions.Model.
func (m *Models) Model(spec teamfile.AgentSpec) (model.Model, error) {
	persona, simulated := isSim(spec.Model)
	if m.offline || simulated {
		if persona == "" {
			persona = spec.Persona
		}
		p, err := sim.ParsePersona(persona)
		if err != nil {
			return nil, err
		}
		name := "sim"
		if p != sim.Default {
			name += "/" + string(p)
		}
		return m.get(name, func() (model.Model, error) { return simModel{sim.New(name, &sim.Options{Persona: p})}, nil })
	}
	name := spec.Model
	if name == "" {
		name = DefaultOpenAIModel
	}
	if len(spec.Models) > 1 || len(spec.Models) == 1 && spec.Models[0].BaseURL != "" {
		return m.fallbacks(spec.Models)
	}
	return m.get(name, func() (model.Model, error) {
		om, err := m.remote(teamfile.ModelRef{Name: name})
		if err != nil {
			return nil, err
		}
		return &guarded{Model: om, endpoint: m.endpoint(), model: name, stop: m.stop}, nil
	})
}

// remote is the model ref names, with retries, at its own endpoint or the
// run's.
func (m *Models) remote(ref teamfile.ModelRef) (model.Model, error) {
	base, key := m.baseURL, m.apiKey
	if ref.BaseURL != "" {
		base, key = ref.BaseURL, ""
		if ref.APIKeyEnv != "" {
			key = os.Getenv(ref.APIKeyEnv)
		}
	}
	om, err := openai.New(openai.Config{BaseURL: base, APIKey: key, Model: ref.Name, Stream: m.stream})
	if err != nil {
		return nil, err
	}
	return model.WithRetry(om, &model.RetryOptions{Timeout: m.callTimeout}), nil
}

// fallbacks is the model of an agent whose team file lists its models: each
// call fails over from one to the next on the provider's failures
// (model.FailsOver: a connection refused, 5xx, 429, a timeout), and the
// journal records each switch (model.failover). A model whose endpoint
// refuses its key (401, 403) or does not know it (404) does not fail over:
// that is a configuration error, and the run stops at once naming that
// model and its endpoint, even when a later model would answer. A fallback
// covers an outage, not a configuration that never worked: failing over
// would run the agent on its fallback for the whole run, every call paying
// a round trip to a model that cannot answer. The run stops for an
// unreachable endpoint only when the last model's is, since the others'
// fail over.
func (m *Models) fallbacks(refs []teamfile.ModelRef) (model.Model, error) {
	endpoints := make([]string, len(refs))
	var names []string
	for i, r := range refs {
		endpoints[i] = m.endpoint()
		if r.BaseURL != "" {
			endpoints[i] = model.RedactURL(r.BaseURL)
		}
		names = append(names, r.Name+" at "+endpoints[i])
	}
	return m.get(strings.Join(names, " then "), func() (model.Model, error) {
		chain := make([]model.Model, len(refs))
		for i, r := range refs {
			md, err := m.remote(r)
			if err != nil {
				return nil, fmt.Errorf("model %s: %w", r.Name, err)
			}
			chain[i] = &named{Model: md, endpoint: endpoints[i], name: r.Name, own: r.BaseURL != "", keyEnv: r.APIKeyEnv}
		}
		last := chain[len(chain)-1].(*named)
		return &guarded{Model: model.WithFallback(chain[0], chain[1:]...), endpoint: last.endpoint, model: last.name, stop: m.stop}, nil
	})
}

// named is one model of a fallback chain: its errors say which model, at
// which endpoint, failed (a *namedError), so that what stops the run names
// the model that failed rather than the chain's last.
type named struct {
	model.Model
	endpoint string
	name     string // its name at the endpoint
	own      bool   // at its own endpoint (base_url), not the run's
	keyEnv   string // with its own endpoint, the variable holding its key
}

// Generate calls the model, naming it on its error.
func (n *named) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := n.Model.Generate(ctx, req)
	if err != nil {
		return resp, &namedError{at: n, err: err}
	}
	return resp, nil
}

// Unwrap returns the model named.
func (n *named) Unwrap() model.Model { return n.Model }

// namedError is the error of a named model: its text is the call's, and it
// unwraps to it (model.FailsOver and errors.As see through it).
type namedError struct {
	at  *named
	err error
}

func (e *namedError) Error() string { return e.err.Error() }
func (e *namedError) Unwrap() error { return e.err }

// simModel is the offline simulator under its own provider name, so the
// trust it earns is keyed and shown as "sim/<name>", apart from any real
// model.
type simModel struct{ *model.Scripted }

// Provider returns "sim".
func (simModel) Provider() string { return "sim" }

func (m *Models) get(name string, mk func() (model.Model, error)) (model.Model, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if md, ok := m.cache[name]; ok {
		return md, nil
	}
	md, err := mk()
	if err != nil {
		return nil, err
	}
	m.cache[name] = md
	m.used = append(m.used, name)
	return md, nil
}

// endpoint is the base URL the real models are at.
func (m *Models) endpoint() string {
	if m.baseURL == "" {
		return openai.DefaultBaseURL
	}
	return model.RedactURL(m.baseURL) // no key in what is shown
}

// Summary names the models in use, and the endpoint of those named
// without theirs (a fallback chain names each model's).
func (m *Models) Summary() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := strings.Join(m.used, ", ")
	if !m.offline && slices.ContainsFunc(m.used, func(n string) bool { return !strings.Contains(n, " at ") }) {
		u := m.baseURL
		if u == "" {
			u = openai.DefaultBaseURL
		}
		s += " at " + model.RedactURL(u)
	}
	return s
}

// NeedsEndpoint is the error of a real model named with no endpoint to
// reach it.
func NeedsEndpoint(name string) error {
	return fmt.Errorf("--model %s needs an endpoint: set OPENAI_API_KEY for the OpenAI API, or --base-url for a local server", name)
}

// CheckBaseURL refuses what is not an http(s) URL with a host.
func CheckBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http or https URL, e.g. http://localhost:11434/v1")
	}
	return nil
}

// Unavailable is the error that ended a run early: the endpoint cannot
// serve any call (see model.UnavailableReason). It is down (unreachable),
// refuses the key (HTTP 401, 403), or — a configuration error
// (Configuration) — does not know the model or the path (404). Or it kept
// failing a call (Exhausted): rate limited (429), a server error (5xx), a
// timeout, after every attempt the retries allow. The library does not
// count that as unavailability (model.Unavailable): the endpoint serves,
// and a delegator could decide what to do without the call. The run stops
// on it all the same, as it does when the endpoint is down, so that
// nothing is lost: the journal is left to be resumed once it answers.
type Unavailable struct {
	endpoint string
	model    string
	reason   string
	status   int // the HTTP status of the refusal; 0 when unreachable
	// attempts is the number of attempts of a call that kept failing
	// (Exhausted); 0 otherwise. retryAfter is the wait the endpoint asked
	// for at its last answer (Retry-After), 0 if none.
	attempts   int
	retryAfter time.Duration
	// own is set for a team file's model at its own endpoint (base_url),
	// whose key is in keyEnv (api_key_env; "" for none): the run's flags
	// do not change them.
	own    bool
	keyEnv string
	err    error
}

// newUnavailable is the Unavailable of a call of model at endpoint that
// failed with err, or nil when err does not make the endpoint unavailable.
func newUnavailable(endpoint, name string, err error) *Unavailable {
	reason, ok := model.UnavailableReason(err)
	if !ok {
		return newExhausted(endpoint, name, err)
	}
	u := &Unavailable{endpoint: endpoint, model: name, reason: reason, err: err}
	var ae *model.APIError
	if errors.As(err, &ae) {
		u.status = ae.StatusCode
		if u.status == http.StatusNotFound {
			u.reason = "404 " + http.StatusText(http.StatusNotFound)
			if ae.Message != "" && ae.Message != http.StatusText(http.StatusNotFound) {
				u.reason += ": " + ae.Message
			}
		}
	}
	return u
}

// newExhausted is the Unavailable of a call of model at endpoint that
// failed with err after its retries, each attempt a temporary failure, or
// nil when err is not that. The caller makes sure the run's own
// cancellation did not end the call.
func newExhausted(endpoint, name string, err error) *Unavailable {
	var re *model.RetryError
	if !errors.As(err, &re) || !model.Retryable(re.Err) {
		return nil
	}
	u := &Unavailable{endpoint: endpoint, model: name, reason: re.Err.Error(), attempts: re.Attempts, err: err}
	var ae *model.APIError
	if errors.As(re.Err, &ae) {
		u.status, u.retryAfter = ae.StatusCode, ae.RetryAfter
		if ae.StatusCode != 0 {
			u.reason = strconv.Itoa(ae.StatusCode) + " " + http.StatusText(ae.StatusCode)
			if ae.Message != "" && ae.Message != http.StatusText(ae.StatusCode) {
				u.reason += ": " + ae.Message
			}
		}
	}
	return u
}

// Exhausted reports whether the endpoint answered, but kept failing a call
// with a temporary failure (429, 5xx, a timeout) until the retries ran out.
func (e *Unavailable) Exhausted() bool { return e.attempts > 0 }

// Attempts is the number of attempts of the call that kept failing
// (Exhausted), 0 for an endpoint that cannot serve any call.
func (e *Unavailable) Attempts() int { return e.attempts }

// RetryAfter is the wait the endpoint asked for (Retry-After) at its last
// answer to the call that kept failing, 0 if it asked for none.
func (e *Unavailable) RetryAfter() time.Duration { return e.retryAfter }

// Configuration reports whether the endpoint answered but the run's
// configuration does not fit it: it does not know the model, or the URL's
// path (404). Waiting for the endpoint does not help; the model's name, the
// base URL, or what the endpoint serves must change.
func (e *Unavailable) Configuration() bool { return e.status == http.StatusNotFound }

// Error says which endpoint, and why.
func (e *Unavailable) Error() string {
	switch {
	case e.Configuration():
		return fmt.Sprintf("%s does not know model %s (%s): a configuration error — check the model's name (--model, the team file's model) and that the base URL is the API's (most servers' end in /v1)",
			e.endpoint, e.model, e.reason)
	case e.reason == "connection refused" || strings.HasPrefix(e.reason, "no such host"):
		return fmt.Sprintf("cannot reach %s: %s — is the server running?", e.endpoint, e.reason)
	case e.Exhausted():
		s := fmt.Sprintf("%s kept failing model %s's call: %s, %d attempts", e.endpoint, e.model, e.reason, e.attempts)
		if e.retryAfter > 0 {
			s += fmt.Sprintf(" (its last answer asked to wait %s: Retry-After)", e.retryAfter)
		}
		return s
	}
	return fmt.Sprintf("%s: %s", e.endpoint, e.reason)
}

// Stopped says where the journal of a run this ended stops.
func (e *Unavailable) Stopped() string {
	if e.Configuration() {
		return "where the model was not found"
	}
	return "where the endpoint failed"
}

// Resume says when and how run resume can carry on journal, a run this
// ended: "run resume JOURNAL once it is up", …
func (e *Unavailable) Resume(journal string) string {
	refused := e.status == http.StatusUnauthorized || e.status == http.StatusForbidden
	switch {
	case e.Configuration() && e.own:
		return fmt.Sprintf("run resume %s once the endpoint serves model %s", journal, e.model)
	case e.Configuration():
		return fmt.Sprintf("run resume %s once the endpoint serves model %s (or with --base-url of one that does)", journal, e.model)
	case refused && e.own && e.keyEnv != "":
		return fmt.Sprintf("run resume %s with a key it accepts in $%s (model %s's api_key_env)", journal, e.keyEnv, e.model)
	case refused && e.own:
		return fmt.Sprintf("run resume %s once the endpoint accepts model %s's calls without a key (its team file entry names no api_key_env)", journal, e.model)
	case refused:
		return fmt.Sprintf("run resume %s with a key it accepts (--api-key or OPENAI_API_KEY)", journal)
	case e.Exhausted() && e.retryAfter > 0:
		return fmt.Sprintf("run resume %s once it answers again (not before %s)", journal, e.retryAfter)
	case e.Exhausted():
		return fmt.Sprintf("run resume %s once it answers again", journal)
	}
	return fmt.Sprintf("run resume %s once it is up", journal)
}

// Unwrap returns the model call's error.
func (e *Unavailable) Unwrap() error { return e.err }

// guarded is a model whose unavailability ends the run: the first call that
// finds the endpoint unreachable or refusing the key, or that kept failing
// until its retries ran out, calls stop, so the run ends with one line
// instead of every agent trying the endpoint in turn.
type guarded struct {
	model.Model
	endpoint string
	model    string // its name at the endpoint
	stop     func(error)
}

// Generate calls the model and stops the run when it finds the endpoint
// unavailable.
func (g *guarded) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := g.Model.Generate(ctx, req)
	// A call the run's own end cut short (an interrupt, another model's
	// stop) says nothing of the endpoint.
	if g.stop != nil && err != nil && ctx.Err() == nil {
		// Of a fallback chain, the error that ended it is the model's tried
		// last (the earlier ones failed over), and it names that model.
		endpoint, name, ended := g.endpoint, g.model, err
		var fe *model.FallbackError
		if errors.As(err, &fe) {
			ended = fe.Err
		}
		var ne *namedError
		if errors.As(ended, &ne) {
			endpoint, name = ne.at.endpoint, ne.at.name
		}
		if u := newUnavailable(endpoint, name, ended); u != nil {
			u.err = err
			if ne != nil && ne.at.own {
				u.own, u.keyEnv = true, ne.at.keyEnv
			}
			g.stop(u)
		}
	}
	return resp, err
}

// Unwrap returns the model guarded.
func (g *guarded) Unwrap() model.Model { return g.Model }
