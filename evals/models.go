package evals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/internal/jsonstr"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
)

// The model names a scenario's agents may give besides a real model's.
const (
	// ModelSim is the offline protocol simulator (package sim); with a
	// persona ("sim/eager", or persona: eager) it misbehaves as told.
	ModelSim = "sim"
	// ModelScript answers from the scenario's inline script for the agent.
	ModelScript = "script"
)

// Variant is one model configuration a suite runs with: a column of the
// report. The "sim" variant runs every scenario as written; an endpoint
// variant puts a real model in place of the agents under test.
type Variant struct {
	// Name names the variant in reports and file names.
	Name string
	// Model returns the model of one agent of one trial; a nil model with
	// a nil error keeps the scenario's own (simulator or script). Nil
	// keeps the scenario's own for every agent. It is called concurrently.
	Model func(a AgentInfo) (model.Model, error)
}

// AgentInfo is what a Variant knows of the agent it gives a model to.
type AgentInfo struct {
	// Scenario names the scenario.
	Scenario string
	// Spec is the agent's spec, defaults applied.
	Spec teamfile.AgentSpec
	// Persona is the simulator persona the scenario gives it, "" for none.
	Persona string
	// UnderTest says the agent is one whose behaviour the scenario tests
	// (see Scenario.UnderTest).
	UnderTest bool
	// Seed is the trial's seed.
	Seed int64
}

// SimVariant runs every scenario with the models it names: the simulator
// and scripts, offline.
func SimVariant() Variant { return Variant{Name: ModelSim} }

// ModelFactory makes the model named name (a real model's name, as a
// variant or a scenario's team file gives it) for one agent of one trial.
// The caller chooses the provider, the endpoint and the retries: the evals
// package names no provider. The runner sends seed, the trial's, with every
// request that sets none. It is called concurrently.
type ModelFactory func(name string) (model.Model, error)

// EndpointVariant is the variant where the agents under test are the model
// named name, made by models; the other agents keep the scenario's models.
func EndpointVariant(name string, models ModelFactory) Variant {
	return Variant{Name: name, Model: func(a AgentInfo) (model.Model, error) {
		if !a.UnderTest {
			return nil, nil
		}
		m, err := models(name)
		if err != nil {
			return nil, err
		}
		return withSeed(m, a.Seed), nil
	}}
}

// withSeed returns m sending seed with every request that sets none.
func withSeed(m model.Model, seed int64) model.Model {
	return seeded{m: m, name: m.Name(), seed: int(seed & 0x7fffffff)}
}

// seeded sets a request's seed when it has none, for providers that support
// reproducible sampling.
type seeded struct {
	m    model.Model
	name string
	seed int
}

// Name returns the model's name.
func (s seeded) Name() string { return s.name }

// Generate sends req with the seed.
func (s seeded) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	if req.Seed == nil {
		cp := *req
		seed := s.seed
		cp.Seed = &seed
		req = &cp
	}
	return s.m.Generate(ctx, req)
}

// personaOf returns the simulator persona spec asks for.
func personaOf(spec teamfile.AgentSpec) string {
	if p, ok := strings.CutPrefix(spec.Model, ModelSim+"/"); ok {
		return p
	}
	if spec.Model == "" || spec.Model == ModelSim {
		return spec.Persona
	}
	return ""
}

func isSim(spec teamfile.AgentSpec) bool {
	return spec.Model == "" || spec.Model == ModelSim || strings.HasPrefix(spec.Model, ModelSim+"/")
}

// underTest returns the names of the scenario's agents under test.
func (sc *Scenario) underTest() []string {
	if len(sc.UnderTest) > 0 {
		return sc.UnderTest
	}
	var withPersona, simulated []string
	for i := range sc.Team.Agents {
		spec := sc.Team.Resolve(i)
		if personaOf(spec) != "" {
			withPersona = append(withPersona, spec.Name)
		}
		if isSim(spec) {
			simulated = append(simulated, spec.Name)
		}
	}
	if len(withPersona) > 0 {
		return withPersona
	}
	return simulated
}

// modelFor returns the model of agent spec in a trial of sc with variant v;
// real says it is the variant's or the factory's, not a simulator or a
// script of the scenario.
func (sc *Scenario) modelFor(spec teamfile.AgentSpec, v *Variant, seed int64, models ModelFactory) (m model.Model, real bool, err error) {
	persona := personaOf(spec)
	if v.Model != nil {
		m, err := v.Model(AgentInfo{Scenario: sc.Name, Spec: spec, Persona: persona,
			UnderTest: slices.Contains(sc.underTest(), spec.Name), Seed: seed})
		if err != nil || m != nil {
			return m, true, err
		}
	}
	switch {
	case isSim(spec):
		p, err := sim.ParsePersona(persona)
		if err != nil {
			return nil, false, err
		}
		m := sim.New(spec.Name, &sim.Options{Persona: p})
		m.SetRecording(false)
		return m, false, nil
	case spec.Model == ModelScript:
		m, err := scriptModel(spec.Name, sc.Scripts[spec.Name])
		if err != nil {
			return nil, false, fmt.Errorf("scripts.%s: %w", spec.Name, err)
		}
		m.SetRecording(false)
		return m, false, nil
	case models != nil:
		m, err := models(spec.Model)
		if err != nil {
			return nil, true, err
		}
		return withSeed(m, seed), true, nil
	}
	return nil, false, fmt.Errorf("agent %s names model %q: give an endpoint (--base-url) to run it, or use sim", spec.Name, spec.Model)
}

