package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/entrust-dev/entrust/orchestrator/trust"
)

// cmdTrust is `run trust [--trust FILE]`: it prints the trust ledger as a
// table, one agent a row, with its level, score and track record.
func cmdTrust(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("trust", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("trust", filepath.Join("runs", "trust.json"), "trust ledger `file`")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: run trust [--trust FILE]\n\nPrints each agent's trust: its supervision level, score (mean ± sd) and track record.")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "run trust: unexpected arguments %q\n", pos)
		return 2
	}
	l, err := trust.Open(*path)
	if err != nil {
		fmt.Fprintln(stderr, "run trust:", err)
		return 2
	}
	recs := l.Records()
	if len(recs) == 0 {
		fmt.Fprintf(stdout, "no trust records in %s\n", *path)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tLEVEL\tTRUST\tDELEG\tALIGNED@1\tREACCEPT\tDECLINED\tVIOLATIONS\tESCALATIONS\tVERIFIED\tREJECTED\tFAILED\tRUNS\tUPDATED")
	for _, r := range recs {
		mean, sd := r.Score()
		fmt.Fprintf(tw, "%s\t%s\t%.2f±%.2f\t%d\t%d\t%d\t%d\t%d\t%d (%d helped)\t%d\t%d\t%d\t%d\t%s\n",
			r.Agent, l.SupervisionFor(r.Agent).Level, mean, sd, r.Delegations, r.AlignedFirstTry, r.Reacceptances,
			r.Declines, r.Violations, r.Escalations, r.HelpfulEscalations, r.VerifiedCompletions, r.RejectedReports,
			r.Failures, r.Runs, r.Updated.Local().Format("2006-01-02 15:04"))
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(stderr, "run trust:", err)
		return 1
	}
	return 0
}
