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
