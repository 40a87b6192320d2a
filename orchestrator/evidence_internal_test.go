package orchestrator

import "testing"

// A tool counts as writing files by a word of its name, not by a substring:
// a read-only tool must not satisfy a "written in your subtree" claim.
func TestWritesByWordOfTheName(t *testing.T) {
	for tool, want := range map[string]bool{
		"write_file": true, "WriteFile": true, "fs__put_object": true, "create_issue": true, "edit-doc": true,
		"read_file": false, "get_output": false, "compute": false, "add_credit": false, "list_files": false, "input_text": false,
	} {
		if got := writes(tool); got != want {
			t.Errorf("writes(%q) = %v, want %v", tool, got, want)
		}
	}
}
