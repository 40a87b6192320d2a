package main

import (
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
}

func newTrustCmd(io *iostreams) *cobra.Command {
	opts := &trustOptions{io: io}
	cmd := &cobra.Command{
		Use:   "trust [flags]",
		Short: "Print the trust ledger",
		Long: `Prints each agent's trust: its supervision level, score (mean ± sd) and track
record, one agent a row.`,
		Example: `  run trust
  run trust --trust team-a/trust.json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runTrust(opts) },
	}
	cmd.Flags().StringVar(&opts.path, "trust", filepath.Join("runs", "trust.json"), "trust ledger `FILE`")
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
