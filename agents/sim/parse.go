package sim

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/entrust-dev/entrust/agents/model"
)

// This file reads the built-in prompt templates back (package prompts): the
// simulator sees only text, as a real model does. Each parser is line based
// and lenient: a line it does not recognise continues the field before it,
// and what it cannot find stays empty, so a user's own templates degrade the
// simulator's answers rather than break them.

// peer is an agent named in a prompt's list, "- name: role".
type peer struct{ Name, Role string }

// goalInfo is what a delegate_system or delegator_system prompt says.
type goalInfo struct {
	Agent, Role       string
	Intent, Objective string
	Criteria          []string
	Constraints       []string
	Context           string
	Parents           []string
	// Tools are the tools granted once aligned.
	Tools     []string
	Delegates []peer
	Peers     []peer
	// Parsed is set when the goal block was found.
	Parsed bool
}

// field is one header of a prompt: a scalar ("Intent: value", the value may
// continue on the next lines) or a list (a line "Plan:" then items "- x" or
// "1. x").
type field struct {
	prefix string
	scalar *string
	list   *[]string
}

// parseFields reads lines into fields until a line starting with one of ends.
// Lines before the first header continue initial, when it is set.
func parseFields(lines []string, fields []field, ends []string, initial *string) {
	cur := initial
	var list *[]string
	for _, raw := range lines {
		t := strings.TrimSpace(raw)
		if hasAnyPrefix(t, ends) {
			return
		}
		matched := false
		for _, f := range fields {
			switch {
			case f.scalar != nil && strings.HasPrefix(t, f.prefix):
				*f.scalar = strings.TrimSpace(strings.TrimPrefix(t, f.prefix))
				cur, list = f.scalar, nil
				matched = true
			case f.list != nil && t == f.prefix:
				cur, list = nil, f.list
				matched = true
			}
			if matched {
				break
			}
		}
		switch {
		case matched || t == "":
		case list != nil:
			if item, ok := listItem(t); ok {
				*list = append(*list, item)
			} else if n := len(*list); n > 0 {
				(*list)[n-1] += "\n" + t
			}
		case cur != nil:
			if *cur == "" {
				*cur = t
			} else {
				*cur += "\n" + t
			}
		}
	}
}

var numberedRE = regexp.MustCompile(`^\d+\.\s+(.*)$`)

