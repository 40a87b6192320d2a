package evals

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/internal/yamlloc"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Scenario is one eval task: a team, a goal, the models of its agents, the
// files its workspace starts with, and what must be true of the run. It is
// read from YAML (ParseScenario) or built in Go; a Scenario is not modified
// by the runner and may be shared by concurrent trials.
type Scenario struct {
	// Name identifies the scenario in reports and file names; it must
	// match ^[A-Za-z0-9][A-Za-z0-9_.-]*$.
	Name string
	// Description says what the scenario tests, in a sentence or two.
	Description string
	// Modes are the MAST failure modes the scenario targets ("FM-1.1"…),
	// for grouping in reports; the detectors run on every trial anyway.
	Modes []string
	// Tags are free labels, e.g. the persona under test.
	Tags []string
	// ShouldEscalate labels the scenario for escalation precision and
	// recall (Ask-F1): whether a well-behaved agent would raise an
	// escalation or a clarification. Nil leaves it out of Ask-F1.
	ShouldEscalate *bool
	// UnderTest names the agents that take an endpoint variant's model; by
	// default the agents with a persona, else every simulated agent.
	UnderTest []string
	// Team is the team, in the schema of package teamfile.
	Team *teamfile.File
	// Goal is entrusted to the team's lead.
	Goal GoalSpec
	// Principal stands above the lead: "auto" (the default: confirm
	// acceptances, take recommendations) or "deny" (refuse every
	// escalation that reaches the top).
	Principal string
	// Supervisor, when set, answers the delegates' progress reports.
	Supervisor *SupervisorSpec
	// Limits bound the runtime; zero fields take the runtime's defaults.
	Limits orchestrator.Limits
	// Scripts are the inline turns of the agents whose model is "script".
	// A request for a summary of older turns (to fit a context budget)
	// takes no turn: the simulator answers it.
	Scripts map[string][]TurnSpec
	// Workspace maps the paths of the files the workspace starts with to
	// their contents.
	Workspace map[string]string
	// Expect are the expectations every trial is scored on.
	Expect []Expectation
	// Timeout bounds one trial; zero takes the runner's.
	Timeout time.Duration

	// File is where the scenario was read from, for messages.
	File string
}

// GoalSpec is a scenario's goal: agents.Goal in YAML, with programmatic
// verifiers over the workspace.
type GoalSpec struct {
	// Intent, Objective, Criteria, Constraints, Context and Budget are
	// those of agents.Goal; the budget's wall_time is a Go duration.
	Intent      string          `yaml:"intent"`
	Objective   string          `yaml:"objective"`
	Criteria    []string        `yaml:"criteria"`
	Constraints []string        `yaml:"constraints"`
	Context     string          `yaml:"context"`
	Budget      teamfile.Budget `yaml:"budget"`
	// Tools narrows what the team grants for this goal; empty grants all.
	Tools []string `yaml:"tools"`
	// Verify are programmatic verifiers the runtime runs on the lead's
	// report: each names the criterion it checks and a file condition.
	// They are also the ground truth the MAST detectors compare claims
	// against.
	Verify []FileCheck `yaml:"verify"`
}

// FileCheck is a condition on one file of a trial's workspace.
type FileCheck struct {
	// Path is relative to the workspace root.
	Path string `yaml:"path"`
	// Exists, when set, requires the file to exist (true) or not (false).
	Exists *bool `yaml:"exists"`
	// Contains and NotContains are substrings the content must (not) hold.
	Contains string `yaml:"contains"`
	// NotContains is a substring the content must not hold.
	NotContains string `yaml:"not_contains"`
	// Regex must match the content (RE2 syntax).
	Regex string `yaml:"regex"`
	// Criterion names the criterion the check verifies, when it is a goal
	// verifier; it is what the runtime reports unmet.
	Criterion string `yaml:"criterion"`

	re *regexp.Regexp
}

// SupervisorSpec is a scenario's Supervisor: a rule over progress reports.
type SupervisorSpec struct {
	// HaltWhen halts a delegate whose progress report (summary or next
	// step) mentions it, case aside.
	HaltWhen string `yaml:"halt_when"`
}

