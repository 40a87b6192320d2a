// Command entrust-temporal runs entrust's delegation runs on Temporal: a
// development server in process (dev), worker processes (worker), and the
// submission of a goal with the live events, journal, escalations at the
// terminal and exit codes of run (run).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
)

const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// exitError ends the command with code; err, when set, is said on stderr.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// conn are the flags that say where the Temporal server is.
type conn struct {
	address, namespace, taskQueue string
}

func (c *conn) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.address, "address", "localhost:7233", "the Temporal server's frontend `HOST:PORT`")
	f.StringVar(&c.namespace, "namespace", "default", "the Temporal `NAMESPACE` (dev registers default)")
	f.StringVar(&c.taskQueue, "task-queue", "entrust", "the task `QUEUE` the workers poll")
}

func (c *conn) dial() (client.Client, error) {
	cl, err := client.Dial(client.Options{HostPort: c.address, Namespace: c.namespace, Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("connecting to Temporal at %s: %w", c.address, err)
	}
	return cl, nil
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "entrust-temporal",
		Short:         "Run entrust's delegation runs on Temporal",
		Long:          "entrust-temporal runs entrust's runs on Temporal: start a server (dev, or your own), as many workers as you like on as many machines (worker), and submit goals (run). A run survives the loss of the worker running it.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetUsageTemplate(strings.TrimRight(root.UsageTemplate(), "\n") + footerTemplate)
	root.AddCommand(newDevCmd(stdout), newWorkerCmd(stdout, stderr), newRunCmd(stdin, stdout, stderr), newFollowCmd(stdin, stdout, stderr))
	return root
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		ee = &exitError{code: exitUsage, err: err}
	}
	if ee.err != nil {
		fmt.Fprintf(stderr, "entrust-temporal: %v\n", ee.err)
	}
	return ee.code
}

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// footerTemplate ends a command's help with its "footer" annotation (exit
// codes), as run's does.
const footerTemplate = `{{with index .Annotations "footer"}}

{{.}}{{end}}
`

// quietLogger keeps the SDK's logs off the terminal.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
