// Package words compares what two texts are about, cheaply: the content
// words they share after stop words, in the languages a restatement is
// likely to use. The runtime uses it to check an acceptance's restated
// intent structurally (MAST FM-2.3, task derailment) before any judge is
// asked.
package words

import (
	"bytes"
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

// IsStopword reports whether w, lower-cased, is a stop word.
func IsStopword(w string) bool { return stopwords[w] }

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
	for c := (contentWords{s: s}); ; {
		w, ok := c.next()
		if !ok {
			return out
		}
		out[string(w)] = true
	}
}

// ContentWords returns the content words of s (see Content) in order, each
// stem once, as written but lower-cased: what s is about, in its own
// order. Words of scripts written without spaces are left out.
func ContentWords(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		st, ok := content([]byte(w))
		if !ok || unspacedIn(w) || seen[string(st)] {
			continue
		}
		seen[string(st)] = true
		out = append(out, w)
	}
	return out
}

func unspacedIn(w string) bool { return strings.ContainsFunc(w, unspaced) }

// HasContent reports whether s has a content word (see Content).
func HasContent(s string) bool {
	c := contentWords{s: s}
	_, ok := c.next()
	return ok
}

// contentWords reads the content words of s (see Content) one at a time,
// in a buffer of its own: words of up to 64 bytes cost no allocation.
type contentWords struct {
	s    string
	i    int
	buf  [64]byte
	n    int    // the bytes of the run of letters in buf
	long []byte // the run, once longer than buf
	one  [utf8.UTFMax]byte
}

// next returns the next content word, valid until the next call.
func (c *contentWords) next() ([]byte, bool) {
	for c.i < len(c.s) {
		r, size := utf8.DecodeRuneInString(c.s[c.i:])
		c.i += size
		r = unicode.ToLower(r)
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			if w, ok := content(c.take()); ok {
				return w, true
			}
		case unspaced(r):
			// An ideograph is a word of its own; the run around it
			// goes on.
			return c.one[:utf8.EncodeRune(c.one[:], r)], true
		case c.long == nil && c.n+utf8.RuneLen(r) <= len(c.buf):
			c.n += utf8.EncodeRune(c.buf[c.n:], r)
		default:
			if c.long == nil {
				c.long = append([]byte(nil), c.buf[:c.n]...)
			}
			c.long = utf8.AppendRune(c.long, r)
		}
	}
	return content(c.take())
}

// take returns the run of letters read, and starts another.
func (c *contentWords) take() []byte {
	w := c.buf[:c.n]
	if c.long != nil {
		w = c.long
	}
	c.n, c.long = 0, nil
	return w
}

// content returns the stem of the run of letters w when it is a content
// word.
func content(w []byte) ([]byte, bool) {
	if utf8.RuneCount(w) < 4 || stopwords[string(w)] {
		return nil, false
	}
	return stem(w), true
}

// Stem strips the commonest English suffixes, enough for "writes",
// "writing" and "written" to meet "write" often, never below three
// letters.
func Stem(w string) string {
	return string(stem([]byte(w)))
}

var suffixes = []string{"ies", "ing", "ed", "es", "s", "ly", "e"}

// stem is Stem of w, in w's storage.
func stem(w []byte) []byte {
	has := func(w []byte, suf string) bool { return len(w) >= len(suf) && string(w[len(w)-len(suf):]) == suf }
	for _, suf := range suffixes {
		if !has(w, suf) || len(w)-len(suf) < 3 {
			continue
		}
		s := w[:len(w)-len(suf)]
		if suf == "ies" {
			s = append(s, 'y')
		}
		if suf == "s" && has(s, "s") {
			continue // "class", "process"
		}
		w = s
		if suf != "e" && has(w, "e") {
			w = w[:len(w)-1]
		}
		break
	}
	return w
}

// Share reports whether a and b have a content word in common.
func Share(a, b string) bool {
	return ShareWith(a, Content(b))
}

// ShareWith reports whether a has a content word in cb, the Content of
// another text: Share, for a text compared with many.
func ShareWith(a string, cb map[string]bool) bool {
	for c := (contentWords{s: a}); ; {
		w, ok := c.next()
		if !ok {
			return false
		}
		if cb[string(w)] {
			return true
		}
	}
}

// Normal is s lower-cased, with every run of characters other than letters
// and digits made one space, trimmed: two texts with the same Normal say
// the same words in the same order.
func Normal(s string) string {
	return string(appendNormal(nil, s))
}

// SameNormal reports whether a and b have the same Normal, without making
// either for texts of up to 256 bytes.
func SameNormal(a, b string) bool {
	var ba, bb [256]byte
	return bytes.Equal(appendNormal(ba[:0], a), appendNormal(bb[:0], b))
}

