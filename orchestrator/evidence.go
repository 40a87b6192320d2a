package orchestrator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

// evidence indexes what a run did — the tool calls of every delegation's own
// conversation and every delegation — so that a report's citations can be
// resolved at hand-back against the same facts the journal records.
type evidence struct {
	mu    sync.Mutex
	calls []callRecord   // in the order they ran
	byID  map[string]int // the index of the last call of each id in calls; ids may repeat across delegations
	dels  map[string]*delegation
}

// callRecord is one tool call that ran in a delegation's own conversation.
type callRecord struct {
	d      *delegation
	tool   string
	kind   agents.ToolKind // the tool's kind (gated.kind); KindUnknown for a protocol act
	failed bool
	path   string // the call's "path" (or "file", "file_path", "filename") argument, if any
	prev   int    // the index of the call before it with the same id, -1 for none
}

// byCall returns the calls with id c, in the order they ran.
func (ev *evidence) byCall(c string) []callRecord {
	var out []callRecord
	i, ok := ev.byID[c]
	for ok && i >= 0 {
		out = append(out, ev.calls[i])
		i = ev.calls[i].prev
	}
	slices.Reverse(out)
	return out
}

func (ev *evidence) addDelegation(d *delegation) {
	ev.mu.Lock()
	if ev.dels == nil {
		ev.dels = map[string]*delegation{}
	}
	ev.dels[d.id] = d
	ev.mu.Unlock()
}

func (ev *evidence) addCall(d *delegation, call *model.ToolCall, kind agents.ToolKind, res *agents.Result) {
	rec := callRecord{d: d, tool: call.Name, kind: kind, failed: res.IsError, prev: -1}
	// Only arguments that name a path are worth decoding.
	if bytes.Contains(call.Arguments, []byte(`"path"`)) || bytes.Contains(call.Arguments, []byte(`"file`)) {
		var args struct {
			Path     string `json:"path"`
			File     string `json:"file"`
			FilePath string `json:"file_path"`
			Filename string `json:"filename"`
		}
		if json.Unmarshal(call.Arguments, &args) == nil {
			for _, p := range []string{args.Path, args.File, args.FilePath, args.Filename} {
				if p != "" {
					rec.path = d.workspacePath(p)
					break
				}
			}
		}
	}
	ev.mu.Lock()
	if ev.byID == nil {
		ev.byID = map[string]int{}
	}
	if i, ok := ev.byID[call.ID]; ok {
		rec.prev = i
	}
	ev.byID[call.ID] = len(ev.calls)
	ev.calls = append(ev.calls, rec)
	ev.mu.Unlock()
}

// cleanPath is p as a workspace path: relative, cleaned, "" when it is absolute
// or leaves the workspace.
func cleanPath(p string) string {
	p = path.Clean(strings.TrimSpace(p))
	if !fs.ValidPath(p) || p == "." {
		return ""
	}
	return p
}

// covers reports whether x is d or one of its descendants.
func (d *delegation) covers(x *delegation) bool {
	for y := x; y != nil; y = y.parent {
		if y == d {
			return true
		}
	}
	return false
}

// unseenWriter is the name of an action tool of a call of d's subtree that
// succeeded and whose writes the runtime cannot see (agents.KindActs:
// bash, run_command, move_file…), "" when there is none. A tool of
// unknown kind is not one: it is not taken to have made any file.
func (ev *evidence) unseenWriter(d *delegation) string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, r := range ev.calls {
		if !r.failed && d.covers(r.d) && r.kind == agents.KindActs {
			return r.tool
		}
	}
	return ""
}

// touched reports whether a call that succeeded named path p: anywhere in the
// run (within nil), or within d's subtree; with write, only calls of tools
// that write files. A tool of unknown kind touches nothing: what it did with
// the path is unknown.
func (ev *evidence) touched(p string, within *delegation, write bool) bool {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, r := range ev.calls {
		if r.path == p && !r.failed && (within == nil || within.covers(r.d)) && r.kind != agents.KindUnknown &&
			(!write || r.kind == agents.KindWritesFiles) {
			return true
		}
	}
	return false
}

// namedByUnknown is the name of a tool of unknown kind of a call of d's
// subtree that succeeded and named path p, "" when there is none: what it
// did to p is unknown.
func (ev *evidence) namedByUnknown(p string, d *delegation) string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, r := range ev.calls {
		if r.path == p && !r.failed && d.covers(r.d) && r.kind == agents.KindUnknown {
			return r.tool
		}
	}
	return ""
}