// supervisor returns the orchestrator.Supervisor of s, nil when s sets no
// rule.
func (s *SupervisorSpec) supervisor() orchestrator.Supervisor {
	if s == nil || strings.TrimSpace(s.HaltWhen) == "" {
		return nil
	}
	word := strings.ToLower(strings.TrimSpace(s.HaltWhen))
	return func(_ context.Context, p orchestrator.ProgressInfo) orchestrator.Intervention {
		if strings.Contains(strings.ToLower(p.Progress.Summary+" "+p.Progress.Next), word) {
			return orchestrator.Intervention{Action: orchestrator.ActionHalt, Reason: "the supervisor halts any step toward " + s.HaltWhen}
		}
		return orchestrator.Intervention{Action: orchestrator.ActionContinue}
	}
}

// TurnSpec is one turn of an inline script: text, tool calls, or an error.
type TurnSpec struct {
	// Text is an answer in prose.
	Text string `yaml:"text"`
	// Call is one tool call; Calls several in one turn.
	Call  *CallSpec  `yaml:"call"`
	Calls []CallSpec `yaml:"calls"`
	// Error makes the model fail the call with this message.
	Error string `yaml:"error"`
}

// CallSpec is one scripted tool call. Args is marshalled to JSON; Raw is
// sent as the arguments verbatim, so scripts can send broken JSON.
type CallSpec struct {
	// ID is the call's id, so that a report can cite it; empty lets the
	// scripted model number it.
	ID string `yaml:"id"`
	// Name is the tool's name.
	Name string `yaml:"name"`
	// Args are the arguments, as a YAML mapping.
	Args any `yaml:"args"`
	// Raw are the arguments verbatim, valid JSON or not.
	Raw string `yaml:"raw"`
	// Fill takes values of the arguments from what the model is sent, as
	// a model answers from its prompt: each entry names a placeholder,
	// written {{name}} in the string arguments, and a regular expression
	// (RE2) with a group; the group's text in the last message that
	// matches replaces the placeholder, or "" when no message matches.
	Fill map[string]string `yaml:"fill"`
}

// Error is a problem in a scenario file, located by file, line and field; it
// renders as `eager.yaml:12: expect[2].event.type: unknown event type "tool.call"`.
type Error = yamlloc.Error

// scenarioYAML is the document's schema.
type scenarioYAML struct {
	Name           string                `yaml:"name"`
	Description    string                `yaml:"description"`
	Modes          []string              `yaml:"modes"`
	Tags           []string              `yaml:"tags"`
	ShouldEscalate *bool                 `yaml:"should_escalate"`
	UnderTest      []string              `yaml:"under_test"`
	Team           ast.Node              `yaml:"team"`
	Goal           GoalSpec              `yaml:"goal"`
	Principal      string                `yaml:"principal"`
	Supervisor     *SupervisorSpec       `yaml:"supervisor"`
	Limits         limitsYAML            `yaml:"limits"`
	Scripts        map[string][]TurnSpec `yaml:"scripts"`
	Workspace      map[string]string     `yaml:"workspace"`
	Expect         []Expectation         `yaml:"expect"`
	Timeout        string                `yaml:"timeout"`
}

type limitsYAML struct {
	MaxDepth          int `yaml:"max_depth"`
	MaxFanOut         int `yaml:"max_fan_out"`
	MaxAlignRounds    int `yaml:"max_align_rounds"`
	MaxRevisions      int `yaml:"max_revisions"`
	MaxReassign       int `yaml:"max_reassign"`
	MaxNudges         int `yaml:"max_nudges"`
	MaxClarifications int `yaml:"max_clarifications"`
	RepeatLimit       int `yaml:"repeat_limit"`
	DefaultSteps      int `yaml:"default_steps"`
	AskSteps          int `yaml:"ask_steps"`
}

func (l limitsYAML) limits() orchestrator.Limits {
	return orchestrator.Limits{MaxDepth: l.MaxDepth, MaxFanOut: l.MaxFanOut, MaxAlignRounds: l.MaxAlignRounds,
		MaxRevisions: l.MaxRevisions, MaxReassign: l.MaxReassign, MaxNudges: l.MaxNudges,
		MaxClarifications: l.MaxClarifications, RepeatLimit: l.RepeatLimit, DefaultSteps: l.DefaultSteps, AskSteps: l.AskSteps}
}

var scenarioNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// ParseScenario parses and validates a scenario. filename names the file in
// errors, which are *Error values (several joined with errors.Join). Unknown
// fields are errors. The team is validated with package teamfile, against
// the workspace tools.
func ParseScenario(filename string, data []byte) (*Scenario, error) {
	af, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlErr(filename, nil, err)
	}
	var body ast.Node
	for _, doc := range af.Docs {
		if doc.Body == nil {
			continue
		}
		if body != nil {
			return nil, &Error{File: filename, Line: doc.Body.GetToken().Position.Line, Msg: "a scenario file holds one YAML document; this is another"}
		}
		body = doc.Body
	}
	if body == nil {
		return nil, &Error{File: filename, Line: 1, Msg: "the file is empty"}
	}
	root, ok := body.(*ast.MappingNode)
	if !ok {
		return nil, &Error{File: filename, Line: body.GetToken().Position.Line, Msg: "a scenario is a mapping with name, team, goal and expect"}
	}
	var raw scenarioYAML
	if err := yaml.NodeToValue(body, &raw, yaml.Strict()); err != nil {
		return nil, yamlErr(filename, body, err)
	}
	v := &validator{file: filename, lines: yamlloc.LineIndex(body)}
	sc := &Scenario{
		Name: raw.Name, Description: strings.TrimSpace(raw.Description), Modes: raw.Modes, Tags: raw.Tags,
		ShouldEscalate: raw.ShouldEscalate, UnderTest: raw.UnderTest, Goal: raw.Goal, Principal: raw.Principal, Supervisor: raw.Supervisor,
		Limits: raw.Limits.limits(), Scripts: raw.Scripts, Workspace: raw.Workspace, Expect: raw.Expect,
		File: filename,
	}
	if raw.Timeout != "" {
		d, err := time.ParseDuration(raw.Timeout)
		if err != nil || d < 0 {
			v.add("timeout", "%q is not a positive duration (e.g. 30s)", raw.Timeout)
		}
		sc.Timeout = d
	}
	if raw.Team == nil {
		v.add("", "missing team: a scenario needs a team (lead and agents, as in a team file)")
	} else {
		team, err := parseTeam(filename, data, root)
		if err != nil {
			v.errs = append(v.errs, err)
		}
		sc.Team = team
	}
	for i := range sc.Expect {
		sc.Expect[i].Line = v.line(fmt.Sprintf("expect[%d]", i))
	}
	v.scenario(sc)
	if err := v.err(); err != nil {
		return nil, err
	}
	return sc, nil
}

// parseTeam hands the team node to teamfile.Parse with its lines where they
// are in the scenario, so teamfile's errors point into the scenario file.
func parseTeam(filename string, data []byte, root *ast.MappingNode) (*teamfile.File, error) {
	var teamKV *ast.MappingValueNode
	next := 0 // line of the key after team, 0 at the end
	for i, mv := range root.Values {
		if mv.Key.GetToken().Value == "team" {
			teamKV = mv
			if i+1 < len(root.Values) {
				next = root.Values[i+1].Key.GetToken().Position.Line
			}
		}
	}
	m, ok := teamKV.Value.(*ast.MappingNode)
	if !ok {
		return nil, &Error{File: filename, Line: teamKV.Value.GetToken().Position.Line, Field: "team", Msg: "want a mapping with lead and agents"}
	}
	start := m.Start
	if !m.IsFlowStyle && len(m.Values) > 0 {
		start = m.Values[0].Key.GetToken()
	}
	lines := strings.Split(string(data), "\n")
	first, col := start.Position.Line, start.Position.Column
	last := len(lines)
	if next > 0 {
		last = next - 1
	}
	var b strings.Builder
	for i := 1; i <= len(lines); i++ {
		if i >= first && i <= last {
			l := lines[i-1]
			if i == first {
				l = l[min(col-1, len(l)):]
			} else {
				trim := 0
				for trim < len(l) && trim < col-1 && l[trim] == ' ' {
					trim++
				}
				l = l[trim:]
			}
			b.WriteString(l)
		}
		b.WriteByte('\n')
	}
	tf, err := teamfile.Parse(filename, []byte(b.String()))
	if err != nil {
		return nil, prefixTeamErr(err)
	}
	return tf, nil
}

