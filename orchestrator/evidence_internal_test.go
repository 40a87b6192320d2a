package orchestrator

import "testing"

// A tool is classified by whole words of its name, not by a substring: a
// read-only tool must not satisfy a "written in your subtree" claim, and
// one whose writes the runtime cannot see is neither writer nor reader.
func TestToolKindByWordOfTheName(t *testing.T) {
	for tool, want := range map[string]toolKind{
		"write_file": toolWrites, "WriteFile": toolWrites, "fs__put_object": toolWrites, "create_issue": toolWrites,
		"edit-doc": toolWrites, "fs__write_file": toolWrites, "putObject": toolWrites,
		"read_file": toolReads, "get_output": toolReads, "list_files": toolReads, "editorial_lookup": toolReads,
		"fs__read_text_file": toolReads, "search_files": toolReads,
		"compute": toolUnknown, "add_credit": toolUnknown, "input_text": toolUnknown, "put_together": toolUnknown,
		"bash": toolUnknown, "run_command": toolUnknown, "move_file": toolUnknown, "replace_in_file": toolUnknown,
		"git_commit": toolUnknown, "editorial": toolUnknown, "outputs": toolUnknown,
	} {
		if got := kindOf(tool); got != want {
			t.Errorf("kindOf(%q) = %v, want %v", tool, got, want)
		}
	}
}

// A criterion is about reading only when its verb is one of reading, it
// asks for nothing to be written and it names no file for the output: a
// noun (a summary, a review, an assessment) is no verb of reading.
func TestAboutReading(t *testing.T) {
	for c, want := range map[string]bool{
		"old.md is reviewed":                        true,
		"Read report.txt":                           true,
		"Review old.md":                             true,
		"review old.md for typos":                   true,
		"The contract is inspected for risks":       true,
		"Summarize report.txt":                      true,
		"report.txt has been audited":               true,
		"the team must review the plan":             true,
		"Write a summary of report.txt in notes.md": false,
		"Write a review of old.md in review.md":     false,
		"Add analytics to index.html":               false,
		"notes.md holds an assessment of the plan":  false,
		"the review is in review.md":                false,
		"a summary of the meeting":                  false,
		"Review old.md, findings in review.md":      false,
		"Read old.md and update notes.md":           false,
		"the minutes are written":                   false,
		"notes.md sums up the meeting":              false,
		"Read the data in data/input.csv":           true,
	} {
		if got := aboutReading(c); got != want {
			t.Errorf("aboutReading(%q) = %v, want %v", c, got, want)
		}
	}
}
