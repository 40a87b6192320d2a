// Package words compares what two texts are about, cheaply: the content
// words they share after stop words, in the languages a restatement is
// likely to use. The runtime uses it to check an acceptance's restated
// intent structurally (MAST FM-2.3, task derailment) before any judge is
// asked.
package words

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// stopwords are function words of four letters or more in English,
// French, Spanish, German, Italian and Portuguese, and the stock phrases of
// a restatement ("I understand the purpose is to…"), so that only what a
// text is about counts. Read only.
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
		without would your yours yourself ourselves myself
		understand understood purpose purposes restate restated restating precisely words order sure able
		goal goals serve serves served work working asked task tasks intent intention aim aims
		avec dans pour sans sous entre comme mais donc alors aussi tout tous toute toutes cette ceux celle
		celles leur leurs nous vous elle elles être avoir fait faire sont était notre votre afin
		para como pero porque sobre entre desde hasta cuando donde este esta estos estas todo todos toda
		todas también según sino tiene hacer nuestro nuestra vuestro ellos ellas
		und oder aber nicht eine einer eines einem einen sich auch dass wenn wird werden sind haben hatte
		noch nach über unter durch gegen ohne damit diese dieser dieses alle allem aller kann muss soll
		della delle degli dello nella nelle sono essere fare questo questa quello quella anche perché
		come dove quando tutto tutti senza sulla sulle
		pelo pela pelos pelas mais esse essa isso este esta isto fazer também porque quando onde`) {
		m[w] = true
	}
	return m
}()

// unspaced reports whether r belongs to a script written without spaces
// between words, where each ideograph is taken as a word.
func unspaced(r rune) bool {
	return unicode.Is(unicode.Han, r)
}

// Content returns the stems of the content words of s: words of four
// letters or more (or single ideographs) that are not stop words,
// case-insensitive.
func Content(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		var run strings.Builder
		for _, r := range w {
			if unspaced(r) {
				out[string(r)] = true
				continue
			}
			run.WriteRune(r)
		}
		w = run.String()
		if utf8.RuneCountInString(w) < 4 || stopwords[w] {
			continue
		}
		out[Stem(w)] = true
	}
	return out
}

// Stem strips the commonest English suffixes, enough for "writes",
// "writing" and "written" to meet "write" often, never below three
// letters.
func Stem(w string) string {
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

// Share reports whether a and b have a content word in common.
func Share(a, b string) bool {
	cb := Content(b)
	for w := range Content(a) {
		if cb[w] {
			return true
		}
	}
	return false
}

// Normal is s lower-cased, with every run of characters other than letters
// and digits made one space, trimmed: two texts with the same Normal say
// the same words in the same order.
func Normal(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ")
}
