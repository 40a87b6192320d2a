package sim

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/entrust-dev/entrust/internal/words"
)

// meaningful returns the stems of the words of s worth comparing: its
// content words (words.Content), so that the simulator's judge and the
// runtime's intent check see the same words.
func meaningful(s string) map[string]bool { return words.Content(s) }

// overlap reports whether a and b share a meaningful word.
func overlap(a, b string) bool {
	mb := meaningful(b)
	for w := range meaningful(a) {
		if mb[w] {
			return true
		}
	}
	return false
}

// hasWord reports whether s holds word as a whole word, case-insensitive.
func hasWord(s, word string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if w == word {
			return true
		}
	}
	return false
}

// slug turns s into a short file name stem: lower-case letters and digits
// joined by dashes, at most 48 bytes, cut at a dash.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	out := b.String()
	if len(out) > 48 {
		wholeWord := out[48] == '-'
		out = out[:48]
		if i := strings.LastIndexByte(out, '-'); i > 0 && !wholeWord {
			out = out[:i]
		}
	}
	if out == "" {
		return "note"
	}
	return out
}

// clip shortens s to about n bytes on one line, for quoting in arguments.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if i := strings.LastIndexByte(s[:cut], ' '); i > n/2 {
		cut = i
	}
	return s[:cut] + "…"
}

// lowerFirst lower-cases the first letter of s unless it starts an acronym.
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	if r2, _ := utf8.DecodeRuneInString(s[n:]); unicode.IsUpper(r2) {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}

// sentence trims s and its final punctuation, so it can be embedded.
func sentence(s string) string {
	return strings.TrimRight(strings.TrimSpace(s), ".!;:")
}

// gist says what s is about in fewer words than its own: its content words
// (words.ContentWords), as "x, y and z" — from the last to the first when
// reversed. It shares its words with s, as a careful restatement does,
// without copying it; "" when s has none.
func gist(s string, reversed bool) string {
	ws := words.ContentWords(s)
	if reversed {
		slices.Reverse(ws)
	}
	switch len(ws) {
	case 0:
		return ""
	case 1:
		return ws[0]
	}
	return strings.Join(ws[:len(ws)-1], ", ") + " and " + ws[len(ws)-1]
}

// restate is s in other words (gist), or s itself when it has none.
func restate(s string, reversed bool) string {
	if g := gist(s, reversed); g != "" {
		return g
	}
	return lowerFirst(s)
}