// scriptModel answers from an inline script: each request takes the next
// turn, whose calls' placeholders are filled from the request (CallSpec.Fill).
func scriptModel(name string, specs []TurnSpec) (*model.Scripted, error) {
	turns, err := scriptTurns(specs)
	if err != nil {
		return nil, err
	}
	fills := make([][]map[string]*regexp.Regexp, len(specs)) // by turn, by call
	for i, t := range specs {
		for _, c := range callsOf(&t) {
			f := map[string]*regexp.Regexp{}
			for k, expr := range c.Fill {
				if f[k], err = regexp.Compile(expr); err != nil {
					return nil, fmt.Errorf("turn %d: %s: fill.%s: %w", i, c.Name, k, err)
				}
			}
			fills[i] = append(fills[i], f)
		}
	}
	var mu sync.Mutex
	next := 0
	recap := sim.New(name, nil)
	return model.ScriptFunc(name, func(ctx context.Context, req *model.Request) (*model.Response, error) {
		if folding(req) {
			// A summary of older turns is no turn of the script: the
			// simulator sums up the calls it is shown.
			return recap.Generate(ctx, req)
		}
		mu.Lock()
		i := next
		next++
		mu.Unlock()
		if i >= len(turns) {
			return nil, fmt.Errorf("%w: %s answered all %d turns", model.ErrScriptExhausted, name, len(turns))
		}
		t := turns[i]
		if t.Err != nil {
			return nil, t.Err
		}
		calls := slices.Clone(t.Calls)
		for j := range calls {
			if len(fills[i][j]) > 0 {
				calls[j].Arguments = fill(calls[j].Arguments, fills[i][j], req.Messages)
			}
		}
		return &model.Response{Message: model.Message{Content: t.Text, ToolCalls: calls}}, nil
	}), nil
}

// folding reports whether req asks for a summary of older turns: what its
// Metadata says, else a request without tools that opens with
// agents.FoldHeader.
func folding(req *model.Request) bool {
	if md := req.Metadata; md != nil {
		return md.Purpose == model.PurposeCompact
	}
	n := len(req.Messages)
	return len(req.Tools) == 0 && n > 0 && strings.HasPrefix(req.Messages[n-1].Content, agents.FoldHeader)
}

// fill replaces the placeholders {{name}} of args' strings with what each
// expression's group matches in the last message that matches it.
func fill(args json.RawMessage, fills map[string]*regexp.Regexp, msgs []model.Message) json.RawMessage {
	values := map[string]string{}
	for name, re := range fills {
		for i := len(msgs) - 1; i >= 0; i-- {
			if m := re.FindStringSubmatch(msgs[i].Content); m != nil {
				values[name] = m[1]
				break
			}
		}
	}
	out, _, err := jsonstr.Map(args, func(s string) string {
		for name := range fills {
			s = strings.ReplaceAll(s, "{{"+name+"}}", values[name]) // "" when nothing matched
		}
		return s
	})
	if err != nil {
		return args
	}
	return out
}

// callsOf returns a turn's calls in the order they are made.
func callsOf(t *TurnSpec) []CallSpec {
	if t.Call != nil {
		return append([]CallSpec{*t.Call}, t.Calls...)
	}
	return t.Calls
}

// scriptTurns turns a scenario's inline script into scripted turns.
func scriptTurns(specs []TurnSpec) ([]model.Turn, error) {
	turns := make([]model.Turn, 0, len(specs))
	for i, t := range specs {
		switch {
		case t.Text != "":
			turns = append(turns, model.Text(t.Text))
		case t.Error != "":
			turns = append(turns, model.Turn{Err: errors.New(t.Error)})
		default:
			var mc []model.ToolCall
			for _, c := range callsOf(&t) {
				if c.Raw != "" {
					mc = append(mc, withID(c.ID, model.Call(c.Name, json.RawMessage(c.Raw))))
					continue
				}
				b, err := json.Marshal(jsonable(c.Args))
				if err != nil {
					return nil, fmt.Errorf("turn %d: %s: %w", i, c.Name, err)
				}
				if c.Args == nil {
					b = []byte("{}")
				}
				mc = append(mc, withID(c.ID, model.Call(c.Name, json.RawMessage(b))))
			}
			turns = append(turns, model.Calls(mc...))
		}
	}
	return turns, nil
}

// jsonable converts YAML-decoded values (maps with any keys) to values
// encoding/json can marshal.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonable(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}

// withID is call with its id set to id, when id is not empty.
func withID(id string, call model.ToolCall) model.ToolCall {
	if id != "" {
		call.ID = id
	}
	return call
}
