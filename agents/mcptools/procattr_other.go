//go:build !unix

package mcptools

import "os/exec"

func detach(*exec.Cmd) {}

func reap(int) {}
