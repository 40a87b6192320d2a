package evals_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLibraryDependencies: evals is a library; the command line's terminal
// and the providers are its callers' (cmd/run's).
func TestLibraryDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"progressbar", "golang.org/x/term", "sashabaranov/go-openai", "agents/model/openai", "spf13/cobra"} {
			if strings.Contains(dep, banned) {
				t.Errorf("evals depends on %s", dep)
			}
		}
	}
}
