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

// refNearCopy is NearCopy written plainly, on strings: a word of a that is
// no content word is added for free.
func refNearCopy(a, b string) bool {
	wa, wb := strings.Fields(refNormal(a)), strings.Fields(refNormal(b))
	if len(wb) == 0 {
		return false
	}
	allowed := min(2, len(wb)/4)
	if len(wb)-len(wa) > allowed {
		return false
	}
	prev, cur := make([]int, len(wb)+1), make([]int, len(wb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(wa); i++ {
		add := 0
		if len(refContent(wa[i-1])) > 0 {
			add = 1
		}
		cur[0] = prev[0] + add
		for j := 1; j <= len(wb); j++ {
			sub := prev[j-1]
			if wa[i-1] != wb[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+add, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(wb)] <= allowed
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
		if got, want := words.NearCopy(a, b), refNearCopy(a, b); got != want {
			t.Fatalf("NearCopy(%q, %q) = %v", a, b, got)
		}
		if got, want := words.NearCopy(a, a), refNormal(a) != ""; got != want {
			t.Fatalf("NearCopy(%q, itself) = %v", a, got)
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
		"NearCopy":   func() { words.NearCopy(a, b) },
		"NearCopy of a near copy": func() {
			words.NearCopy("I help on-call engineers restore the payment service quickly at night", a)
		},
		"Reworded": func() {
			words.Reworded("Basically, the goal here is simply to help on-call engineers restore the payment service quickly at night.", a)
		},
		"NearCopy in a stock phrase": func() {
			words.NearCopy("I understand the purpose: help on-call engineers restore the payment service quickly at night. That is why I will act.", a)
		},
	} {
		if n := testing.AllocsPerRun(10, f); n != 0 {
			t.Errorf("%s: %v allocations", name, n)
		}
	}
}

// A restatement that only reorders the goal's words, or pads them with
// filler adverbs, rewords it; one word of the agent's own makes it no
// rewording (third review, finding 9).
func TestReworded(t *testing.T) {
	intent := "Keep the team's meeting minutes accurate"
	for _, tc := range []struct {
		a    string
		want bool
	}{
		{"Basically, the goal here is simply to keep the team's meeting minutes accurate", true},
		{"accurate minutes meeting team's the keep", true},
		{"The team's meeting minutes: keep them accurate.", true},
		{"Keep the team's minutes accurate", true},
		{"Whoever missed a meeting can trust the minutes to say what was decided.", false},
		{"The minutes should record decisions faithfully so the team can rely on them.", false},
		{"Keep the team's meeting minutes accurate, so nobody relitigates settled decisions.", false},
		{"accurate", false},
		{"", false},
		{"the goal is to do it", false},
	} {
		if got := words.Reworded(tc.a, intent); got != tc.want {
			t.Errorf("Reworded(%q) = %v, want %v", tc.a, got, tc.want)
		}
	}
}

func TestNearCopy(t *testing.T) {
	intent := "Help on-call engineers restore the payment service quickly at night."
	for _, tc := range []struct {
		a    string
		want bool
	}{
		{"Help on-call engineers restore the payment service quickly at night.", true},
		{"help ON-CALL engineers: restore the payment service, quickly, at night!!", true},
		{"  Help on-call   engineers restore the payment service quickly at night ", true},
		{"I help on-call engineers restore the payment service quickly at night.", true},
		{"To help on-call engineers restore the payment service very quickly at night.", true},
		{"Help on-call engineers restore the payment service at night.", true},
		// Careful restatements, which reuse words of the goal but are the
		// agent's own.
		{"So whoever is paged can bring payments back fast in the small hours.", false},
		{"Help the on-call engineers bring the payment service back quickly when it fails at night.", false},
		{"", false},
		// A stock phrase around a copy is nothing of its own: it is still
		// a copy (the simulator's old restatement, and a real model's).
		{"I understand the purpose: help on-call engineers restore the payment service quickly at night.", true},
		{"I understand the purpose: help on-call engineers restore the payment service quickly at night. That is why I will write a runbook.", true},
		{"To restate it precisely, the purpose is: Help on-call engineers restore the payment service quickly at night. The work that serves it: write a runbook.", true},
		{"In my own words, the goal is to help on-call engineers restore the payment service quickly at night.", true},
		{"My understanding is that we must help on-call engineers restore the payment service quickly at night, as asked.", true},
		// What the agent adds of its own makes it no copy.
		{"Help on-call engineers restore the payment service quickly at night, so that customers can keep paying and nobody waits for morning.", false},
		{"I understand the purpose: whoever is paged at night must bring the payment service back fast, without waking the whole team.", false},
	} {
		if got := words.NearCopy(tc.a, intent); got != tc.want {
			t.Errorf("NearCopy(%q) = %v, want %v", tc.a, got, tc.want)
		}
	}
	// A short text must be copied exactly: "Fix the login bug" is not a copy of "Fix bug".
	if words.NearCopy("Fix the login bug", "Fix bug") || !words.NearCopy("fix bug.", "Fix bug") {
		t.Error("short texts")
	}
}
