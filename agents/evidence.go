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
	fileRE     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./-]*\.[A-Za-z][A-Za-z0-9]{0,7}$`)
)

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
	for _, m := range backtickRE.FindAllStringSubmatch(text, -1) {
		if t := strings.TrimSpace(m[1]); pathRE.MatchString(t) && !strings.HasPrefix(t, "-") {
			add(t)
		}
	}
	for _, tok := range strings.Fields(backtickRE.ReplaceAllString(text, " ")) {
		tok = strings.TrimLeft(tok, `"'([{<*_`)
		tok = strings.TrimRight(tok, `"')]}>,;:!?.*_`)
		if !fileRE.MatchString(tok) {
			continue
		}
		low := strings.ToLower(tok)
		ext := low[strings.LastIndexByte(low, '.')+1:]
		if notFiles[low] || (domainEndings[ext] && !strings.Contains(low, "/")) {
			continue
		}
		add(tok)
	}
	return out
}

// negations are the words that make a criterion or a constraint say what
// must not be.
var negations = map[string]bool{"not": true, "no": true, "never": true, "nothing": true, "none": true,
	"without": true, "avoid": true, "don't": true, "dont": true, "mustn't": true, "cannot": true, "can't": true,
	"neither": true, "nor": true, "except": true, "only": true, "but": true}

// Negated reports whether text says what must not be, or restricts ("no
// file but notes.md", "never touch prod.env", "only notes.md"): it holds one
// of not, no, never, nothing, none, without, avoid, except, only, but, nor,
// neither, cannot or a contraction of them. The automatic existence check of
// named files skips such a criterion or constraint: the file it names may
// rightly be absent.
func Negated(text string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\''
	}) {
		if negations[strings.Trim(w, "'")] || negations[w] {
			return true
		}
	}
	return false
}
