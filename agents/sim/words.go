package sim

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// stopwords are common words of four letters or more that say nothing about
// what a goal is for, and the simulator's own stock phrases, so that only a
// goal's own words count when intents are compared. Read only.
var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`about above across after again against along also although among
		another anything around because been before being below between both cannot could does doing done
		down during each either else enough even ever every from further have having here however into itself
		just least less like made make makes making many more most much must need needs neither never none
		nothing often once only onto other others otherwise over perhaps please rather really same shall
		should since some something such than that their theirs them themselves then there therefore these
		they thing things this those though through thus together toward towards under until upon very want
		wants well were what whatever when whenever where whether which while whom whose will with within
		without would your yours yourself
		understand understood purpose restate restated precisely words order sure able goal goals serve
		serves served work working asked`) {
		m[w] = true
	}
	return m
}()

// meaningful returns the stems of the words of s worth comparing: four
// letters or more, not stopwords, case-insensitive.
func meaningful(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if utf8.RuneCountInString(w) < 4 || stopwords[w] {
			continue
		}
		out[stem(w)] = true
	}
	return out
}

// stem strips the commonest English suffixes, enough for "writes",
// "writing" and "written" to meet "write" often, and never below three
// letters.
func stem(w string) string {
	for _, suf := range []string{"ies", "ing", "ed", "es", "s", "ly", "e"} {
		if s, ok := strings.CutSuffix(w, suf); ok && len(s) >= 3 {
			if suf == "ies" {
				s += "y"
			}
			if suf == "s" && strings.HasSuffix(s, "s") {
				continue // "class", "process"
			}
			w = s
			if suf != "e" {
				w = strings.TrimSuffix(w, "e")
			}
			break
		}
	}
	return w
}

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
