package evals_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/entrust-dev/entrust/evals"
)

// FuzzParseScenario: any scenario file parses or fails with an error, never
// a panic.
func FuzzParseScenario(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("suites", "protocol", "*.yaml"))
	for _, p := range paths[:min(len(paths), 6)] {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("name: x\ngoal: {objective: o}\nexpect: [{status: completed}]\n"))
	f.Add([]byte("name: x\nteam: {lead: a, agents: [{name: a, role: r, model: script}]}\nscripts: {a: [{call: {name: accept_goal, args: {}}}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		evals.ParseScenario("fuzz.yaml", data)
	})
}
