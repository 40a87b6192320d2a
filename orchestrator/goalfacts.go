package orchestrator

import (
	"sync"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/internal/words"
)

// goalFacts are what a delegation's checks read of its goal, which never
// changes within the delegation: the files each criterion and constraint
// requires (for every report's evidence checks) and the content words of
// its purpose (for every acceptance's derailment check). Each is made once,
// on first use, and only read after, from any goroutine. A goal none of
// whose items requires a file keeps nothing for them.
type goalFacts struct {
	filesOnce sync.Once
	files     requiredFiles

	purposeOnce  sync.Once
	purposeWords map[string]bool
}

// requiredFiles are the files each criterion and constraint of a goal
// requires (agents.RequiredFiles), by index; nil when none requires one.
// Read only.
type requiredFiles struct {
	criteria, constraints [][]string
}

// requiredFiles returns the files the goal's criteria and constraints
// require, found once.
func (d *delegation) requiredFiles() *requiredFiles {
	f := &d.facts
	f.filesOnce.Do(func() {
		f.files = requiredFiles{criteria: required(d.goal.Criteria), constraints: required(d.goal.Constraints)}
	})
	return &f.files
}

// required is the files each of items requires, nil when none does.
func required(items []string) [][]string {
	var out [][]string
	for i, it := range items {
		if fs := agents.RequiredFiles(it); len(fs) > 0 {
			if out == nil {
				out = make([][]string, len(items))
			}
			out[i] = fs
		}
	}
	return out
}

// filesAt is the files item i requires, of those required found.
func filesAt(files [][]string, i int) []string {
	if files == nil {
		return nil
	}
	return files[i]
}

// purposeWords returns the content words of the goal's intent and
// objective (words.Content of purpose), found once; empty when they have
// none.
func (d *delegation) purposeWords() map[string]bool {
	f := &d.facts
	f.purposeOnce.Do(func() { f.purposeWords = words.Content(purpose(d.goal)) })
	return f.purposeWords
}

// purpose is what a restated intent is about: the goal's intent and
// objective.
func purpose(g *agents.Goal) string { return g.Intent + "\n" + g.Objective }