// prefixTeamErr puts teamfile's field paths under "team.".
func prefixTeamErr(err error) error {
	var te *teamfile.Error
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, prefixTeamErr(e))
		}
		return errors.Join(out...)
	}
	if errors.As(err, &te) {
		f := "team"
		if te.Field != "" {
			f += "." + te.Field
		}
		return &Error{File: te.File, Line: te.Line, Field: f, Msg: te.Msg}
	}
	return err
}

// LoadScenario reads and parses the scenario file at path.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseScenario(path, data)
}

// LoadSuite reads scenarios from files and directories (every *.yaml and
// *.yml directly inside a directory, sorted by name). Names must be unique
// across the suite. All problems are reported, joined.
func LoadSuite(paths ...string) ([]*Scenario, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		var found []string
		for _, e := range entries {
			if !e.IsDir() && isYAML(e.Name()) {
				found = append(found, filepath.Join(p, e.Name()))
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no scenario files (*.yaml) in the directory", p)
		}
		files = append(files, found...)
	}
	return loadAll(files, func(f string) ([]byte, error) { return os.ReadFile(f) })
}

// LoadSuiteFS is LoadSuite over a file system: every *.yaml and *.yml file
// in dir, sorted by name.
func LoadSuiteFS(fsys fs.FS, dir string) ([]*Scenario, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && isYAML(e.Name()) {
			files = append(files, path.Join(dir, e.Name()))
		}
	}
	return loadAll(files, func(f string) ([]byte, error) { return fs.ReadFile(fsys, f) })
}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