// undeclared names tool, of unknown kind, in a message, with what the
// operator can do about it.
func undeclared(tool string) string {
	return tool + ", which declares no kind (reads, writes files or acts), so what it did is unknown" +
		" (the operator can declare it: agents.ToolSpec.Kind or agents.KindedTool in Go, trust_hints for an MCP server's read-only tools)"
}

// exists says why the workspace path p cannot be taken to exist, "" when it
// does: it is in the runtime's Workspace, or, when none is configured, a call
// of this run that succeeded wrote it.
func (d *delegation) exists(p string) string {
	if w := d.rt.opts.Workspace; w != nil {
		if _, err := fs.Stat(w, p); err != nil {
			return notThere(p, err)
		}
		return ""
	}
	if !d.run.ev.touched(p, nil, true) {
		return p + " cannot be checked: no workspace is configured and no tool call of this run wrote it"
	}
	return ""
}

var (
	delegationIDRE = regexp.MustCompile(`^d[0-9]+$`)
	citeTrim       = `"'()[]{}<>,;:!?.*`
)

// readingVerbs are the verbs that ask for an input to be read, reviewed or
// examined. Each form listed is a verb only; nouns are not (a summary, an
// assessment, analytics). "review" and "audit", nouns as often as verbs,
// are in ambiguousReading: they count as the criterion's verb only where a
// verb stands (see aboutReading).
var (
	readingVerbs = map[string]bool{
		"read": true, "reads": true, "reading": true, "reread": true, "rereads": true, "proofread": true, "proofreads": true,
		"reviewed": true, "reviewing": true, "inspect": true, "inspects": true, "inspected": true, "inspecting": true,
		"examine": true, "examines": true, "examined": true, "examining": true, "audited": true, "auditing": true,
		"analyze": true, "analyzes": true, "analyzed": true, "analyzing": true, "analyse": true, "analyses": true, "analysed": true, "analysing": true,
		"summarize": true, "summarizes": true, "summarized": true, "summarizing": true,
		"summarise": true, "summarises": true, "summarised": true, "summarising": true,
		"assess": true, "assesses": true, "assessed": true, "assessing": true, "skim": true, "skimmed": true,
	}
	ambiguousReading = map[string]bool{"review": true, "reviews": true, "audit": true, "audits": true}
	// writingWords say that a criterion asks for something to be made or
	// changed: with one of them, reading is not enough.
	writingWords = map[string]bool{
		"write": true, "writes": true, "wrote": true, "written": true, "writing": true, "rewrite": true, "rewritten": true,
		"create": true, "creates": true, "created": true, "creating": true, "produce": true, "produces": true, "produced": true,
		"save": true, "saves": true, "saved": true, "generate": true, "generates": true, "generated": true,
		"add": true, "adds": true, "added": true, "append": true, "appended": true, "edit": true, "edited": true,
		"update": true, "updates": true, "updated": true, "record": true, "recorded": true, "draft": true, "drafted": true,
		"store": true, "stored": true, "put": true, "fix": true, "fixed": true, "change": true, "changed": true,
		"modify": true, "modified": true, "rename": true, "renamed": true, "move": true, "moved": true,
		"delete": true, "deleted": true, "remove": true, "removed": true, "commit": true, "committed": true,
		"export": true, "exported": true, "publish": true, "published": true, "output": true, "fill": true, "filled": true,
	}
	// outputLead are the words before a file that make it where the work
	// goes: "… in notes.md", "… into out.csv", "… as review.md".
	outputLead = map[string]bool{"in": true, "into": true, "to": true, "as": true, "under": true}
)

