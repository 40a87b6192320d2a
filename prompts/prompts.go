// Package prompts holds the prompt templates entrust shows models: the
// delegate's system prompt and the delegator's judge, answer and verify
// prompts, and the consultation prompt. They are text/template files embedded
// in the binary; users override any of them by name. The built-in templates
// are also written out in Go (see compiled.go), which writes byte for byte
// what text/template writes from them, without reflection; an override is
// rendered by text/template.
//
// Every template is rendered with a Data value; which fields are set depends
// on the template (see Data).
package prompts

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
)

// The template names.
const (
	DelegateSystem   = "delegate_system"   // a delegate's system prompt: role, goal, protocol
	Offer            = "offer"             // the user message that offers the goal
	Aligned          = "aligned"           // the tool result of an aligned acceptance
	Misaligned       = "misaligned"        // the tool result of a misaligned acceptance
	DelegatorSystem  = "delegator_system"  // a delegator's system prompt when it judges, answers or verifies
	JudgeAlignment   = "judge_alignment"   // asks a delegator to judge an acceptance
	AnswerEscalation = "answer_escalation" // asks a delegator to answer an escalation
	VerifyReport     = "verify_report"     // asks a delegator to verify a report
	ConsultSystem    = "consult_system"    // a consulted peer's system prompt
	Consult          = "consult"           // the question put to a consulted peer
	Nudge            = "nudge"             // sent after a prose answer where a tool call was required
	Compact          = "compact"           // the system prompt of a delegate asked to summarize its older turns
)

// names lists every template name.
var names = []string{DelegateSystem, Offer, Aligned, Misaligned, DelegatorSystem, JudgeAlignment,
	AnswerEscalation, VerifyReport, ConsultSystem, Consult, Nudge, Compact}

// Names returns every template name: a new slice.
func Names() []string { return slices.Clone(names) }

//go:embed templates/*.tmpl
var builtin embed.FS

// Data is what templates are rendered with. Fields are typed loosely (any):
// the built-in templates read the fields of the agents package's *Goal,
// *Acceptance, *Escalation, *Report and *Consultation values, and a user's
// template may be given values of other types (text/template renders those).
type Data struct {
	Agent string // the agent the prompt is for
	Role  string // its role
	// Goal is the goal at hand (*agents.Goal).
	Goal any
	// Tools are the names of the tools granted.
	Tools []string
	// Delegates and Peers are the agents it may delegate to and consult,
	// with their roles.
	Delegates, Peers []Peer
	// Delegate is the agent whose act is being judged.
	Delegate string
	// Acceptance, Escalation, Report, Consultation: the act at hand.
	Acceptance, Escalation, Report, Consultation any
	// Findings are the runtime's own findings (structural gaps, unmet
	// criteria from programmatic verifiers).
	Findings []string
	// Notes are what the runtime noted for a verifier to weigh, which is
	// not a failed check (tools used off the accepted plan).
	Notes []string
	// Round counts re-acceptances or revisions, from 1.
	Round int
}

// Peer is an agent named in a prompt.
type Peer struct{ Name, Role string }

// Set is a set of templates. It is immutable; With returns a modified copy.
type Set struct {
	texts map[string]string
	tmpl  *template.Template
	// static holds the output of the templates that are text alone, with
	// no action: the same whatever the data, rendered once.
	static map[string]string
	// fast holds the Go twins of the templates whose source is the
	// built-in one they mirror (see compiled).
	fast map[string]twin
}

var funcs = template.FuncMap{
	"inc":  func(i int) int { return i + 1 },
	"join": strings.Join,
}

// Default returns the built-in templates.
func Default() *Set {
	s, err := load(nil)
	if err != nil {
		panic("prompts: built-in templates: " + err.Error()) // a build defect, caught by tests
	}
	return s
}

// New returns the built-in templates with those in overrides replacing them:
// a file NAME.tmpl at the root of overrides replaces template NAME. A file
// whose name is not a template name is an error, so typos are caught.
func New(overrides fs.FS) (*Set, error) {
	texts := map[string]string{}
	if overrides != nil {
		entries, err := fs.ReadDir(overrides, ".")
		if err != nil {
			return nil, fmt.Errorf("prompts: %w", err)
		}
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), ".tmpl")
			if e.IsDir() || !ok {
				continue
			}
			if !known(name) {
				return nil, fmt.Errorf("prompts: %s: no template named %q (have %v)", e.Name(), name, names)
			}
			b, err := fs.ReadFile(overrides, e.Name())
			if err != nil {
				return nil, fmt.Errorf("prompts: %w", err)
			}
			texts[name] = string(b)
		}
	}
	return load(texts)
}

// With returns a copy of s with template name replaced by text.
func (s *Set) With(name, text string) (*Set, error) {
	if !known(name) {
		return nil, fmt.Errorf("prompts: no template named %q", name)
	}
	texts := maps.Clone(s.texts)
	texts[name] = text
	return load(texts)
}

// Render renders template name with d.
func (s *Set) Render(name string, d *Data) (string, error) {
	if out, ok := s.static[name]; ok {
		return out, nil
	}
	if t := s.fast[name]; t != noTwin && d != nil {
		var buf [2 << 10]byte // the prompts of a delegation fit, most of the time
		if out, ok := t.render(buf[:0], d); ok {
			return string(bytes.TrimSpace(out)), nil
		}
	}
	b := buffers.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= 64<<10 {
			b.Reset()
			buffers.Put(b)
		}
	}()
	if err := s.tmpl.ExecuteTemplate(b, name, d); err != nil {
		return "", fmt.Errorf("prompts: %w", err)
	}
	return string(bytes.TrimSpace(b.Bytes())), nil
}

// buffers hold the output of renders, reused so that a render does not
// grow a buffer of its own.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Text returns the source of template name.
func (s *Set) Text(name string) string { return s.texts[name] }

func known(name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

func load(overrides map[string]string) (*Set, error) {
	texts := make(map[string]string, len(names))
	root := template.New("").Funcs(funcs).Option("missingkey=error")
	for _, name := range names {
		text, ok := overrides[name]
		if !ok {
			b, err := builtin.ReadFile("templates/" + name + ".tmpl")
			if err != nil {
				return nil, err
			}
			text = string(b)
		}
		texts[name] = text
		if _, err := root.New(name).Parse(text); err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
	}
	s := &Set{texts: texts, tmpl: root, static: map[string]string{}, fast: map[string]twin{}}
	for _, name := range names {
		if t := compiledFor(name, texts[name]); t != noTwin {
			s.fast[name] = t
		}
	}
	for _, name := range names {
		if t := root.Lookup(name); t != nil && textOnly(t.Tree) {
			out, err := s.Render(name, nil)
			if err == nil {
				s.static[name] = out
			}
		}
	}
	return s, nil
}

// textOnly reports whether a template's tree holds text alone.
func textOnly(t *parse.Tree) bool {
	if t == nil || t.Root == nil {
		return false
	}
	for _, n := range t.Root.Nodes {
		if n.Type() != parse.NodeText {
			return false
		}
	}
	return true
}
