package orchestrator

import "testing"

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
		// Every clause must be one of reading: a verb of any other kind,
		// listed or not, asks for more than a read (second review, finding 2).
		"Review main.go then correct the typo":                    false,
		"Examine main.go, then refactor it":                       false,
		"Review the PR and report findings at review.md":          false,
		"Summarise report.txt: notes.md holds it":                 false,
		"Summarize report.txt, notes.md":                          false,
		"Analyze sales.csv and chart it on chart.png":             false,
		"Respond to reviews":                                      false,
		"Inspect the logs and list every error":                   false,
		"main.go is reviewed and approved":                        false,
		"Review main.go to find the bug":                          false,
		"Audit the config, then tighten it":                       false,
		"Review main.go and utils.go":                             true,
		"Review the changes to main.go":                           true,
		"Read the spec before the meeting":                        true,
		"Summarize report.txt to notes.md":                        false,
		"Review main.go, utils.go and db.go":                      true,
		"Read the contract and the annex":                         true,
		"The contract is carefully inspected for risks.":          true,
		"Review the pull request for security issues":             true,
		"Read docs/guide.md.":                                     true,
		"Please proofread the essay":                              true,
		"Each chapter has been reviewed by you or your delegates": true,
		// A clause that states a result is no other thing read, even
		// after a determiner (third review, finding 3).
		"Review main.go and the tests are green":        false,
		"Read the spec and all tests pass":              false,
		"Review main.go and the build succeeds":         false,
		"Audit main.go and the bug is gone":             false,
		"Inspect config.yaml and the service runs":      false,
		"Review main.go or the tests pass":              false,
		"Read notes.md & the app deploys":               false,
		"Read the spec, and the tests pass":             false,
		"Review main.go and all pass":                   false,
		"Summarize report.txt to the board":             false,
		"Review main.go and the tests":                  true,
		"Read all the chapters and the appendix":        true,
		"Review the file notes.md and the file todo.md": true,
	} {
		if got := aboutReading(c); got != want {
			t.Errorf("aboutReading(%q) = %v, want %v", c, got, want)
		}
	}
}