// aboutReading reports whether a criterion asks only for something to be
// read, reviewed or examined, so that a file the work read supports it. It
// fails closed: a criterion is about reading only when every clause of it
// is — split at punctuation and at and, or, then, but, so, to, before,
// after, while — a clause whose verb is one of reading, standing first or
// after a subject and an auxiliary ("Read old.md", "Review old.md for
// typos", "old.md is reviewed", "the team must review the plan"; not a
// noun: "a summary", "the review", "an assessment"), or one that only
// adds to a list of what is read, files or a bare noun phrase (listable:
// "Review main.go and utils.go", "… and the tests"). A clause with any
// other verb ("Review main.go then correct the typo", "Analyze sales.csv
// and chart it on chart.png", "Respond to reviews", "Review main.go and
// the tests are green") makes it no reading criterion, as does a word of writing
// anywhere ("Write a summary of report.txt") or a second file where the
// work goes ("Review old.md, findings in review.md").
func aboutReading(criterion string) bool {
	clauses := readingClauses(criterion)
	if len(clauses) == 0 {
		return false
	}
	files, reading := 0, false
	for ci, c := range clauses {
		verb := false
		for i, w := range c.words {
			if _, ok := fileWord(w); ok {
				files++
				if files > 1 && ((i > 0 && outputLead[c.words[i-1]]) || (i == 0 && outputLead[c.join])) {
					return false // a second file, where the work goes
				}
				continue
			}
			w = strings.Trim(w, ".-_/")
			switch {
			case writingWords[w]:
				return false
			case !verb && (readingVerbs[w] || ambiguousReading[w]) && (i == 0 || readingLead[c.words[i-1]]):
				verb = true
			}
		}
		switch {
		case verb:
			reading = true
		case ci > 0 && c.listed && reading && listGoesOn(clauses, ci):
			// Another thing read: "… and utils.go", "… and the tests".
		default:
			return false // a clause with a verb of its own, or none
		}
	}
	return reading
}

// readingClause is a clause of a criterion, its words lower-cased.
type readingClause struct {
	words  []string
	join   string // what joined it to the one before: a word, or "," for punctuation
	listed bool   // it names only what may be listed: files, or a bare noun phrase (listable)
	files  bool   // it names only files
}

// clauseWords split a criterion's clauses; determiners open a noun phrase
// that may go on a list of what is read.
var (
	clauseWords = map[string]bool{"and": true, "or": true, "then": true, "but": true, "so": true, "to": true,
		"before": true, "after": true, "while": true, "&": true}
	determiners = map[string]bool{"the": true, "a": true, "an": true, "all": true, "its": true, "their": true,
		"his": true, "her": true, "our": true, "your": true, "each": true, "every": true, "both": true, "any": true}
	// readingLead are the words after which a verb of reading stands as
	// the clause's verb: an auxiliary, a modal, an adverb of manner.
	readingLead = map[string]bool{"is": true, "are": true, "was": true, "were": true, "be": true, "been": true,
		"being": true, "has": true, "have": true, "had": true, "must": true, "should": true, "shall": true,
		"will": true, "would": true, "can": true, "could": true, "may": true, "might": true, "please": true,
		"first": true, "carefully": true, "thoroughly": true, "fully": true, "also": true, "get": true,
		"gets": true, "got": true}
)

// readingClauses splits a criterion into clauses (see aboutReading).
func readingClauses(criterion string) []readingClause {
	var out []readingClause
	cur := readingClause{}
	flush := func(join string) {
		if len(cur.words) > 0 {
			cur.listed, cur.files = listable(cur.words)
			out = append(out, cur)
		}
		cur = readingClause{join: join}
	}
	for _, tok := range strings.Fields(strings.ToLower(criterion)) {
		w := strings.TrimFunc(tok, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '&'
		})
		switch {
		case w == "":
		case clauseWords[w]:
			flush(w)
			continue
		default:
			cur.words = append(cur.words, w)
		}
		if strings.ContainsAny(tok[len(tok)-1:], ",;:!?.") {
			flush(",")
		}
	}
	flush("")
	return out
}

// listable says whether words name only what may go on a list, and
// whether only files: files, or a bare noun phrase, determiners then one
// noun ("the tests", "all the chapters", "the file notes.md"). It fails
// closed: a phrase with a second word of its own is taken for a clause
// with a verb ("the tests pass", "the build succeeds", "the tests are
// green"), as is one whose noun is an auxiliary or a word of a result
// ("all pass").
func listable(words []string) (listed, filesOnly bool) {
	i := 0
	for i < len(words) && determiners[words[i]] {
		i++
	}
	nouns := 0
	for _, w := range words[i:] {
		if _, ok := fileWord(w); ok || w == "file" || w == "files" {
			continue
		}
		if nouns++; nouns > 1 || readingLead[w] || resultWords[w] {
			return false, false
		}
	}
	if nouns == 0 {
		return len(words) > i, i == 0
	}
	return i > 0, false // a noun needs its determiner: not "tests pass"
}

