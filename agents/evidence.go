package agents

import (
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

var (
	backtickRE = regexp.MustCompile("`([^`\n]+)`")
	pathRE     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./-]*$`)
)

// isFileName reports whether tok has the shape of a file name: what the
// regular expression ^[A-Za-z0-9_][A-Za-z0-9_./-]*\.[A-Za-z][A-Za-z0-9]{0,7}$
// matches (a word or path and an extension of a letter and up to seven
// letters or digits), without running one: it is asked of every word of
// every criterion, constraint and piece of evidence.
func isFileName(tok string) bool {
	dot := strings.LastIndexByte(tok, '.')
	if dot < 1 || !pathByte(tok[0]) || tok[0] == '.' || tok[0] == '/' || tok[0] == '-' {
		return false
	}
	ext := tok[dot+1:]
	if len(ext) < 1 || len(ext) > 8 || !isLetter(ext[0]) {
		return false
	}
	for i := range len(ext) {
		if !isLetter(ext[i]) && !isDigit(ext[i]) {
			return false
		}
	}
	for i := range dot {
		if !pathByte(tok[i]) {
			return false
		}
	}
	return true
}

// pathByte reports whether c is in [A-Za-z0-9_./-].
func pathByte(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '_' || c == '.' || c == '/' || c == '-'
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// notFiles are tokens with a dot that name no file: abbreviations, and the
// endings of domain names.
var notFiles = map[string]bool{"e.g": true, "i.e": true, "etc": true, "vs": true, "a.m": true, "p.m": true}

var domainEndings = map[string]bool{"com": true, "org": true, "net": true, "edu": true, "gov": true, "io": true, "dev": true, "ai": true}

// NamedFiles returns the workspace files text names, in order and without
// repeats: each token in backticks that is a relative path (`notes.md`,
// `docs/README`), and each bare token with a file extension — a dot then a
// letter and up to seven letters or digits, as in notes.md or docs/plan.txt.
// Abbreviations (e.g., i.e.), version numbers, URLs and domain names
// (example.com) are not files; neither is a path that is absolute or leaves
// its root through "..".
func NamedFiles(text string) []string {
	var out []string
	add := func(p string) {
		p = path.Clean(p)
		if fs.ValidPath(p) && p != "." && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	plain := text
	if strings.IndexByte(text, '`') >= 0 {
		for _, m := range backtickRE.FindAllStringSubmatch(text, -1) {
			if t := strings.TrimSpace(m[1]); pathRE.MatchString(t) && !strings.HasPrefix(t, "-") {
				add(t)
			}
		}
		plain = backtickRE.ReplaceAllString(text, " ")
	}
	for tok := range strings.FieldsSeq(plain) {
		if f, ok := fileToken(tok); ok {
			add(f)
		}
	}
	return out
}

// fileToken is the file a bare word names, with its punctuation trimmed.
func fileToken(tok string) (string, bool) {
	tok = strings.TrimLeft(tok, `"'([{<*_`)
	tok = strings.TrimRight(tok, `"')]}>,;:!?.*_`)
	if !isFileName(tok) {
		return "", false
	}
	low := strings.ToLower(tok)
	ext := low[strings.LastIndexByte(low, '.')+1:]
	if notFiles[low] || (domainEndings[ext] && !strings.Contains(low, "/")) {
		return "", false
	}
	return tok, true
}

