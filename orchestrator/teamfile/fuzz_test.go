package teamfile_test

import (
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
)

// FuzzParse: any team file parses or fails with an error, never a panic; a
// file that parses builds a team or fails with an error.
func FuzzParse(f *testing.F) {
	f.Add(teamfile.DefaultYAML())
	f.Add([]byte("lead: a\nagents:\n  - name: a\n    role: leads\n    delegates_to: [b]\n  - name: b\n    role: writes\n    tools: [write_file]\n"))
	f.Add([]byte("lead: a\nagents: [{name: a, role: r, supervision: {level: high, max_revisions: 1.5}}]\n"))
	f.Add([]byte("lead: &x a\nagents: *x\n"))
	f.Add([]byte("agents:\n- name: a\n  role: r\n  budget: {steps: -1}\n  mcp_servers: [{name: s, command: [x]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := teamfile.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		tools := map[string]agents.Tool{}
		file.Build(&teamfile.BuildOptions{Tools: tools, Model: func(teamfile.AgentSpec) (model.Model, error) {
			return model.NewScripted("m"), nil
		}})
	})
}