// resultWords are words that state a result, which a bare noun phrase
// never is: "… and all pass", "… and everything works".
var resultWords = map[string]bool{"pass": true, "passes": true, "passed": true, "fail": true, "fails": true,
	"failed": true, "work": true, "works": true, "worked": true, "run": true, "runs": true, "ran": true,
	"succeed": true, "succeeds": true, "succeeded": true, "green": true, "done": true, "gone": true,
	"ok": true, "okay": true, "fine": true, "good": true, "ready": true, "correct": true, "fixed": true,
	"deploys": true, "deployed": true, "builds": true, "built": true, "compiles": true, "compiled": true}

// listGoesOn reports whether the listed clause at i goes on a list of what
// is read — joined by and, or or &, or by a comma when the list ends so
// further on ("a.go, b.go and c.go"; not "report.txt, notes.md") — or is
// the object of a preposition ("Review changes to main.go", "… before the
// release").
func listGoesOn(clauses []readingClause, i int) bool {
	for ; i < len(clauses) && clauses[i].listed; i++ {
		switch clauses[i].join {
		case "and", "or", "&":
			return true
		case "to":
			// The object of "changes to": a file ("Review the changes to
			// main.go"); a noun phrase is where the work goes ("Summarize
			// report.txt to the board").
			return clauses[i].files
		case "before", "after", "while":
			return true // the object of a preposition: "Read the spec before the meeting"
		case ",":
		default:
			return false
		}
	}
	return false
}

// fileWord is the file w names, if any.
func fileWord(w string) (string, bool) {
	fs := agents.NamedFiles(w)
	if len(fs) == 1 {
		return fs[0], true
	}
	return "", false
}

// citations are what a criterion's evidence cites: its Cites, and in its text
// the file names, the delegation ids and the ids of this run's tool calls.
func (d *delegation) citations(c *agents.CriterionResult) []string {
	out := slices.Clone(c.Cites)
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, f := range agents.NamedFiles(c.Evidence) {
		add(f)
	}
	ev := &d.run.ev
	for _, tok := range strings.Fields(c.Evidence) {
		tok = strings.Trim(tok, citeTrim)
		ev.mu.Lock()
		_, isCall := ev.byID[tok]
		ev.mu.Unlock()
		if isCall || delegationIDRE.MatchString(tok) {
			add(tok)
		}
	}
	return out
}

// citeVerdict is what a citation proves of a criterion.
type citeVerdict int

const (
	// citeFalse: the citation is false (a call that failed, a file that
	// does not exist or that no one below wrote): the claim is unmet.
	citeFalse citeVerdict = iota
	// citeSupports: the citation holds and supports the criterion.
	citeSupports
	// citeOnlyRead: true, but of a read, for a criterion that is not
	// about reading: no lie, no support.
	citeOnlyRead
	// citeUnchecked: the runtime cannot check it (a directory, a file that
	// a tool it cannot see writing may have made, no workspace): no lie,
	// no support; another citation is asked for.
	citeUnchecked
)

