package prompts

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
)

// Every built-in template with actions has a Go twin for its exact source,
// and the twin writes, byte for byte, what text/template writes, over
// representative and adversarial data: nil and empty lists, nil and typed
// nil acts, empty strings, white space at the ends, template and fmt
// syntax, invalid UTF-8, many criteria, every branch taken and not.
func TestCompiledMatchTemplates(t *testing.T) {
	s := Default()
	for _, name := range names {
		if textOnly(s.tmpl.Lookup(name).Tree) {
			if _, ok := compiled[name]; ok {
				t.Errorf("%s is text alone (rendered once) but has a Go twin", name)
			}
			continue
		}
		c, ok := compiled[name]
		if !ok {
			t.Errorf("built-in template %s has no Go twin in compiled.go", name)
			continue
		}
		if sum := sourceSum(s.Text(name)); c.sum != sum {
			t.Errorf("templates/%s.tmpl changed: its Go twin in compiled.go mirrors another source, so it is unused. "+
				"Bring the twin up to date with the template, then set its sum to %s", name, sum)
			continue
		}
		if s.fast[name] != c.twin {
			t.Errorf("%s: the default set does not use its Go twin", name)
		}
	}
	rng := rand.New(rand.NewPCG(13, 1))
	corpus := append(fixedData(), nil)
	for range 1200 {
		corpus = append(corpus, randomData(func(n int) int { return rng.IntN(n) }))
	}
	for _, name := range names {
		f, ok := s.fast[name]
		if !ok {
			continue
		}
		branches := map[string]bool{}
		for i, d := range corpus {
			if d == nil {
				continue
			}
			want := execute(t, s, name, d)
			got, ok := f.render(nil, d)
			if !ok {
				t.Fatalf("%s: the twin declined data of known types (#%d): %#v", name, i, d)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s (#%d): the twin writes\n%q\ntext/template writes\n%q\ndata: %#v", name, i, got, want, d)
			}
			branches[string(want)] = true
		}
		if len(branches) < 20 {
			t.Errorf("%s: only %d distinct renders over the corpus: it exercises too little", name, len(branches))
		}
	}
}

// FuzzCompiled drives the data from the fuzzer's bytes.
func FuzzCompiled(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 200, 100, 50})
	f.Add(bytes.Repeat([]byte{255, 7, 1}, 40))
	s := Default()
	f.Fuzz(func(t *testing.T, in []byte) {
		d := randomData(func(n int) int {
			if len(in) == 0 {
				return 0
			}
			c := int(in[0])
			in = in[1:]
			return c % n
		})
		for name, fn := range s.fast {
			want := execute(t, s, name, d)
			if got, ok := fn.render(nil, d); !ok || !bytes.Equal(got, want) {
				t.Fatalf("%s: twin %q (%v), text/template %q; data %#v", name, got, ok, want, d)
			}
		}
	})
}

// Data holding types the twins do not know, or no Data at all, renders
// through text/template: same output, same errors.
func TestCompiledDeclineForeignData(t *testing.T) {
	s := Default()
	g := agents.Goal{Intent: "i", Objective: "o", Criteria: []string{"c"}}
	foreign := []*Data{
		{Agent: "a", Goal: g}, // a Goal by value
		{Agent: "a", Goal: map[string]any{"Intent": "i", "Objective": "o"}},
		{Agent: "a", Goal: &struct{ Intent, Objective string }{"i", "o"}},
		{Delegate: "w", Acceptance: agents.Acceptance{RestatedIntent: "r", Confidence: 0.5}},
		{Delegate: "w", Report: map[string]any{"Result": "r"}},
		{Escalation: agents.Escalation{From: "w", Question: "q"}},
		{Consultation: "a string"},
	}
	for _, d := range foreign {
		for name := range s.fast {
			want, werr := executeErr(s, name, d)
			got, gerr := s.Render(name, d)
			if want != got || (werr == nil) != (gerr == nil) {
				t.Errorf("%s with %#v: Render gave %q, %v; text/template %q, %v", name, d, got, gerr, want, werr)
			}
		}
	}
	for name := range s.fast {
		if _, err := s.Render(name, nil); err == nil {
			t.Errorf("%s rendered nil data without error", name)
		}
	}
}

// An override goes through text/template, also when it only adds a space;
// an override that is the built-in text again may use the twin.
func TestCompiledNotForOverrides(t *testing.T) {
	base := Default()
	for name := range base.fast {
		o, err := base.With(name, base.Text(name)+" ")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := o.fast[name]; ok {
			t.Errorf("%s: an overridden template uses the built-in twin", name)
		}
		for other := range base.fast {
			if _, ok := o.fast[other]; other != name && !ok {
				t.Errorf("overriding %s lost the twin of %s", name, other)
			}
		}
	}
	o, err := base.With(JudgeAlignment, "{{.Delegate}} says: {{with .Acceptance}}{{.RestatedIntent}}{{end}}")
	if err != nil {
		t.Fatal(err)
	}
	out, err := o.Render(JudgeAlignment, &Data{Delegate: "w", Acceptance: &agents.Acceptance{RestatedIntent: "r"}})
	if err != nil || out != "w says: r" {
		t.Fatalf("override: %q, %v", out, err)
	}
}

func execute(t testing.TB, s *Set, name string, d *Data) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&b, name, d); err != nil {
		t.Fatalf("%s: text/template: %v", name, err)
	}
	return b.Bytes()
}

func executeErr(s *Set, name string, d *Data) (string, error) {
	var b bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&b, name, d); err != nil {
		return "", err
	}
	return string(bytes.TrimSpace(b.Bytes())), nil
}