// listItem returns the text of a list line: "- x" or "3. x".
func listItem(t string) (string, bool) {
	if s, ok := strings.CutPrefix(t, "- "); ok {
		return strings.TrimSpace(s), true
	}
	if t == "-" {
		return "", true
	}
	if m := numberedRE.FindStringSubmatch(t); m != nil {
		return strings.TrimSpace(m[1]), true
	}
	return "", false
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// parseGoal reads a delegate_system, delegator_system or consult_system
// prompt.
func parseGoal(system string) goalInfo {
	var g goalInfo
	lines := strings.Split(system, "\n")
	if rest, ok := strings.CutPrefix(strings.TrimSpace(lines[0]), "You are "); ok {
		name, role, _ := strings.Cut(rest, ".")
		g.Agent, g.Role = strings.TrimSpace(name), strings.TrimSpace(role)
	}
	start := -1
	for i, l := range lines {
		if t := strings.TrimSpace(l); t == "# The goal" || t == "The goal you delegated:" {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return g
	}
	g.Parsed = true
	var tools, budget, none string
	var delegates, peers []string
	parseFields(lines[start:], []field{
		{prefix: "Intent (why):", scalar: &g.Intent},
		{prefix: "Intent:", scalar: &g.Intent},
		{prefix: "Objective (what):", scalar: &g.Objective},
		{prefix: "Objective:", scalar: &g.Objective},
		{prefix: "Success criteria:", list: &g.Criteria},
		{prefix: "Constraints:", list: &g.Constraints},
		{prefix: "Context:", scalar: &g.Context},
		{prefix: "This serves, from the top down:", list: &g.Parents},
		{prefix: "Budget:", scalar: &budget},
		{prefix: "Tools granted to you once aligned:", scalar: &tools},
		{prefix: "No action tools are granted to you", scalar: &none},
		{prefix: "You may delegate (delegate) to:", list: &delegates},
		{prefix: "You may consult (consult):", list: &peers},
	}, nil, nil)
	for _, t := range strings.Split(strings.TrimSuffix(strings.TrimSpace(tools), "."), ",") {
		if t = strings.TrimSpace(t); t != "" {
			g.Tools = append(g.Tools, t)
		}
	}
	g.Delegates, g.Peers = peers2(delegates), peers2(peers)
	return g
}

func peers2(items []string) []peer {
	var out []peer
	for _, it := range items {
		name, role, _ := strings.Cut(it, ":")
		if name = strings.TrimSpace(name); name != "" && !strings.ContainsAny(name, " \t") {
			out = append(out, peer{Name: name, Role: strings.TrimSpace(role)})
		}
	}
	return out
}

// acceptanceInfo is what a judge_alignment prompt says of an acceptance.
type acceptanceInfo struct {
	Delegate       string
	RestatedIntent string
	Plan           []string
	Criteria       []string
	Constraints    []string
	Assumptions    []string
	Risks          []string
	Findings       []string
	Parsed         bool
}

func parseAcceptance(text string) acceptanceInfo {
	var a acceptanceInfo
	lines := strings.Split(text, "\n")
	if d, ok := strings.CutSuffix(strings.TrimSpace(lines[0]), " answered your goal with this acceptance:"); ok {
		a.Delegate = d
	}
	var confidence string
	a.Parsed = strings.Contains(text, "Restated intent:")
	parseFields(lines, []field{
		{prefix: "Restated intent:", scalar: &a.RestatedIntent},
		{prefix: "Plan:", list: &a.Plan},
		{prefix: "Acknowledged criteria:", list: &a.Criteria},
		{prefix: "Acknowledged constraints:", list: &a.Constraints},
		{prefix: "Assumptions:", list: &a.Assumptions},
		{prefix: "Risks:", list: &a.Risks},
		{prefix: "Confidence:", scalar: &confidence},
		{prefix: "The runtime's structural checks found:", list: &a.Findings},
	}, []string{"Is it aligned", "Is this acceptance aligned"}, nil)
	return a
}

// criterionInfo is one criterion line of a verify_report prompt.
type criterionInfo struct {
	Criterion, Evidence string
	Met                 bool
}

// reportInfo is what a verify_report prompt says of a report.
type reportInfo struct {
	Delegate string
	Revision int
	Result   string
	Criteria []criterionInfo
	Findings []string
	Parsed   bool
}

var reportHeadRE = regexp.MustCompile(`^(\S+) reports the goal complete(?: \(revision (\d+)\))?:$`)

func parseReport(text string) reportInfo {
	r := reportInfo{Revision: 1}
	lines := strings.Split(text, "\n")
	if m := reportHeadRE.FindStringSubmatch(strings.TrimSpace(lines[0])); m != nil {
		r.Delegate = m[1]
		if n, err := strconv.Atoi(m[2]); err == nil {
			r.Revision = n
		}
	}
	r.Parsed = strings.Contains(text, "Result:")
	var items, constraints, deviations []string
	parseFields(lines, []field{
		{prefix: "Result:", scalar: &r.Result},
		{prefix: "Criteria:", list: &items},
		{prefix: "Constraints:", list: &constraints},
		{prefix: "Deviations:", list: &deviations},
		{prefix: "The runtime's checks found:", list: &r.Findings},
	}, []string{"Verify it against", "Verify the report"}, nil)
	for _, it := range items {
		head, evidence, _ := strings.Cut(it, " — evidence: ")
		c := criterionInfo{Evidence: strings.TrimSpace(evidence)}
		switch {
		case strings.HasSuffix(head, ": NOT met"):
			c.Criterion = strings.TrimSuffix(head, ": NOT met")
		case strings.HasSuffix(head, ": met"):
			c.Criterion, c.Met = strings.TrimSuffix(head, ": met"), true
		default:
			c.Criterion = head
		}
		c.Criterion = strings.TrimSpace(c.Criterion)
		r.Criteria = append(r.Criteria, c)
	}
	return r
}

// escalationInfo is what an answer_escalation prompt says.
type escalationInfo struct {
	From, Kind     string
	Blocking       bool
	Question       string
	Options        []string
	Recommendation string
}

var escalationHeadRE = regexp.MustCompile(`^(\S+) escalates \(([^,)]+)(, blocking)?\):$`)

func parseEscalation(text string) escalationInfo {
	var e escalationInfo
	lines := strings.Split(text, "\n")
	if m := escalationHeadRE.FindStringSubmatch(strings.TrimSpace(lines[0])); m != nil {
		e.From, e.Kind, e.Blocking = m[1], m[2], m[3] != ""
		lines = lines[1:]
	}
	var via string
	parseFields(lines, []field{
		{prefix: "Options:", list: &e.Options},
		{prefix: "Their recommendation:", scalar: &e.Recommendation},
		{prefix: "It reached you through:", scalar: &via},
	}, []string{"Answer it with answer_escalation"}, &e.Question)
	return e
}

// consultInfo is what a consult prompt says.
type consultInfo struct{ From, Question, Context string }

func parseConsult(text string) consultInfo {
	var c consultInfo
	lines := strings.Split(text, "\n")
	from, q, ok := strings.Cut(strings.TrimSpace(lines[0]), " asks: ")
	if !ok {
		c.Question = strings.TrimSpace(text)
		return c
	}
	c.From, c.Question = from, strings.TrimSpace(q)
	parseFields(lines[1:], []field{{prefix: "Context:", scalar: &c.Context}}, nil, &c.Question)
	return c
}

// misalignedGaps returns the points a misaligned tool result lists.
func misalignedGaps(result string) []string {
	var gaps []string
	for _, l := range strings.Split(result, "\n") {
		if g, ok := strings.CutPrefix(strings.TrimSpace(l), "- "); ok {
			gaps = append(gaps, strings.TrimSpace(g))
		}
	}
	return gaps
}

var goalHasRE = regexp.MustCompile(`(\d+) (criteria|constraints) acknowledged, the goal has (\d+)`)

// wantedCounts reads "N criteria acknowledged, the goal has M" from gaps, so
// an acceptance built from a goal the simulator could not read can still be
// corrected. -1 means not said.
func wantedCounts(gaps []string) (criteria, constraints int) {
	criteria, constraints = -1, -1
	for _, g := range gaps {
		for _, m := range goalHasRE.FindAllStringSubmatch(g, -1) {
			n, _ := strconv.Atoi(m[3])
			if m[2] == "criteria" {
				criteria = n
			} else {
				constraints = n
			}
		}
	}
	return criteria, constraints
}

var notGrantedRE = regexp.MustCompile(`the plan uses (\S+), which is not granted`)

// refusedTools reads the tools a misaligned result says the plan may not use.
func refusedTools(gaps []string) []string {
	var out []string
	for _, g := range gaps {
		if m := notGrantedRE.FindStringSubmatch(g); m != nil {
			out = append(out, strings.TrimRight(m[1], ",."))
		}
	}
	return out
}

// fromMetadata takes what the runtime says of the request over what the
// prompt was read to say: the goal in question, who is asked and the tools
// granted. The prompt still gives what metadata does not carry (the role,
// the goal's context, the parent intents).
func (g *goalInfo) fromMetadata(md *model.Metadata) {
	if md.Agent != "" {
		g.Agent = md.Agent
	}
	if md.Objective == "" {
		return // a consultation: no goal of its own
	}
	g.Intent, g.Objective = md.Intent, md.Objective
	g.Criteria, g.Constraints = md.Criteria, md.Constraints
	if md.Purpose == model.PurposeTurn {
		g.Tools = md.Tools
	}
	g.Parsed = true
}