// negations are the words that make a criterion or a constraint say what
// must not be; absences are verbs that say a file is to be gone.
var (
	negations = map[string]bool{"not": true, "no": true, "never": true, "nothing": true, "none": true,
		"without": true, "avoid": true, "don't": true, "dont": true, "mustn't": true, "cannot": true, "can't": true,
		"neither": true, "nor": true, "shouldn't": true, "won't": true, "doesn't": true, "isn't": true, "aren't": true}
	// absences, before a file, say it is to be gone: "delete tmp.txt".
	absences = map[string]bool{"delete": true, "remove": true, "erase": true, "rm": true}
	// moves, before a file, say it is to be gone from where it is — the
	// work renames or moves it — up to the word that names where it goes:
	// "rename a.txt to b.txt", "move draft.md into final/".
	moves    = map[string]bool{"rename": true, "move": true, "mv": true}
	moveDest = map[string]bool{"to": true, "into": true, "as": true, "onto": true}
	// lapses, after a negation, undo it: "do not forget to write notes.md",
	// "make sure you don't skip README.md", "never omit x.md" ask for the
	// file.
	lapses = map[string]bool{"forget": true, "forgets": true, "forgetting": true, "skip": true, "skips": true, "skipping": true,
		"omit": true, "omits": true, "omitting": true, "miss": true, "misses": true, "missing": true,
		"neglect": true, "neglects": true, "neglecting": true, "fail": true, "fails": true, "failing": true,
		"forgotten": true, "skipped": true, "omitted": true, "missed": true, "neglected": true, "overlooked": true,
		"left": true}
	// goneWords, after a file and a negation ("secrets.env must not
	// exist", "… is never committed"), say it is not to be there; after a
	// file alone ("tmp.txt is removed", "… must be absent") too.
	goneWords = map[string]bool{"exist": true, "exists": true, "created": true, "written": true, "generated": true,
		"committed": true, "present": true, "appear": true, "appears": true, "added": true, "included": true,
		"touched": true, "modified": true, "changed": true, "edited": true, "opened": true, "read": true,
		"absent": true, "removed": true, "deleted": true, "gone": true, "renamed": true, "moved": true}
	// scopeEnds end what a negation governs: "no file but notes.md",
	// "nothing except notes.md", "only notes.md".
	scopeEnds = map[string]bool{"but": true, "except": true, "besides": true, "only": true, "unless": true, "other": true, "apart": true, "instead": true,
		"until": true, "till": true}
	// auxiliaries, before a negation, make a comma after it open a
	// parenthesis: "must not, under any circumstance, create secrets.env".
	auxiliaries = map[string]bool{"must": true, "should": true, "shall": true, "will": true, "would": true,
		"can": true, "could": true, "may": true, "might": true, "do": true, "does": true, "did": true,
		"is": true, "are": true, "was": true, "were": true, "be": true}
	// fillers may stand between a conjunction and the file it adds to a
	// list: "no secrets.env or any keys.pem".
	fillers = map[string]bool{"a": true, "an": true, "the": true, "any": true, "file": true, "files": true}
)

// negationWindow is how many words may stand between a negation and the file
// it governs: "must not under any circumstance create secrets.env". A comma
// ends it, unless a list of files goes on.
const negationWindow = 4

// mention is one word of a text, with the file it names if any.
type mention struct {
	word  string // lower case, punctuation trimmed
	file  string // the file it names, or ""
	stops bool   // a clause ends after it (. ; : ! ?)
	comma bool   // a comma follows it
}

// mentions splits text into words, naming the files as NamedFiles does.
func mentions(text string) []mention {
	n := 0
	for range strings.FieldsSeq(text) {
		n++ // about as many as the mentions: the slice is made once
	}
	out := make([]mention, 0, n)
	segs := []string{text}
	if strings.IndexByte(text, '`') >= 0 {
		segs = splitBackticks(text)
	}
	for i, seg := range segs {
		if i%2 == 1 { // inside backticks: one mention
			t := strings.TrimSpace(seg)
			m := mention{word: strings.ToLower(t)}
			if pathRE.MatchString(t) && !strings.HasPrefix(t, "-") {
				m.file = path.Clean(t)
			}
			out = append(out, m)
			continue
		}
		for tok := range strings.FieldsSeq(seg) {
			m := mention{stops: strings.ContainsAny(tok[len(tok)-1:], ".;:!?"), comma: strings.HasSuffix(tok, ",")}
			if f, ok := fileToken(tok); ok {
				m.file = path.Clean(f)
			}
			m.word = strings.ToLower(strings.Trim(tok, `"'()[]{}<>,;:!?.*_`+"`"))
			out = append(out, m)
		}
	}
	return out
}