// odd are strings that a careless renderer would change.
var odd = []string{"", " ", "x", "a plain sentence.", "  padded  ", "\n", "line one\nline two", "\t- looks like an item",
	"{{.Agent}}", "}}{{", "%v %d %s %%", "<b>&amp;'\"</b>", "é → ✓ 日本", "\xff\xfe invalid", "nul\x00byte", "1.", "- x",
	strings.Repeat("long ", 200)}

// fixedData are the hand-picked cases: the zero Data, typed nil acts,
// empty but not nil lists, many criteria, odd numbers.
func fixedData() []*Data {
	many := make([]string, 120)
	for i := range many {
		many[i] = "criterion " + strings.Repeat("x", i%7)
	}
	var (
		nilGoal *agents.Goal
		nilAcc  *agents.Acceptance
		nilRep  *agents.Report
		nilEsc  *agents.Escalation
		nilCons *agents.Consultation
	)
	empty := []string{}
	out := []*Data{
		{},
		{Goal: nilGoal, Acceptance: nilAcc, Report: nilRep, Escalation: nilEsc, Consultation: nilCons},
		{Goal: &agents.Goal{}, Acceptance: &agents.Acceptance{}, Report: &agents.Report{}, Escalation: &agents.Escalation{}, Consultation: &agents.Consultation{}},
		{Tools: empty, Delegates: []Peer{}, Peers: []Peer{}, Findings: empty, Notes: empty,
			Goal:       &agents.Goal{Criteria: empty, Constraints: empty, ParentIntents: empty},
			Acceptance: &agents.Acceptance{Plan: empty, AcknowledgedCriteria: empty, AcknowledgedConstraints: empty, Assumptions: empty, Risks: empty},
			Report:     &agents.Report{Criteria: []agents.CriterionResult{}, Constraints: []agents.ConstraintResult{}, Deviations: empty},
			Escalation: &agents.Escalation{Options: empty, Via: empty}},
		{Agent: "w", Role: "writes", Goal: &agents.Goal{Intent: "i", Objective: "o", Criteria: many, Constraints: many, ParentIntents: many},
			Tools: many, Findings: many, Notes: many, Round: 120,
			Acceptance: &agents.Acceptance{Plan: many, AcknowledgedCriteria: many, AcknowledgedConstraints: many, Assumptions: many, Risks: many}},
		{Goal: &agents.Goal{Budget: agents.Budget{Tokens: 5}}}, // tokens alone are not shown
		{Goal: &agents.Goal{Budget: agents.Budget{Steps: -1, Tokens: -2}}, Round: -3},
	}
	for _, c := range []float64{0, 1, 0.5, 0.1 + 0.2, 1e-7, 123456789, 1e21, -0.0, math.Inf(1), math.Inf(-1), math.NaN(), math.SmallestNonzeroFloat64} {
		out = append(out, &Data{Delegate: "w", Acceptance: &agents.Acceptance{RestatedIntent: "r", Confidence: c}})
	}
	for _, r := range []int{0, 1, 2, 10, -1} {
		out = append(out, &Data{Delegate: "w", Round: r, Report: &agents.Report{Result: "r"}})
	}
	return out
}

// randomData builds a Data from choices: pick(n) returns one of 0..n-1.
func randomData(pick func(n int) int) *Data {
	str := func() string { return odd[pick(len(odd))] }
	list := func() []string {
		switch pick(4) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		l := make([]string, pick(13)+1)
		for i := range l {
			l[i] = str()
		}
		return l
	}
	peers := func() []Peer {
		if pick(3) == 0 {
			return nil
		}
		l := make([]Peer, pick(4))
		for i := range l {
			l[i] = Peer{Name: str(), Role: str()}
		}
		return l
	}
	num := func() int { return []int{0, 0, 1, 2, 9, 10, 11, 99, 100, -1, 1 << 40}[pick(11)] }
	d := &Data{Agent: str(), Role: str(), Delegate: str(), Tools: list(), Delegates: peers(), Peers: peers(),
		Findings: list(), Notes: list(), Round: num()}
	if pick(5) > 0 {
		d.Goal = &agents.Goal{Intent: str(), Objective: str(), Criteria: list(), Constraints: list(), Context: str(),
			ParentIntents: list(), Budget: agents.Budget{Steps: num(), Tokens: num()}, Tools: list()}
	}
	if pick(5) > 0 {
		d.Acceptance = &agents.Acceptance{RestatedIntent: str(), Plan: list(), AcknowledgedCriteria: list(),
			AcknowledgedConstraints: list(), Assumptions: list(), Risks: list(),
			Confidence: []float64{0, 0.5, 0.75, 1, 0.1 + 0.2, 1e-9}[pick(6)]}
	}
	if pick(5) > 0 {
		r := &agents.Report{Result: str(), Deviations: list(), Confidence: 0.25}
		for range pick(5) {
			r.Criteria = append(r.Criteria, agents.CriterionResult{Criterion: str(), Met: pick(2) == 0, Evidence: str(), Cites: list()})
		}
		for range pick(4) {
			r.Constraints = append(r.Constraints, agents.ConstraintResult{Constraint: str(), Respected: pick(2) == 0, Evidence: str()})
		}
		d.Report = r
	}
	if pick(5) > 0 {
		kinds := []agents.EscalationKind{agents.KindRisk, agents.KindBlocked, agents.KindClarification, "", "made up"}
		d.Escalation = &agents.Escalation{From: str(), Kind: kinds[pick(len(kinds))], Question: str(), Options: list(),
			Recommendation: str(), Blocking: pick(2) == 0, Via: list()}
	}
	if pick(5) > 0 {
		d.Consultation = &agents.Consultation{From: str(), Agent: str(), Question: str(), Context: str()}
	}
	return d
}
