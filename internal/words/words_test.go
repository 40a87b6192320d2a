package words_test

import (
	"testing"

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
