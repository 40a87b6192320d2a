package agents_test

import (
	"slices"
	"testing"

	"github.com/entrust-dev/entrust/agents"
)

func TestNamedFiles(t *testing.T) {
	cases := map[string][]string{
		"notes.md sums up the meeting":                        {"notes.md"},
		"Write `notes.md` and docs/plan.txt.":                 {"notes.md", "docs/plan.txt"},
		"the file (report.json), then report.json again":      {"report.json"},
		"see `Makefile` and `make test`":                      {"Makefile"},
		"e.g. a note, i.e. short; version 1.2.3 or v2.0":      nil,
		"see https://example.com/x and example.org":           nil,
		"a summary of ../secret.txt or /etc/passwd.conf":      nil,
		"Write a haiku about delegation":                      nil,
		"haiku.txt holds a three-line haiku.":                 {"haiku.txt"},
		"write nothing but haiku.txt":                         {"haiku.txt"},
		"`--verify` is a flag, `a b.txt` has a space":         nil,
		"the setup guide in docs/setup.md, not in README.md.": {"docs/setup.md", "README.md"},
	}
	for text, want := range cases {
		if got := agents.NamedFiles(text); !slices.Equal(got, want) {
			t.Errorf("NamedFiles(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestNegated(t *testing.T) {
	for text, want := range map[string]bool{
		"notes.md exists":             false,
		"write nothing but haiku.txt": true,
		"never touch prod.env":        true,
		"don't edit config.yaml":      true,
		"no secrets in notes.md":      true,
		"notes.md is written":         false,
		"notes.md covers the notice":  false,
	} {
		if got := agents.Negated(text); got != want {
			t.Errorf("Negated(%q) = %v, want %v", text, got, want)
		}
	}
}

// A negation counts for the file it governs, not for every file of the
// criterion: real criteria and constraints, each with the files the
// runtime must find at hand-back.
func TestRequiredFiles(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		// A negation whose scope is unclear leaves the file required (third
		// review, finding 6).
		{"Do not, under any circumstance, forget to write notes.md", []string{"notes.md"}},
		{"No step may be skipped, report.md must exist", []string{"report.md"}},
		{"Don't stop until report.md is written", []string{"report.md"}},
		{"Make sure nothing is left out of report.md", []string{"report.md"}},
		{"No section may be omitted from report.md", []string{"report.md"}},
		{"no `a.env`, `b.env` or c.pem", []string{}},
		{"Never leave secrets.env behind; do not forget notes.md", []string{"notes.md"}},
		// A word elsewhere negates nothing.
		{"Write only notes.md", []string{"notes.md"}},
		{"only notes.md is changed", []string{"notes.md"}},
		{"The summary is in notes.md but kept under 200 words", []string{"notes.md"}},
		{"Summarise the notice in notes.md, but keep notes.md short", []string{"notes.md"}},
		{"notes.md is not empty", []string{"notes.md"}},
		{"notes.md does not exceed 200 words", []string{"notes.md"}},
		{"report.md has no TODO left in it", []string{"report.md"}},
		{"Do not use the network. Write the answer to answer.txt", []string{"answer.txt"}},
		{"do not create secrets.env and write notes.md", []string{"notes.md"}},
		{"write nothing but haiku.txt", []string{"haiku.txt"}},
		{"no file except `docs/plan.md` changes", []string{"docs/plan.md"}},
		{"never touch prod.env; the plan goes to plan.txt", []string{"plan.txt"}},
		{"The tests in main_test.go pass and nothing else is needed", []string{"main_test.go"}},
		{"notes.md exists", []string{"notes.md"}},
		// The negation governs the file.
		{"must not create secrets.env", nil},
		{"no notes.md", nil},
		{"without out.log", nil},
		{"Never touch prod.env", nil},
		{"don't edit config.yaml", nil},
		{"must not under any circumstance create secrets.env", nil},
		{"Do not use the network, write notes.md", []string{"notes.md"}},
		{"no secrets.env, id_rsa.pem or .env.local", nil},
		{"neither a.env nor b.env is created", nil},
		{"secrets.env must not exist", nil},
		{"debug.log is never committed", nil},
		{"tmp.txt must be absent when done", nil},
		{"Delete scratch.txt", nil},
		{"do not write secrets.env; write notes.md", []string{"notes.md"}},
		{"notes.md, and no draft.md", []string{"notes.md"}},
		// The source of a rename or a move is gone at the end; where it goes is not.
		{"Rename a.txt to b.txt", []string{"b.txt"}},
		{"Move draft.md to final/draft.md", []string{"final/draft.md"}},
		{"mv old.log into archive/old.log", []string{"archive/old.log"}},
		{"a.txt is renamed to b.txt", []string{"b.txt"}},
		{"draft.md is moved to final/draft.md", []string{"final/draft.md"}},
		// A lapse after a negation undoes it: the file is asked for.
		{"Do not forget to write notes.md", []string{"notes.md"}},
		{"Make sure you don't skip README.md", []string{"README.md"}},
		{"never omit CHANGELOG.md", []string{"CHANGELOG.md"}},
		{"do not fail to update notes.md", []string{"notes.md"}},
		{"must not create secrets.env; do not forget notes.md", []string{"notes.md"}},
		// Only the file a move moves is gone (second review, finding 3).
		{"Move the paragraph in notes.md to the top", []string{"notes.md"}},
		{"Rename the title of notes.md to Final", []string{"notes.md"}},
		{"Move the file draft.md to final/draft.md", []string{"final/draft.md"}},
		{"Move a.md and b.md to archive/a.md", []string{"archive/a.md"}},
		{"Move a.md, b.md and c.md into old/", nil},
		{"mv old.log archive/old.log", []string{"archive/old.log"}},
		// A lapse undoes a negation only right after it.
		{"Never let failing tests produce out.log", nil},
		{"do not ever forget notes.md", []string{"notes.md"}},
		// A parenthesis after the negation does not end it.
		{"must not, under any circumstance, create secrets.env", nil},
		{"You should never, even when asked, commit prod.env", nil},
		{"Do not use the network, write notes.md", []string{"notes.md"}},
		{"No, write notes.md", []string{"notes.md"}},
		// A file named twice is required if one mention is not negated.
		{"write notes.md; notes.md must not be read by others", []string{"notes.md"}},
	} {
		if got := agents.RequiredFiles(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("RequiredFiles(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestParseCheck(t *testing.T) {
	for s, want := range map[string]agents.CheckSpec{
		"exists:notes.md":          {Kind: "file_exists", Path: "notes.md"},
		"absent: secrets.env":      {Kind: "file_absent", Path: "secrets.env"},
		"matches:notes.md:^# a:b$": {Kind: "file_matches", Path: "notes.md", Pattern: "^# a:b$"},
		"word_count":               {Kind: "word_count"},
		"word_count:notes.md":      {Kind: "word_count", Path: "notes.md"},
	} {
		got, err := agents.ParseCheck(s)
		if err != nil || got != want {
			t.Errorf("ParseCheck(%q) = %+v, %v; want %+v", s, got, err, want)
		}
		if back, _ := agents.ParseCheck(got.String()); back != got {
			t.Errorf("%q does not round-trip: %q", s, got.String())
		}
	}
	for _, s := range []string{"", "exists", "exists:", "matches:notes.md", "matches::x", ":x"} {
		if _, err := agents.ParseCheck(s); err == nil {
			t.Errorf("ParseCheck(%q) succeeded", s)
		}
	}
}