// splitBackticks splits text at its backticks: odd elements were quoted.
func splitBackticks(text string) []string {
	var out []string
	rest := text
	for {
		loc := backtickRE.FindStringSubmatchIndex(rest)
		if loc == nil {
			return append(out, rest)
		}
		out = append(out, rest[:loc[0]], rest[loc[2]:loc[3]])
		rest = rest[loc[1]:]
	}
}

// RequiredFiles returns the files text names (NamedFiles) that it does not
// say must be gone: those the runtime checks exist at hand-back. A mention
// is negated by a negation shortly before it in the same clause ("must not
// create secrets.env", "no notes.md", "without out.log", "never touch
// prod.env", "never let failing tests produce out.log", and "delete
// tmp.txt"), carried through a list ("no a.env, b.env or c.pem"; a comma
// after a clause ends it: "No step may be skipped, report.md must exist")
// and through a parenthesis set off by commas right after it ("must not,
// under any circumstance, create secrets.env"), and ended by but, except,
// only, unless, until… ("no file but notes.md", "nothing except notes.md",
// "Don't stop until report.md is written"); or, after it,
// by a negation and a verb of being there ("secrets.env must not exist",
// "x.log is never committed") or by a word of being gone ("tmp.txt must be
// absent"). The file a rename or a move moves — the verb's object, right
// after it, or a list of them — is not required ("rename a.txt to b.txt",
// "move draft.md to final/draft.md" require only where it goes); a file
// named further on is ("move the paragraph in notes.md to the top" requires
// notes.md). A lapse right after a negation or its parenthesis undoes it:
// "do not forget to write notes.md", "Do not, under any circumstance,
// forget to write notes.md", "make sure you don't skip README.md", "never
// omit x.md" and "nothing is left out of report.md" require the file. A
// word elsewhere in the text negates nothing:
// "Write only notes.md" and "… but keep notes.md short" require notes.md. A
// file is left out only when every mention of it is negated.
func RequiredFiles(text string) []string {
	ms := mentions(text)
	neg := negatedMentions(ms)
	affirmed := map[string]bool{}
	for i, m := range ms {
		if m.file != "" && !neg[i] {
			affirmed[m.file] = true
		}
	}
	return slices.DeleteFunc(NamedFiles(text), func(f string) bool { return !affirmed[f] })
}

// negatedMentions says, for each of ms, whether it names a file that the
// text says must not be (see RequiredFiles).
func negatedMentions(ms []mention) []bool {
	neg := make([]bool, len(ms))
	// scope: a negation or a move governs what follows; move: a move's,
	// which governs only the file it moves (and a list of them); listed: a
	// list of files goes on; aside: inside a parenthesis set off by commas
	// right after the negation ("must not, under any circumstance,
	// create…"), which does not end the scope.
	// closed: where the parenthesis closed, for a lapse right after it.
	scope, move, listed, aside, since, negAt, closed := false, false, false, false, 0, -1, -1
	for i, m := range ms {
		switch {
		case m.file != "" && move:
			// Only the file the verb moves, or a list of them: "move
			// notes.md to …", not "move the paragraph in notes.md to …".
			neg[i] = since == 0 || listed || goneAfter(ms, i)
			if !neg[i] || (!m.comma && i+1 < len(ms) && ms[i+1].file != "") {
				scope, move = false, false // "mv a.log b.log": b.log is where it goes
			}
			since, listed = 0, false
		case m.file != "":
			neg[i] = (scope && since <= negationWindow) || goneAfter(ms, i)
			since, listed = 0, false // a list goes on: "no a.env or b.env"
		case isNegation(m.word) || absences[m.word]:
			scope, move, since, negAt = true, false, 0, i
			aside = m.comma && i > 0 && auxiliaries[ms[i-1].word] && !nextIsFile(ms, i)
		case moves[m.word]:
			scope, move, since = true, true, 0
		case scopeEnds[m.word], move && moveDest[m.word], scope && !move && lapses[m.word] && (lapseOf(ms, negAt, i) || lapseOf(ms, closed, i)):
			scope, move = false, false
		case m.word == "and" || m.word == "or" || m.word == "nor":
			if !nextIsFile(ms, i) {
				scope, move = false, false
			}
			listed = true
		case move && fillers[m.word], aside:
			// "move the file notes.md": still the verb's object; a
			// parenthesis counts no word of the window.
		default:
			since++
		}
		switch {
		case m.stops:
			scope, move, aside = false, false, false
		case !m.comma:
		case aside && i == negAt:
			// the parenthesis opens
		case aside:
			aside, closed = false, i // it closes; the negation goes on
		case !nextIsFile(ms, i) || !(m.file != "" || (m.word == "" && i > 0 && ms[i-1].file != "")):
			// A comma carries the negation on only through a list of
			// files ("no a.env, b.env"), not after a clause ("No step may
			// be skipped, report.md must exist").
			scope, move = false, false
		default:
			listed = true
		}
	}
	return neg
}

