package agents

import (
	"fmt"
	"strings"

	"github.com/invopop/jsonschema"
)

// CheckSpec names a programmatic check of a report, run by the runtime at
// hand-back from its registry: the built-in file_exists, file_matches and
// file_absent over the workspace, or a Go check registered by name
// (orchestrator.Options.Checks). A check that fails sends the report back
// like an unmet criterion; one that cannot run fails it closed.
type CheckSpec struct {
	// Kind names the check in the runtime's registry.
	Kind string `json:"kind" jsonschema:"minLength=1,description=file_exists; file_matches; file_absent; or a check the runtime registers"`
	// Path is the workspace path the file checks look at.
	Path string `json:"path,omitempty" jsonschema:"description=the workspace path a file check looks at"`
	// Pattern is the RE2 expression file_matches requires of the content.
	Pattern string `json:"pattern,omitempty" jsonschema:"description=file_matches: a regular expression the content must match"`
	// Criterion is the number (from 1) of the goal's criterion the check
	// verifies, named when it fails; 0 names the check itself.
	Criterion int `json:"criterion,omitempty" jsonschema:"minimum=0,description=the number of the criterion it verifies (from 1)"`
}

// JSONSchemaExtend bounds one check of delegate's arguments.
func (CheckSpec) JSONSchemaExtend(s *jsonschema.Schema) { bound(s) }

// String says the check in the words of ParseCheck.
func (c CheckSpec) String() string {
	switch c.Kind {
	case "file_exists":
		return "exists:" + c.Path
	case "file_absent":
		return "absent:" + c.Path
	case "file_matches":
		return "matches:" + c.Path + ":" + c.Pattern
	}
	if c.Path != "" {
		return c.Kind + ":" + c.Path
	}
	return c.Kind
}

// ParseCheck reads a check written as on the command line and in team
// files: "exists:PATH", "absent:PATH", "matches:PATH:REGEX" (the regular
// expression is everything after the second colon), or "NAME" or
// "NAME:PATH" for a check registered on the runtime. Whether a registered
// name exists is for the runtime to say.
func ParseCheck(s string) (CheckSpec, error) {
	s = strings.TrimSpace(s)
	kind, rest, _ := strings.Cut(s, ":")
	kind = strings.TrimSpace(kind)
	switch kind {
	case "":
		return CheckSpec{}, fmt.Errorf("check %q: no kind (want exists:PATH, absent:PATH, matches:PATH:REGEX or NAME[:PATH])", s)
	case "exists", "absent":
		if strings.TrimSpace(rest) == "" {
			return CheckSpec{}, fmt.Errorf("check %q: %s needs a path (%s:PATH)", s, kind, kind)
		}
		return CheckSpec{Kind: "file_" + kind, Path: strings.TrimSpace(rest)}, nil
	case "matches":
		path, re, ok := strings.Cut(rest, ":")
		if !ok || strings.TrimSpace(path) == "" || re == "" {
			return CheckSpec{}, fmt.Errorf("check %q: matches needs a path and a pattern (matches:PATH:REGEX)", s)
		}
		return CheckSpec{Kind: "file_matches", Path: strings.TrimSpace(path), Pattern: re}, nil
	}
	return CheckSpec{Kind: kind, Path: strings.TrimSpace(rest)}, nil
}
