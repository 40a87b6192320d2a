//go:build unix && !linux

package mcptools

import (
	"os/exec"
	"syscall"
)

// detach puts a stdio server in its own process group, so that the Ctrl-C
// of a terminal reaches this process, which stops the server itself.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