// lapseOf reports whether the lapse word at i undoes the negation at
// negAt (or the parenthesis after it that closed at negAt): it follows it
// with only "ever" or auxiliaries between ("do not forget", "don't ever
// skip", "Do not, under any circumstance, forget", "nothing is left out";
// not "never let failing tests produce out.log"). "left" is a lapse only
// before "out".
func lapseOf(ms []mention, negAt, i int) bool {
	if negAt < 0 || i <= negAt || (ms[i].word == "left" && (i+1 >= len(ms) || ms[i+1].word != "out")) {
		return false
	}
	for _, m := range ms[negAt+1 : i] {
		if m.word != "ever" && m.word != "been" && m.word != "get" && m.word != "gets" && !auxiliaries[m.word] {
			return false
		}
	}
	return true
}

func isNegation(w string) bool { return negations[w] || negations[strings.Trim(w, "'")] }

// nextIsFile reports whether the next word of ms after i, fillers aside,
// names a file: the conjunction or comma at i goes on with a list.
func nextIsFile(ms []mention, i int) bool {
	for _, m := range ms[i+1:] {
		if m.file != "" {
			return true
		}
		if !fillers[m.word] {
			return false
		}
	}
	return false
}

// goneAfter reports whether the words after the file mentioned at i, in its
// clause, say it must not be there: a negation then, at most three words on,
// a verb of being there ("must not exist", "is not to be created"), or,
// with no negation, a word of being gone ("is removed", "must be absent")
// at most three words after the file.
func goneAfter(ms []mention, i int) bool {
	if ms[i].stops {
		return false
	}
	negAt := -1
	for j := i + 1; j < len(ms) && j <= i+6; j++ {
		m := ms[j]
		if m.file != "" {
			return false
		}
		switch {
		case isNegation(m.word):
			if negAt < 0 {
				negAt = j
			}
		case goneWords[m.word]:
			switch m.word {
			case "absent", "removed", "deleted", "gone", "renamed", "moved":
				if negAt < 0 && j <= i+3 {
					return true
				}
			default:
				if negAt >= 0 && j-negAt <= 3 {
					return true
				}
			}
		}
		if m.stops || m.comma {
			return false
		}
	}
	return false
}

// Negated reports whether text holds a word of negation or restriction
// anywhere (not, no, never, nothing, none, without, avoid, except, only, but,
// nor, neither, cannot or a contraction of them).
//
// Deprecated: a word anywhere in a criterion says nothing of the file it
// names ("Write only notes.md" needs notes.md). Use RequiredFiles, which
// scopes a negation to the file it governs.
func Negated(text string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\''
	}) {
		w = strings.Trim(w, "'")
		if isNegation(w) || w == "except" || w == "only" || w == "but" {
			return true
		}
	}
	return false
}
