package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/mcptools"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
	"github.com/spf13/cobra"
)

// toolsOptions are "run tools"'s.
type toolsOptions struct {
	io   *iostreams
	team string
}

func newToolsCmd(io *iostreams) *cobra.Command {
	opts := &toolsOptions{io: io}
	cmd := &cobra.Command{
		Use:   "tools [flags]",
		Short: "List the tools a team can grant, with their sources",
		Long: `Lists every tool the team can grant: the built-in workspace tools and the tools of
the team file's MCP servers (named server__tool), each with where it comes from,
what the server says of it (read-only, idempotent) and the agents that hold it.
The MCP servers are started to list their tools, then stopped.`,
		Example: `  run tools
  run tools --team team.yaml`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runTools(opts) },
	}
	cmd.Flags().StringVar(&opts.team, "team", "", "team `FILE` in YAML (default: the built-in team)")
	return cmd
}

func runTools(opts *toolsOptions) error {
	team, err := loadTeam(opts.team)
	if err != nil {
		return configError(err)
	}
	dir, err := os.MkdirTemp("", "entrust-tools")
	if err != nil {
		return configError(err)
	}
	defer os.RemoveAll(dir)
	ws, err := workspace.New(dir)
	if err != nil {
		return configError(err)
	}
	defer ws.Close()
	servers, err := startServers(context.Background(), team)
	if err != nil {
		return configError(err)
	}
	defer servers.Close()

	holders := map[string][]string{}
	for _, a := range team.Agents {
		for _, t := range a.Tools {
			holders[t] = append(holders[t], a.Name)
		}
	}
	tw := tabwriter.NewWriter(opts.io.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOOL\tSOURCE\tKIND\tHINTS\tHELD BY\tDESCRIPTION")
	row := func(t agents.Tool, source string) {
		d := t.Def()
		var hints []string
		if c, ok := t.(interface{ Concurrent() bool }); ok && c.Concurrent() {
			hints = append(hints, "concurrent")
		}
		if c, ok := t.(interface{ Idempotent() bool }); ok && c.Idempotent() {
			hints = append(hints, "idempotent")
		}
		if c, ok := t.(interface{ Destructive() bool }); ok && c.Destructive() {
			hints = append(hints, "destructive")
		}
		if h, ok := t.(interface{ HintsTrusted() bool }); ok && !h.HintsTrusted() {
			hints = append(hints, "server's hints not trusted")
		}
		held := strings.Join(holders[d.Name], ", ")
		if held == "" {
			held = "-"
		}
		if len(team.Grants) > 0 && !slices.Contains(team.Grants, d.Name) {
			held += " (not granted)"
		}
		hint := strings.Join(hints, ", ")
		if hint == "" {
			hint = "-"
		}
		kind := agents.KindOf(t).String()
		if kind == agents.KindUnknown.String() {
			kind += " (its calls prove nothing)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, source, kind, hint, held, firstLine(d.Description, 70))
	}
	for _, t := range ws.Tools() {
		row(t, "built-in (workspace)")
	}
	for _, c := range servers.Conns() {
		for _, t := range c.Infos() {
			row(t, t.Source())
		}
		for _, err := range c.Skipped() {
			fmt.Fprintf(opts.io.err, "run tools: left out: %v\n", err)
		}
	}
	return tw.Flush()
}

// firstLine is s's first line, clipped to n runes.
func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// loadTeam reads the team file at path, or the built-in team.
func loadTeam(path string) (*teamfile.File, error) {
	if path == "" {
		return teamfile.Default(), nil
	}
	return teamfile.Load(path)
}

// startServers starts the team file's MCP servers; their standard error
// goes nowhere but into the errors about them.
func startServers(ctx context.Context, team *teamfile.File) (*mcptools.Servers, error) {
	specs, err := team.Servers()
	if err != nil {
		return nil, err
	}
	return mcptools.ConnectAll(ctx, specs, nil)
}

// toolRegistry is every tool a team may hold: the workspace's and the MCP
// servers'.
func toolRegistry(ws *workspace.Workspace, servers *mcptools.Servers) map[string]agents.Tool {
	tools := map[string]agents.Tool{}
	for _, t := range ws.Tools() {
		tools[t.Def().Name] = t
	}
	for _, t := range servers.Tools() {
		tools[t.Def().Name] = t
	}
	return tools
}

// serversSummary says which MCP servers run, for the banner: "" or
// " · mcp fs (14 tools), git (3 tools)".
func serversSummary(servers *mcptools.Servers) string {
	var parts []string
	for _, c := range servers.Conns() {
		parts = append(parts, fmt.Sprintf("%s (%d tools)", c.Name(), len(c.Tools())))
	}
	if len(parts) == 0 {
		return ""
	}
	return " · mcp " + strings.Join(parts, ", ")
}
