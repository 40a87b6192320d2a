package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/entrust-dev/entrust/orchestrator/trust"
	"github.com/spf13/cobra"
)

// trustOptions are "run trust"'s.
type trustOptions struct {
	io   *iostreams
	path string
	json bool
}

func newTrustCmd(io *iostreams) *cobra.Command {
	opts := &trustOptions{io: io}
	cmd := &cobra.Command{
		Use:   "trust [flags]",
		Short: "Print the trust ledger",
		Long: `Prints each agent's trust: its supervision level, score (mean ± sd) and track
record, one agent a row.`,
		Example: `  run trust
  run trust --trust team-a/trust.json
  run trust --json | jq '.[] | select(.level == "strict")'`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runTrust(opts) },
	}
	cmd.Flags().StringVar(&opts.path, "trust", filepath.Join("runs", "trust.json"), "trust ledger `FILE`")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the records as a JSON array, each with its level and score")
	return cmd
}

// runTrust prints the ledger at opts.path as a table.
func runTrust(opts *trustOptions) error {
	stdout := opts.io.out
	l, err := trust.Open(opts.path)
	if err != nil {
		return configError(err)
	}
	recs := l.Records()
	if opts.json {
		type row struct {
			trust.Record
			Level   string  `json:"level"`
			Score   float64 `json:"score"`
			ScoreSD float64 `json:"score_sd"`
		}
		rows := make([]row, 0, len(recs))
		for _, r := range recs {
			mean, sd := r.Score()
			rows = append(rows, row{Record: r, Level: string(l.SupervisionFor(r.Agent).Level), Score: mean, ScoreSD: sd})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if len(recs) == 0 {
		fmt.Fprintf(stdout, "no trust records in %s\n", opts.path)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tMODEL\tLEVEL\tTRUST\tDELEG\tALIGNED@1\tREACCEPT\tDECLINED\tVIOLATIONS\tESCALATIONS\tVERIFIED\tREJECTED\tFAILED\tRUNS\tUPDATED")
	for _, r := range recs {
		mean, sd := r.Score()
		model := r.Model
		if model == "" {
			model = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f±%.2f\t%d\t%d\t%d\t%d\t%d\t%d (%d helped)\t%d\t%d\t%d\t%d\t%s\n",
			r.Agent, model, l.SupervisionForModel(r.Agent, r.Model).Level, mean, sd, r.Delegations, r.AlignedFirstTry, r.Reacceptances,
			r.Declines, r.Violations, r.Escalations, r.HelpfulEscalations, r.VerifiedCompletions, r.RejectedReports,
			r.Failures, r.Runs, r.Updated.Local().Format("2006-01-02 15:04"))
	}
	if err := tw.Flush(); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	return nil
}
