package teamfile_test

import (
	"fmt"
	"log"
	"os"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
)

func ExampleParse() {
	src := []byte(`lead: lead
agents:
  - name: lead
    role: Leads the work and delegates it.
    model: gpt-4o-mini
    delegates_to: [worker]
  - name: worker
    role: Writes short notes in the workspace.
    tools: [write_file]
`)
	f, err := teamfile.Parse("team.yaml", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range f.Agents {
		fmt.Println(a.Name, a.DelegatesTo, a.Tools)
	}

	// A typo is reported with the file, the line and the field.
	_, err = teamfile.Parse("team.yaml", []byte(`lead: lead
agents:
  - name: lead
    delegates_to: [wrker]
  - name: worker
`))
	fmt.Println(err)
	// Output:
	// lead [worker] []
	// worker [] [write_file]
	// team.yaml:4: agents[0].delegates_to: unknown agent "wrker" (did you mean "worker"?)
}

func ExampleFile_Build() {
	dir, err := os.MkdirTemp("", "workspace")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ws, err := workspace.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer ws.Close()
	tools := map[string]agents.Tool{}
	for _, t := range ws.Tools() {
		tools[t.Def().Name] = t
	}

	team, err := teamfile.Default().Build(&teamfile.BuildOptions{
		// A real program returns an openai.Model here, or the offline
		// simulator (agents/sim).
		Model: func(spec teamfile.AgentSpec) (model.Model, error) {
			return model.NewScripted(spec.Name), nil
		},
		Tools: tools,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range team.Members {
		fmt.Println(m.Agent.Name, len(m.Agent.Tools), m.DelegatesTo, m.Consults)
	}
	// Output:
	// lead 0 [writer] [reviewer]
	// writer 3 [] []
	// reviewer 0 [] []
}