// resolve says what citation c proves of a criterion of d's report, and
// why, for citeFalse and citeUnchecked. It supports the criterion when it
// is a tool call of d's subtree that succeeded and did not only read
// (unless the criterion is about reading); a delegation below d that
// completed; a regular file of the workspace that a call of d's subtree
// wrote, or, when reading is set (the criterion is about reading or
// reviewing), named in any call that succeeded. A file that exists but
// that the subtree only read, for a criterion about something else, is no
// lie but supports nothing; nor is one that a tool whose writes the runtime
// cannot see may have made, one that a call of a tool of unknown kind named
// (it may have written it; the message says to declare the tool's kind), or
// a directory: those ask for another citation.
func (d *delegation) resolve(c string, reading bool) (citeVerdict, string) {
	c = strings.TrimSpace(c)
	ev := &d.run.ev
	ev.mu.Lock()
	recs := ev.byCall(c)
	child := ev.dels[c]
	ev.mu.Unlock()
	if len(recs) > 0 {
		mine, read, act, unknown := false, false, "", ""
		for _, r := range recs {
			if d.covers(r.d) {
				mine = true
				switch {
				case r.failed:
				case agents.IsProtocolTool(r.tool) && r.tool != agents.ToolDelegate:
					// An act of the protocol (accept_goal, escalate,
					// report_progress...) is no work: it supports nothing.
					// A delegation's work is cited by its delegate call or
					// its id, which is checked as a delegation.
					act = r.tool
				case r.tool == agents.ToolDelegate, r.kind == agents.KindWritesFiles, r.kind == agents.KindActs:
					return citeSupports, ""
				case r.kind == agents.KindReads:
					if reading {
						return citeSupports, ""
					}
					read = true
				default:
					// A tool that declares no kind and whose name says
					// none (fetch_url, calculator): what it did is
					// unknown, so its call proves nothing.
					unknown = r.tool
				}
			}
		}
		switch {
		case !mine:
			return citeFalse, fmt.Sprintf("tool call %s was not made by you or your delegates", c)
		case act != "":
			return citeUnchecked, fmt.Sprintf("tool call %s is the protocol act %s, not work: cite the call that did the work, a file it wrote or a delegation id", c, act)
		case unknown != "":
			return citeUnchecked, fmt.Sprintf("tool call %s is of %s: cite a file the work wrote, the id of a call that wrote it or a delegation id", c, undeclared(unknown))
		case read:
			// A call that only read: evidence of reading, not of anything produced.
			return citeOnlyRead, ""
		}
		return citeFalse, fmt.Sprintf("tool call %s (%s) failed", c, recs[0].tool)
	}
	if child != nil || delegationIDRE.MatchString(c) {
		switch {
		case child == nil:
			return citeFalse, fmt.Sprintf("there is no delegation %s", c)
		case child == d || !d.covers(child):
			return citeFalse, fmt.Sprintf("delegation %s is not one you or your delegates made", c)
		}
		if st := child.status(); st != StatusCompleted {
			return citeFalse, fmt.Sprintf("delegation %s did not complete (%s)", c, st)
		}
		return citeSupports, ""
	}
	p := d.workspacePath(c)
	if p == "" || strings.ContainsAny(p, " \t\n") {
		return citeFalse, fmt.Sprintf("%q is no workspace path, tool call or delegation of this run", c)
	}
	if v, why := d.isFile(p); why != "" {
		return v, why
	}
	switch {
	case ev.touched(p, d, true):
		return citeSupports, ""
	case reading && ev.touched(p, d, false):
		return citeSupports, ""
	}
	if t := ev.unseenWriter(d); t != "" {
		return citeUnchecked, fmt.Sprintf("no call the runtime sees writing named %s, and %s, whose writes it cannot see, may have made it: cite the id of the call that did", p, t)
	}
	if t := ev.namedByUnknown(p, d); t != "" {
		// Not called false: the journal shows a call naming p, and it may
		// have written it. Nor support: nothing says it did.
		return citeUnchecked, fmt.Sprintf("%s was named by a call of %s: cite the id of a call or a file the runtime can check", p, undeclared(t))
	}
	switch {
	case ev.touched(p, d, false):
		// Read by the work: evidence of reading, not of anything produced.
		return citeOnlyRead, ""
	case reading:
		return citeFalse, p + " was not written or read by you or your delegates"
	}
	return citeFalse, p + " was not written by you or your delegates: a file cited must be one the work produced or changed"
}

// isFile says why the workspace path p cannot be cited, "" when it can,
// with citeFalse when it does not exist and citeUnchecked when the runtime
// cannot tell: it is a regular file of the runtime's Workspace. Without
// one, that is left to the calls: a file is cited for what a call of the
// subtree did to it (see resolve), and one that no call wrote is false, as
// one there before is with a workspace.
func (d *delegation) isFile(p string) (citeVerdict, string) {
	w := d.rt.opts.Workspace
	if w == nil {
		return citeSupports, ""
	}
	fi, err := fs.Stat(w, p)
	switch {
	case err != nil:
		return citeFalse, notThere(p, err)
	case fi.IsDir():
		return citeUnchecked, p + " is a directory, not a file: cite the files in it that the work wrote"
	case !fi.Mode().IsRegular():
		return citeUnchecked, p + " is not a regular file"
	}
	return citeSupports, ""
}

