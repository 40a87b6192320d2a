package main

import (
	"context"
	"io"

	"github.com/entrust-dev/entrust/evals"
)

// cmdEval runs "run eval SUITE… [flags]" and "run eval compare A B": the
// eval harness of package evals (see evals.Command for the flags). With no
// suite it runs the built-in protocol suite, embedded in the binary. It
// exits 1 when the expectation pass rate is under --min-pass, 2 on a usage
// or configuration error, 130 when interrupted.
func cmdEval(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return evals.Command(ctx, args, stdin, stdout, stderr)
}
