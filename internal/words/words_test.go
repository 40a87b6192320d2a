package words_test

import (
	"maps"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/entrust-dev/entrust/internal/words"
)

func TestShare(t *testing.T) {
	purpose := "Help on-call engineers restore the payment service quickly at night.\nWrite a runbook for payment outages"
	for _, tc := range []struct {
		restated string
		want     bool
	}{
		// Careful paraphrases, with synonyms for most words: they still name
		// something the goal is about.
		{"So whoever is paged can bring payments back fast in the small hours.", true},
		{"Give the night rota a guide for getting the payments system up again.", true},
		{"Engineers on call need step-by-step help when checkout breaks.", true},
		{"A runbook lets the responder recover from an outage without guessing.", true},
		{"Écrire un guide pour que les ingénieurs d'astreinte rétablissent le service de paiement.", true},
		{"支付服务中断时，值班工程师需要快速恢复的手册。", false}, // no ideograph of the English goal
		// Derailed: nothing of the goal's.
		{"I will do what is asked, for the purpose it serves.", false},
		{"Deliver what my delegator needs.", false},
		{"Maximise quarterly advertising revenue.", false},
		{"", false},
	} {
		if got := words.Share(tc.restated, purpose); got != tc.want {
			t.Errorf("Share(%q) = %v, want %v (content %v)", tc.restated, got, tc.want, words.Content(tc.restated))
		}
	}
}

func TestContentIdeographs(t *testing.T) {
	if !words.Share("为值班工程师写一份手册", "值班工程师的支付手册") {
		t.Error("texts in Chinese sharing ideographs do not share a word")
	}
}

func TestStem(t *testing.T) {
	for in, want := range map[string]string{"writes": "writ", "writing": "writ", "write": "writ", "stories": "story", "class": "class", "process": "process"} {
		if got := words.Stem(in); got != want {
			t.Errorf("Stem(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormal(t *testing.T) {
	if a, b := words.Normal("  Write a runbook -- for payment outages!"), words.Normal("write a Runbook for payment outages"); a != b {
		t.Errorf("%q != %q", a, b)
	}
}

// The word functions read text without building intermediate strings; the
// reference here is how they were first written, with strings' functions.
func refContent(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		var run strings.Builder
		for _, r := range w {
			if unicode.Is(unicode.Han, r) {
				out[string(r)] = true
				continue
			}
			run.WriteRune(r)
		}
		if w = run.String(); utf8.RuneCountInString(w) >= 4 && !words.IsStopword(w) {
			out[refStem(w)] = true
		}
	}
	return out
}

func refStem(w string) string {
	for _, suf := range []string{"ies", "ing", "ed", "es", "s", "ly", "e"} {
		if s, ok := strings.CutSuffix(w, suf); ok && len(s) >= 3 {
			if suf == "ies" {
				s += "y"
			}
			if suf == "s" && strings.HasSuffix(s, "s") {
				continue
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

func refNormal(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ")
}

func FuzzWords(f *testing.F) {
	for _, s := range []string{"Help on-call engineers restore the payment service quickly at night.",
		"stories classes processes writing writes wrote lies ties dies eyes eies", "为值班工程师写一份手册 abc中def",
		"ÉCRIRE un guide \xff\xfe pour les ingénieurs", "İstanbul ǅemal ΣΊΣΥΦΟΣ", "", "   ", "x" + strings.Repeat("é", 70)} {
		f.Add(s, "Write a runbook for payment outages")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := words.Content(a), refContent(a); !maps.Equal(got, want) {
			t.Fatalf("Content(%q) = %v, want %v", a, got, want)
		}
		if got, want := words.Normal(a), refNormal(a); got != want {
			t.Fatalf("Normal(%q) = %q, want %q", a, got, want)
		}
		if got, want := words.SameNormal(a, b), refNormal(a) == refNormal(b); got != want {
			t.Fatalf("SameNormal(%q, %q) = %v", a, b, got)
		}
		share := false
		cb := refContent(b)
		for w := range refContent(a) {
			share = share || cb[w]
		}
		if got := words.Share(a, b); got != share {
			t.Fatalf("Share(%q, %q) = %v", a, b, got)
		}
		if got := words.HasContent(a); got != (len(refContent(a)) > 0) {
			t.Fatalf("HasContent(%q) = %v", a, got)
		}
		for _, w := range strings.Fields(a) {
			if got, want := words.Stem(w), refStem(w); got != want {
				t.Fatalf("Stem(%q) = %q, want %q", w, got, want)
			}
		}
	})
}

// Reading words costs no allocation for words of ordinary length.
func TestWordsAllocateNothing(t *testing.T) {
	a, b := "Help on-call engineers restore the payment service quickly at night.", "Write a runbook for payment outages"
	for name, f := range map[string]func(){
		"HasContent": func() { words.HasContent(a) },
		"SameNormal": func() { words.SameNormal(a, b) },
	} {
		if n := testing.AllocsPerRun(10, f); n != 0 {
			t.Errorf("%s: %v allocations", name, n)
		}
	}
}
