package orchestrator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/internal/words"
)

// feedback is what a delegate was last told to change, so that a
// resubmission that ignores it is caught (MAST FM-2.5, ignored other
// agent's input). Guarded by the delegation's mu.
type feedback struct {
	// misaligned is the last acceptance judged misaligned for something the
	// delegate could change (not a delegator that could not judge), and
	// gaps what it was told: the gaps and the correction.
	misaligned *agents.Acceptance
	gaps       []string
	// asked says a question was asked since: an answer may justify an
	// acceptance sent again as it was.
	asked bool
	// revised is the last report sent back for something the delegate
	// could fix (not a verifier that could not check), and acted says an
	// action tool or a delegation ran since: work done in the world
	// answers the feedback even with the same report.
	revised *agents.Report
	why     string // the feedback it was sent back with
	acted   bool
	// ignoredAccept and ignoredReport count the resubmissions that ignored
	// their feedback.
	ignoredAccept, ignoredReport int
}

// gapFields are the parts of an acceptance a gap can name, each with the
// word stems that name it. Only words that plainly name a field count: a
// gap that names none is answered by any change, so a vague cue would only
// make the check stricter than the feedback.
var gapFields = []struct {
	name string
	cues []string
	text func(*agents.Acceptance) string
}{
	{"intent", []string{"intent", "purpose", "restat", "derail"}, func(a *agents.Acceptance) string { return a.RestatedIntent }},
	{"plan", []string{"plan", "approach", "tool", "delegat", "grant"}, func(a *agents.Acceptance) string { return strings.Join(a.Plan, "\n") }},
	{"criteria", []string{"criteri", "criterion"}, func(a *agents.Acceptance) string { return strings.Join(a.AcknowledgedCriteria, "\n") }},
	{"constraints", []string{"constraint", "boundar", "forbid"}, func(a *agents.Acceptance) string { return strings.Join(a.AcknowledgedConstraints, "\n") }},
	{"assumptions", []string{"assum"}, func(a *agents.Acceptance) string { return strings.Join(a.Assumptions, "\n") }},
	{"risks", []string{"risk"}, func(a *agents.Acceptance) string { return strings.Join(a.Risks, "\n") }},
	{"confidence", []string{"confiden"}, func(a *agents.Acceptance) string { return strconv.FormatFloat(a.Confidence, 'f', -1, 64) }},
}

// changedFields returns the names of the fields of an acceptance that differ
// between prev and cur in their words (case, spacing and punctuation
// aside).
func changedFields(prev, cur *agents.Acceptance) []string {
	var out []string
	for _, f := range gapFields {
		if words.Normal(f.text(prev)) != words.Normal(f.text(cur)) {
			out = append(out, f.name)
		}
	}
	return out
}

// namedFields returns the fields of an acceptance a gap names, by its words
// ("the restated intent…", "criterion 2…", "the plan uses…") or by a tool
// of the team it names (a plan's); none when it names no field.
func (d *delegation) namedFields(gap string) []string {
	ws := strings.FieldsFunc(strings.ToLower(gap), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
	})
	var out []string
	for _, f := range gapFields {
		if slices.ContainsFunc(ws, func(w string) bool {
			return slices.ContainsFunc(f.cues, func(c string) bool { return w == c || len(c) > 3 && strings.HasPrefix(w, c) })
		}) {
			out = append(out, f.name)
		}
	}
	if !slices.Contains(out, "plan") && slices.ContainsFunc(d.rt.allTool, func(t string) bool { return slices.Contains(ws, t) }) {
		out = append(out, "plan")
	}
	return out
}

// namedItems returns the goal's criteria and constraints a gap names, with
// the field of an acceptance that acknowledges each: by number ("criterion
// 2", "constraint 1") or by their content words (two at least, or the only
// one they have).
func namedItems(g *agents.Goal, gap string) (items, fields []string) {
	low := words.Normal(gap)
	for _, l := range []struct {
		field string
		what  []string
		items []string
	}{{"criteria", []string{"criterion", "criteria"}, g.Criteria}, {"constraints", []string{"constraint", "constraints"}, g.Constraints}} {
		for i, item := range l.items {
			named := false
			for _, w := range l.what {
				if strings.Contains(" "+low+" ", " "+w+" "+strconv.Itoa(i+1)+" ") {
					named = true
				}
			}
			if cw := words.Content(item); !named && len(cw) > 0 {
				shared := 0
				gw := words.Content(gap)
				for w := range cw {
					if gw[w] {
						shared++
					}
				}
				named = shared >= min(2, len(cw))
			}
			if named {
				items, fields = append(items, item), append(fields, l.field)
			}
		}
	}
	return items, fields
}