// appendNormal appends the Normal of s to dst.
func appendNormal(dst []byte, s string) []byte {
	start, space := len(dst), false
	for _, r := range s {
		r = unicode.ToLower(r)
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			space = true
			continue
		}
		if space && len(dst) > start {
			dst = append(dst, ' ')
		}
		space = false
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// NearCopy reports whether a is b copied with at most a word or two
// changed, and nothing of a's own around it: their Normal forms (case,
// spacing and punctuation aside) are within a word-level edit distance of
// one per four words of b, two at most (so a short b must be copied
// exactly), where a word a adds costs nothing unless it is a content word
// (see Content). So a stock phrase around a copy or within it — "I
// understand the purpose: …", "In my words, …. That is why I will …" —
// does not make it a text of a's own: only what a says besides b counts.
// An empty b is copied by nothing. Texts of up to 256 bytes and 64 words
// cost no allocation.
func NearCopy(a, b string) bool {
	var ba, bb [256]byte
	na, nb := appendNormal(ba[:0], a), appendNormal(bb[:0], b)
	if len(nb) == 0 {
		return false
	}
	ca, cb := bytes.Count(na, []byte{' '})+1, bytes.Count(nb, []byte{' '})+1
	if len(na) == 0 {
		ca = 0
	}
	allowed := min(2, cb/4)
	if cb-ca > allowed {
		return false // too few words to hold the copy
	}
	if bytes.Equal(na, nb) {
		return true
	}
	var wa0, wb0 [64][2]int
	wa, wb := appendBounds(wa0[:0], na), appendBounds(wb0[:0], nb)
	// Levenshtein over words, one row at a time, where adding a word of
	// a that is no content word is free.
	var r0, r1 [65]int
	prev, cur := r0[:0], r1[:0]
	if len(wb)+1 > len(r0) {
		prev, cur = make([]int, 0, len(wb)+1), make([]int, 0, len(wb)+1)
	}
	prev, cur = prev[:len(wb)+1], cur[:len(wb)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(wa); i++ {
		x := wa[i-1]
		add := 0
		if isContent(na[x[0]:x[1]]) {
			add = 1
		}
		cur[0] = prev[0] + add
		best := cur[0]
		for j := 1; j <= len(wb); j++ {
			sub := prev[j-1]
			if y := wb[j-1]; !bytes.Equal(na[x[0]:x[1]], nb[y[0]:y[1]]) {
				sub++
			}
			cur[j] = min(sub, prev[j]+add, cur[j-1]+1)
			best = min(best, cur[j])
		}
		if best > allowed {
			return false
		}
		prev, cur = cur, prev
	}
	return prev[len(wb)] <= allowed
}

// fillerAdverbs say nothing a restatement adds of its own: "Basically, the
// goal here is simply to …". Read only.
var fillerAdverbs = map[string]bool{"basically": true, "simply": true, "actually": true, "essentially": true,
	"truly": true, "literally": true, "clearly": true, "quite": true, "exactly": true, "indeed": true,
	"certainly": true, "merely": true, "mainly": true, "honestly": true, "fundamentally": true,
	"ultimately": true, "obviously": true, "definitely": true, "absolutely": true, "generally": true,
	"overall": true, "mostly": true, "largely": true, "primarily": true, "specifically": true, "namely": true}

// Reworded reports whether a says only b's words, in any order: every
// content word of a (four letters or more, no stop word, stems compared;
// filler adverbs such as "basically" and "simply" aside) is one of b's, and
// a holds all of b's content words but one per four words of b, two at
// most. It catches what NearCopy's word order lets through ("accurate
// minutes meeting team's the keep" rewords "Keep the team's meeting minutes
// accurate"); a text with one content word of its own is no rewording. A
// text with no content word rewords nothing, nor is anything a rewording of
// one. Texts of up to 256 bytes and 64 words cost no allocation.
func Reworded(a, b string) bool {
	var ba, bb [256]byte
	na, nb := appendNormal(ba[:0], a), appendNormal(bb[:0], b)
	if len(na) == 0 || len(nb) == 0 {
		return false
	}
	var wa0, wb0 [64][2]int
	wa, wb := appendBounds(wa0[:0], na), appendBounds(wb0[:0], nb)
	// stemAt is the stem of the content word w, made in buf (stem may
	// write to its word's storage, and n is read again).
	stemAt := func(w []byte, buf *[64]byte) ([]byte, bool) {
		if len(w) > len(buf) {
			return w, utf8.RuneCount(w) >= 4 && !stopwords[string(w)]
		}
		return content(append(buf[:0], w...))
	}
	// has reports whether st is the stem of a content word of n.
	has := func(n []byte, ws [][2]int, st []byte) bool {
		var buf [64]byte
		for _, y := range ws {
			if s, ok := stemAt(n[y[0]:y[1]], &buf); ok && bytes.Equal(s, st) {
				return true
			}
		}
		return false
	}
	var buf [64]byte
	own := 0
	for _, x := range wa {
		w := na[x[0]:x[1]]
		st, ok := stemAt(w, &buf)
		if !ok || fillerAdverbs[string(w)] {
			continue
		}
		if !has(nb, wb, st) {
			return false // a word of a's own
		}
		own++
	}
	if own == 0 {
		return false
	}
	words, missing := 0, 0
	for _, y := range wb {
		st, ok := stemAt(nb[y[0]:y[1]], &buf)
		if !ok {
			continue
		}
		words++
		if !has(na, wa, st) {
			missing++
		}
	}
	return words > 0 && missing <= min(2, len(wb)/4)
}

// isContent reports whether the word w of a Normal form is a content word
// or holds one: four letters or more and no stop word, or an ideograph.
func isContent(w []byte) bool {
	if utf8.RuneCount(w) >= 4 && !stopwords[string(w)] {
		return true
	}
	for _, r := range string(w) {
		if unspaced(r) {
			return true
		}
	}
	return false
}

// appendBounds appends where each space-separated word of a Normal form n
// starts and ends.
func appendBounds(dst [][2]int, n []byte) [][2]int {
	start := 0
	for i, c := range n {
		if c == ' ' {
			dst, start = append(dst, [2]int{start, i}), i+1
		}
	}
	if start < len(n) {
		dst = append(dst, [2]int{start, len(n)})
	}
	return dst
}
