//go:build unix

package regfile

import "syscall"

// nonBlock opens a file without blocking, should it be a FIFO after all.
const nonBlock = syscall.O_NONBLOCK
