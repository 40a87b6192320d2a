//go:build unix

package mcptest

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// Alive reports whether process pid runs (a zombie does not), for tests
// that check a server's process was stopped.
func Alive(pid int) bool {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		_, rest, _ := strings.Cut(string(b), ") ")
		return !strings.HasPrefix(rest, "Z")
	}
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
