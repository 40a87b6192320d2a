package serve_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/a2aproject/a2a-go/a2a"
	"github.com/a2aproject/a2a-go/a2aclient"
	"github.com/a2aproject/a2a-go/a2aclient/agentcard"
	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/serve"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// runner runs each goal on a one-agent team played by the offline
// simulator, with its journal and workspace under dir.
func runner(dir string) serve.Runner {
	return func(ctx context.Context, req *serve.Request) (*serve.Result, error) {
		ws, err := workspace.New(filepath.Join(dir, "workspace", req.ID))
		if err != nil {
			return nil, err
		}
		defer ws.Close()
		team := orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
			{Agent: &agents.Agent{Name: "lead", Role: "Writes short texts.", Model: sim.New("sim", nil), Tools: ws.Tools()}},
		}}
		path := filepath.Join(dir, "runs", req.ID+".jsonl")
		journal, err := orchestrator.CreateJournal(path)
		if err != nil {
			return nil, err
		}
		defer journal.Close()
		req.SetJournal(path) // a caller that fell behind is pointed to it
		sinks := []orchestrator.Sink{journal}
		if req.Sink != nil {
			sinks = append(sinks, req.Sink) // progress for the caller
		}
		rt, err := orchestrator.New(team, &orchestrator.Options{Sinks: sinks, Principal: req.Principal})
		if err != nil {
			return nil, err
		}
		out, _ := rt.Run(ctx, req.Goal) // a declined or failed goal is an outcome, not an error
		return &serve.Result{Outcome: out, Journal: path}, nil
	}
}

// A team served as the MCP tool run_goal, called by an MCP client.
func ExampleNewMCPServer() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "serve-mcp")
	defer os.RemoveAll(dir)

	s := serve.NewMCPServer(runner(dir), nil)
	defer s.Close()
	clientT, serverT := mcp.NewInMemoryTransports() // or s.Run(ctx, &mcp.StdioTransport{})
	if _, err := s.Connect(ctx, serverT, nil); err != nil {
		log.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "client"}, nil).Connect(ctx, clientT, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cs.Close()

	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: serve.ToolRunGoal, Arguments: map[string]any{
		"goal": "Write a haiku about delegation", "criteria": []string{"a haiku is in the workspace"},
	}})
	if err != nil {
		log.Fatal(err)
	}
	out := res.StructuredContent.(map[string]any)
	fmt.Println(out["status"], len(out["criteria"].([]any)))
	// Output: completed 1
}

// A team served as an A2A agent, called by a2a-go's client.
func ExampleNewA2AServer() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "serve-a2a")
	defer os.RemoveAll(dir)

	ts := httptest.NewUnstartedServer(nil)
	s := serve.NewA2AServer(runner(dir), &serve.A2AOptions{Description: "Writes short texts.", URL: "http://" + ts.Listener.Addr().String() + "/"})
	defer s.Close()
	ts.Config.Handler = s
	ts.Start()
	defer ts.Close()

	card, err := agentcard.DefaultResolver.Resolve(ctx, ts.URL)
	if err != nil {
		log.Fatal(err)
	}
	client, err := a2aclient.NewFromCard(ctx, card)
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.SendMessage(ctx, &a2a.MessageSendParams{Message: a2a.NewMessage(a2a.MessageRoleUser,
		a2a.TextPart{Text: "Write a haiku about delegation"})})
	if err != nil {
		log.Fatal(err)
	}
	task := res.(*a2a.Task)
	fmt.Println(card.Description, task.Status.State, len(task.Artifacts))
	// Output: Writes short texts. completed 1
}
