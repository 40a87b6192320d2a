package mcptools

import (
	"os/exec"
	"syscall"
)

// detach puts a stdio server in its own process group, so that the Ctrl-C
// of a terminal reaches this process, which stops the server itself; and
// has the kernel kill the server if this process dies without stopping it.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// reap kills what is left of a stopped server's process group: the
// programs it started (a package runner's child, say) that outlived it.
func reap(pid int) {
	if pid > 0 {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}