// ignoredAcceptance says how an acceptance ignores the misalignment feedback
// its last one was given, "" when it does not (or there was none): sent
// again unchanged, or with no gap addressed. A gap is addressed when a field
// it names changed (any change, for a gap that names none) and every
// criterion or constraint of the goal it names is now restated (its
// acknowledgements share a content word with it).
func (d *delegation) ignoredAcceptance(a *agents.Acceptance) string {
	d.mu.Lock()
	prev, gaps, asked := d.fb.misaligned, d.fb.gaps, d.fb.asked
	d.mu.Unlock()
	if prev == nil || asked {
		return ""
	}
	changed := changedFields(prev, a)
	if len(changed) == 0 {
		return "the acceptance was sent again unchanged after the misalignment feedback"
	}
	if len(gaps) == 0 {
		return ""
	}
	acks := map[string]string{"criteria": strings.Join(a.AcknowledgedCriteria, "\n"), "constraints": strings.Join(a.AcknowledgedConstraints, "\n")}
	for _, gap := range gaps {
		items, itemFields := namedItems(d.goal, gap)
		named := append(d.namedFields(gap), itemFields...)
		if len(named) > 0 && !slices.ContainsFunc(named, func(f string) bool { return slices.Contains(changed, f) }) {
			continue
		}
		restated := true
		for i, item := range items {
			if len(words.Content(item)) > 0 && !words.Share(acks[itemFields[i]], item) {
				restated = false
			}
		}
		if restated {
			return "" // one gap addressed is engagement: the judge weighs the rest
		}
	}
	return fmt.Sprintf("the acceptance changed only its %s, and addresses none of the gaps it was given (%s)",
		strings.Join(changed, ", "), strings.Join(gaps, "; "))
}

// sameReport reports whether two reports say the same, case, spacing and
// punctuation aside.
func sameReport(a, b *agents.Report) bool {
	norm := func(r *agents.Report) string {
		parts := []string{r.Result, strings.Join(r.Deviations, "\n")}
		for _, c := range r.Criteria {
			parts = append(parts, c.Criterion, strconv.FormatBool(c.Met), c.Evidence, strings.Join(c.Cites, " "))
		}
		for _, c := range r.Constraints {
			parts = append(parts, c.Constraint, strconv.FormatBool(c.Respected), c.Evidence)
		}
		return words.Normal(strings.Join(parts, "\x00"))
	}
	return norm(a) == norm(b)
}

// ignoredRevision says how a report ignores the revise feedback its last
// one was given, "" when it does not: the same report, with no work done
// since (see acted).
func (d *delegation) ignoredRevision(rep *agents.Report) string {
	d.mu.Lock()
	prev, acted, why := d.fb.revised, d.fb.acted, d.fb.why
	d.mu.Unlock()
	if prev == nil || acted || !sameReport(prev, rep) {
		return ""
	}
	return fmt.Sprintf("the report was sent again unchanged after the revise feedback (%s), with no work done since", why)
}

// ignored counts one more resubmission that ignored its feedback (report
// says which act) and returns how many there were.
func (d *delegation) ignored(report bool) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if report {
		d.fb.ignoredReport++
		return d.fb.ignoredReport
	}
	d.fb.ignoredAccept++
	return d.fb.ignoredAccept
}

// acted notes that the delegate did work in the world — a call that
// succeeded of an action tool that writes files or acts (agents.KindOf),
// or a delegation that completed: a report sent again after it is not
// ignoring its feedback. A read, a call of a tool of unknown kind, a failed
// or refused call, or a failed delegation is no such work.
func (d *delegation) acted() {
	d.mu.Lock()
	d.fb.acted = true
	d.mu.Unlock()
}

// ignoredWarning is added to the feedback of a resubmission that ignored it
// the first time.
const ignoredWarning = "You sent it again without addressing the feedback (%s). Address it, ask if it is wrong, or decline: the next one that ignores it ends the delegation."