func loadAll(files []string, read func(string) ([]byte, error)) ([]*Scenario, error) {
	sort.Strings(files)
	var out []*Scenario
	var errs []error
	seen := map[string]string{}
	for _, f := range files {
		data, err := read(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sc, err := ParseScenario(f, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := seen[sc.Name]; dup {
			errs = append(errs, &Error{File: f, Field: "name", Msg: fmt.Sprintf("duplicate scenario name %q (also in %s)", sc.Name, prev)})
			continue
		}
		seen[sc.Name] = f
		out = append(out, sc)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// validator collects the problems of a scenario, each with its line.
type validator struct {
	file  string
	lines map[string]int
	errs  []error
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: v.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error {
	slices.SortStableFunc(v.errs, func(a, b error) int { return lineOf(a) - lineOf(b) })
	return errors.Join(v.errs...)
}

func lineOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Line
	}
	return 0
}

// line returns the line of path, or of its nearest ancestor.
func (v *validator) line(p string) int {
	for p != "" {
		if n, ok := v.lines[p]; ok {
			return n
		}
		i := max(strings.LastIndex(p, "."), strings.LastIndex(p, "["))
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return v.lines[""]
}

// knownPersona reports whether p names a simulator persona.
func knownPersona(p string) bool {
	_, err := sim.ParsePersona(p)
	return err == nil
}

func (v *validator) scenario(sc *Scenario) {
	switch {
	case sc.Name == "":
		v.add("name", "missing: every scenario needs a name")
	case !scenarioNameRE.MatchString(sc.Name):
		v.add("name", "%q is not a valid name: use letters, digits, '.', '-' and '_'", sc.Name)
	}
	for i, m := range sc.Modes {
		if _, ok := modeByID(m); !ok {
			v.add(fmt.Sprintf("modes[%d]", i), "unknown failure mode %q (known: %s)", m, strings.Join(ModeIDs(), ", "))
		}
	}
	switch sc.Principal {
	case "", "auto", "deny":
	default:
		v.add("principal", "%q: want auto or deny", sc.Principal)
	}
	if strings.TrimSpace(sc.Goal.Objective) == "" {
		v.add("goal.objective", "missing: the goal needs an objective")
	}
	if _, err := sc.Goal.Budget.Parse(); err != nil {
		v.add("goal.budget", "%v", err)
	}
	for i := range sc.Goal.Verify {
		v.fileCheck(fmt.Sprintf("goal.verify[%d]", i), &sc.Goal.Verify[i])
	}
	agentsByName := map[string]teamfile.AgentSpec{}
	if sc.Team != nil {
		for i := range sc.Team.Agents {
			spec := sc.Team.Resolve(i)
			agentsByName[spec.Name] = spec
			p := fmt.Sprintf("team.agents[%d]", i)
			persona := spec.Persona
			if m, ok := strings.CutPrefix(spec.Model, "sim/"); ok {
				persona = m
			}
			if persona != "" && !knownPersona(persona) {
				v.add(p+".persona", "unknown persona %q (known: %v)", persona, sim.Personas())
			}
			if spec.Model == ModelScript {
				if _, ok := sc.Scripts[spec.Name]; !ok {
					v.add(p+".model", "model script needs scripts.%s", spec.Name)
				}
			}
		}
		for i, t := range sc.Goal.Tools {
			found := false
			for _, a := range sc.Team.Agents {
				found = found || slices.Contains(a.Tools, t)
			}
			if !found {
				v.add(fmt.Sprintf("goal.tools[%d]", i), "no agent of the team has the tool %q", t)
			}
		}
	}
	for i, n := range sc.UnderTest {
		if _, ok := agentsByName[n]; !ok && sc.Team != nil {
			v.add(fmt.Sprintf("under_test[%d]", i), "unknown agent %q", n)
		}
	}
	for name, turns := range sc.Scripts {
		p := "scripts." + name
		if spec, ok := agentsByName[name]; !ok && sc.Team != nil {
			v.add(p, "no agent named %q in the team", name)
		} else if ok && spec.Model != ModelScript {
			v.add(p, "agent %s has model %q: set model: script to use a script", name, spec.Model)
		}
		for j := range turns {
			v.turn(fmt.Sprintf("%s[%d]", p, j), &turns[j])
		}
	}
	for p := range sc.Workspace {
		if !filepath.IsLocal(p) {
			v.add("workspace", "%q is not a local path inside the workspace", p)
		}
	}
	if len(sc.Expect) == 0 {
		v.add("expect", "missing: a scenario needs at least one expectation")
	}
	for i := range sc.Expect {
		v.expectation(fmt.Sprintf("expect[%d]", i), &sc.Expect[i])
	}
}

func (v *validator) turn(p string, t *TurnSpec) {
	n := 0
	for _, set := range []bool{t.Text != "", t.Call != nil, len(t.Calls) > 0, t.Error != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		v.add(p, "a turn has exactly one of text, call, calls, error")
	}
	calls := t.Calls
	if t.Call != nil {
		calls = append(calls, *t.Call)
	}
	for _, c := range calls {
		if c.Name == "" {
			v.add(p, "a call needs a name")
		}
		if c.Raw != "" && c.Args != nil {
			v.add(p, "a call has args or raw, not both")
		}
		for _, name := range slices.Sorted(maps.Keys(c.Fill)) {
			re, err := regexp.Compile(c.Fill[name])
			switch {
			case err != nil:
				v.add(p+".fill."+name, "%v", err)
			case re.NumSubexp() == 0:
				v.add(p+".fill."+name, "the expression has no group: put what to take in (parentheses)")
			case c.Raw != "" || !strings.Contains(fmt.Sprint(c.Args), "{{"+name+"}}"):
				v.add(p+".fill."+name, "no argument holds {{%s}}", name)
			}
		}
	}
}

func (v *validator) fileCheck(p string, c *FileCheck) {
	if c.Path == "" {
		v.add(p+".path", "missing: name the file")
	} else if !filepath.IsLocal(c.Path) {
		v.add(p+".path", "%q is not a local path inside the workspace", c.Path)
	}
	if c.Regex != "" {
		re, err := regexp.Compile(c.Regex)
		if err != nil {
			v.add(p+".regex", "%v", err)
		}
		c.re = re
	}
	if c.Exists == nil && c.Contains == "" && c.NotContains == "" && c.Regex == "" {
		v.add(p, "say what to check: exists, contains, not_contains or regex")
	}
}

// yamlErr turns a goccy error into an *Error naming the field whose node
// holds the offending token.
func yamlErr(filename string, body ast.Node, err error) error {
	e := yamlloc.FromYAML(filename, body, err)
	var te *yaml.TypeError
	var ye yaml.Error
	if errors.As(err, &te) && errors.As(err, &ye) && ye.GetToken() != nil {
		e.Msg = fmt.Sprintf("want %s, got %q", te.DstType, ye.GetToken().Value)
	}
	return e
}

// goal returns the agents.Goal the scenario entrusts, with its verifiers
// reading the workspace at dir.
func (g *GoalSpec) goal(dir string) agents.Goal {
	b, _ := g.Budget.Parse()
	out := agents.Goal{Intent: g.Intent, Objective: g.Objective, Criteria: slices.Clone(g.Criteria),
		Constraints: slices.Clone(g.Constraints), Context: g.Context, Budget: b, Tools: slices.Clone(g.Tools)}
	if len(g.Verify) > 0 {
		checks := g.Verify
		out.Verifiers = []agents.Verifier{func(*agents.Goal, *agents.Report) ([]string, error) {
			var unmet []string
			files := snapshotFiles(snapshot(dir))
			for i := range checks {
				if ok, why := checks[i].check(files); !ok {
					unmet = append(unmet, checks[i].label()+" ("+why+")")
				}
			}
			return unmet, nil
		}}
	}
	return out
}

// label names what a check verifies.
func (c *FileCheck) label() string {
	if c.Criterion != "" {
		return c.Criterion
	}
	return c.describe()
}

func (c *FileCheck) describe() string {
	var parts []string
	if c.Exists != nil {
		if *c.Exists {
			parts = append(parts, "exists")
		} else {
			parts = append(parts, "does not exist")
		}
	}
	if c.Contains != "" {
		parts = append(parts, fmt.Sprintf("contains %q", c.Contains))
	}
	if c.NotContains != "" {
		parts = append(parts, fmt.Sprintf("does not contain %q", c.NotContains))
	}
	if c.Regex != "" {
		parts = append(parts, fmt.Sprintf("matches /%s/", c.Regex))
	}
	return c.Path + " " + strings.Join(parts, ", ")
}

// check evaluates c on files. A Path with glob characters (path.Match)
// is satisfied by any matching file.
func (c *FileCheck) check(files snapshotFiles) (ok bool, why string) {
	if !isGlob(c.Path) {
		content, exists := files.read(c.Path)
		return c.checkOne(content, exists)
	}
	var names []string
	for p := range files {
		if m, _ := path.Match(c.Path, p); m {
			names = append(names, p)
		}
	}
	if len(names) == 0 {
		return c.checkOne("", false)
	}
	sort.Strings(names)
	// A file that must not contain something must not in any matching
	// file; the other checks hold when one matching file meets them.
	if c.NotContains != "" {
		for _, n := range names {
			if strings.Contains(files[n], c.NotContains) {
				return false, fmt.Sprintf("%q found in %s", c.NotContains, n)
			}
		}
	}
	for _, n := range names {
		if ok, why = c.checkOne(files[n], true); ok {
			return true, ""
		}
	}
	return false, why
}

func (c *FileCheck) checkOne(content string, exists bool) (ok bool, why string) {
	if c.Exists != nil && *c.Exists != exists {
		if exists {
			return false, "the file exists"
		}
		return false, "no such file"
	}
	if !exists {
		if c.Contains != "" || c.Regex != "" {
			return false, "no such file"
		}
		return true, ""
	}
	if c.Contains != "" && !strings.Contains(content, c.Contains) {
		return false, fmt.Sprintf("%q not found in %s", c.Contains, excerpt(content))
	}
	if c.NotContains != "" && strings.Contains(content, c.NotContains) {
		return false, fmt.Sprintf("%q found", c.NotContains)
	}
	if c.Regex != "" {
		re := c.re
		if re == nil {
			var err error
			if re, err = regexp.Compile(c.Regex); err != nil {
				return false, err.Error()
			}
		}
		if !re.MatchString(content) {
			return false, fmt.Sprintf("/%s/ does not match %s", c.Regex, excerpt(content))
		}
	}
	return true, ""
}

func excerpt(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// snapshotFiles is a workspace read into memory: slash-separated relative
// path to content.
type snapshotFiles map[string]string

func (s snapshotFiles) read(p string) (string, bool) {
	c, ok := s[path.Clean(filepath.ToSlash(p))]
	return c, ok
}
