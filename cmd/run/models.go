package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
)

// defaultOpenAIModel is the model of agents that name none when the endpoint
// is OpenAI's own.
const defaultOpenAIModel = "gpt-4o-mini"

// models picks each agent's model: the offline simulator when no endpoint
// is configured or the team file asks for it ("sim", "sim/<persona>"), else
// the OpenAI-compatible provider with retries. One model value serves every
// agent that names the same model.
type models struct {
	offline         bool
	baseURL, apiKey string
	stream          bool
	callTimeout     time.Duration
	// stop ends the run when an endpoint is found unavailable; set before
	// the first model is made.
	stop func(error)

	mu    sync.Mutex
	cache map[string]model.Model
	used  []string
}

// newModels reads the endpoint from the flags and the environment and
// checks that every agent will have a model name.
func newModels(f *runOptions, team *teamfile.File) (*models, error) {
	m := &models{baseURL: f.baseURL, apiKey: f.apiKey, stream: f.stream, callTimeout: f.callTimeout, cache: map[string]model.Model{}}
	m.baseURL, m.apiKey = openai.Endpoint(m.baseURL, m.apiKey)
	m.offline = f.offline || m.baseURL == "" && m.apiKey == ""
	if f.baseURL != "" {
		if err := checkBaseURL(f.baseURL); err != nil {
			return nil, fmt.Errorf("--base-url %q: %w", model.RedactURL(f.baseURL), err)
		}
	} else if m.baseURL != "" {
		if err := checkBaseURL(m.baseURL); err != nil {
			return nil, fmt.Errorf("OPENAI_BASE_URL=%q: %w", model.RedactURL(m.baseURL), err)
		}
	}
	if _, sim := isSim(f.model); m.offline && f.model != "" && !sim {
		return nil, needsEndpoint(f.model)
	}
	if m.offline || f.model != "" || m.baseURL == "" {
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
	return strings.CutPrefix(name, "sim/")
}

// model returns the model of one agent; it is teamfile.BuildOptions.Model.
func (m *models) model(spec teamfile.AgentSpec) (model.Model, error) {
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
		name = defaultOpenAIModel
	}
	if len(spec.Models) > 1 || len(spec.Models) == 1 && spec.Models[0].BaseURL != "" {
		return m.fallbacks(spec.Models)
	}
	return m.get(name, func() (model.Model, error) {
		om, err := m.remote(teamfile.ModelRef{Name: name})
		if err != nil {
			return nil, err
		}
		return &guarded{Model: om, endpoint: m.endpoint(), stop: m.stop}, nil
	})
}

// remote is the model ref names, with retries, at its own endpoint or the
// run's.
func (m *models) remote(ref teamfile.ModelRef) (model.Model, error) {
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
// call fails over from one to the next (model.WithFallback). The run stops
// for an unavailable endpoint only when the last model's is.
func (m *models) fallbacks(refs []teamfile.ModelRef) (model.Model, error) {
	var names []string
	for _, r := range refs {
		n := r.Name
		if r.BaseURL != "" {
			n += " at " + model.RedactURL(r.BaseURL)
		}
		names = append(names, n)
	}
	return m.get(strings.Join(names, " then "), func() (model.Model, error) {
		chain := make([]model.Model, len(refs))
		for i, r := range refs {
			var err error
			if chain[i], err = m.remote(r); err != nil {
				return nil, fmt.Errorf("model %s: %w", r.Name, err)
			}
		}
		endpoint := m.endpoint()
		if last := refs[len(refs)-1]; last.BaseURL != "" {
			endpoint = model.RedactURL(last.BaseURL)
		}
		return &guarded{Model: model.WithFallback(chain[0], chain[1:]...), endpoint: endpoint, stop: m.stop}, nil
	})
}

// simModel is the offline simulator under its own provider name, so the
// trust it earns is keyed and shown as "sim/<name>", apart from any real
// model.
type simModel struct{ *model.Scripted }

// Provider returns "sim".
func (simModel) Provider() string { return "sim" }

func (m *models) get(name string, mk func() (model.Model, error)) (model.Model, error) {
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
func (m *models) endpoint() string {
	if m.baseURL == "" {
		return openai.DefaultBaseURL
	}
	return model.RedactURL(m.baseURL) // no key in what is shown
}

// summary names the models in use, and the endpoint.
func (m *models) summary() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := strings.Join(m.used, ", ")
	if !m.offline {
		u := m.baseURL
		if u == "" {
			u = openai.DefaultBaseURL
		}
		s += " at " + model.RedactURL(u)
	}
	return s
}

// needsEndpoint is the error of a real model named with no endpoint to
// reach it.
func needsEndpoint(name string) error {
	return fmt.Errorf("--model %s needs an endpoint: set OPENAI_API_KEY for the OpenAI API, or --base-url for a local server", name)
}

// checkBaseURL refuses what is not an http(s) URL with a host.
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http or https URL, e.g. http://localhost:11434/v1")
	}
	return nil
}

// unavailable is the error that ended a run early: the endpoint cannot
// serve any call (see model.Unavailable).
type unavailable struct {
	endpoint string
	reason   string
	err      error
}

func (e *unavailable) Error() string {
	if e.reason == "connection refused" || strings.HasPrefix(e.reason, "no such host") {
		return fmt.Sprintf("cannot reach %s: %s — is the server running?", e.endpoint, e.reason)
	}
	return fmt.Sprintf("%s: %s", e.endpoint, e.reason)
}

func (e *unavailable) Unwrap() error { return e.err }

// guarded is a model whose unavailability ends the run: the first call that
// finds the endpoint unreachable or refusing the key calls stop, so the run
// ends with one line instead of every agent trying the endpoint in turn.
type guarded struct {
	model.Model
	endpoint string
	stop     func(error)
}

// Generate calls the model and stops the run when it finds the endpoint
// unavailable.
func (g *guarded) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := g.Model.Generate(ctx, req)
	if reason, ok := model.UnavailableReason(err); ok && g.stop != nil {
		g.stop(&unavailable{endpoint: g.endpoint, reason: reason, err: err})
	}
	return resp, err
}

// Unwrap returns the model guarded.
func (g *guarded) Unwrap() model.Model { return g.Model }