// status is the delegation's terminal status, "" while it runs.
func (d *delegation) status() Status {
	if d.state.Load() != stateDone {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.Status
}

// mustCite reports whether d's claims need evidence the runtime can check:
// it holds action tools or may delegate. A delegate that works by reasoning
// alone has nothing to cite; its report is judged by the verifiers and its
// delegator.
func (d *delegation) mustCite() bool {
	return len(d.effective) > 0 || d.mayDelegate()
}

// evidenceFindings are the runtime's checks of a report's evidence at
// hand-back: every criterion claimed met cites something checkable and true;
// a delegator with no tools of its own has a completed delegation behind a
// claim of success; every file the goal's criteria and constraints name
// exists. The second result lists the criteria found unsupported or naming a
// file that is missing.
func (d *delegation) evidenceFindings(rep *agents.Report) (findings, unmet []string) {
	g := d.goal
	if len(rep.Criteria) == len(g.Criteria) {
		for i := range rep.Criteria {
			c := &rep.Criteria[i]
			if !c.Met {
				continue
			}
			cites := d.citations(c)
			if len(cites) == 0 && d.mustCite() {
				findings = append(findings, fmt.Sprintf("criterion %d (%q) is unsupported: its evidence cites nothing the runtime can check (cite a workspace path, a tool call id or a delegation id)", i+1, g.Criteria[i]))
				unmet = append(unmet, g.Criteria[i])
				continue
			}
			reading := aboutReading(g.Criteria[i])
			supported, lied := false, false
			var unchecked []string
			for _, cite := range cites {
				switch v, why := d.resolve(cite, reading); v {
				case citeSupports:
					supported = true
				case citeFalse:
					findings = append(findings, fmt.Sprintf("criterion %d (%q) is unsupported: its evidence cites %s, but %s", i+1, g.Criteria[i], cite, why))
					lied = true
				case citeUnchecked:
					unchecked = append(unchecked, fmt.Sprintf("criterion %d (%q) is unsupported: its evidence cites %s, which the runtime cannot check: %s", i+1, g.Criteria[i], cite, why))
				}
			}
			switch {
			case lied:
				unmet = append(unmet, g.Criteria[i])
			case supported || !d.mustCite():
			case len(unchecked) > 0:
				findings = append(findings, unchecked...)
				unmet = append(unmet, g.Criteria[i])
			default:
				findings = append(findings, fmt.Sprintf("criterion %d (%q) is unsupported: what it cites was only read, and it is not about reading (cite a file the work wrote, the id of the call that made it, or a delegation id)", i+1, g.Criteria[i]))
				unmet = append(unmet, g.Criteria[i])
			}
		}
	}
	if len(d.effective) == 0 && d.mayDelegate() && !d.anyChildCompleted() {
		findings = append(findings, "none of your delegations completed, and you hold no tools of your own: nothing supports a claim of success")
	}
	if !d.noFileChecks() {
		required := d.requiredFiles()
		check := func(what string, items []string, files [][]string) {
			for i, it := range items {
				for _, f := range filesAt(files, i) {
					if why := d.exists(f); why != "" {
						findings = append(findings, fmt.Sprintf("%s %d (%q) names %s, but %s", what, i+1, it, f, why))
						if what == "criterion" && !slices.Contains(unmet, it) {
							unmet = append(unmet, it)
						}
					}
				}
			}
		}
		check("criterion", g.Criteria, required.criteria)
		check("constraint", g.Constraints, required.constraints)
	}
	return findings, unmet
}

func (d *delegation) anyChildCompleted() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.out.Children {
		if c.Status == StatusCompleted {
			return true
		}
	}
	return false
}

// noFileChecks reports whether the goal, or one it was delegated under, turns
// the named-file checks off.
func (d *delegation) noFileChecks() bool {
	for x := d; x != nil; x = x.parent {
		if x.goal.NoFileChecks {
			return true
		}
	}
	return false
}

// check runs the runtime's own checks of a report — its evidence, then the
// goal's programmatic verifiers — as one decision of the run's effects, so
// that a resumed run reads what they found from the journal rather than
// checking a workspace that has moved on since.
func (d *delegation) check(ctx context.Context, rep *agents.Report, round int) *Checks {
	dec, _ := d.run.fx.Decide(ctx, Key{Delegation: d.id, Conversation: "checks", Turn: round}, func(context.Context) (Decision, error) {
		c := &Checks{}
		c.Evidence, c.Unsupported = d.evidenceFindings(rep)
		d.runSpecs(ctx, rep, c)
		for _, v := range d.goal.Verifiers {
			u, err := v(d.goal, rep)
			if err != nil {
				c.Errors = append(c.Errors, err.Error())
			}
			c.Unmet = append(c.Unmet, u...)
		}
		return Decision{Checks: c}, nil
	})
	if dec.Checks == nil {
		return &Checks{Errors: []string{"no check answered"}} // fail closed
	}
	return dec.Checks
}

// orNil is c, or nil when it found nothing, so the journal says nothing of
// checks that passed.
func (c *Checks) orNil() *Checks {
	if c == nil || len(c.Unmet)+len(c.Errors)+len(c.Evidence)+len(c.Unsupported) == 0 {
		return nil
	}
	return c
}
