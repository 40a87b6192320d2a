//go:build !unix

package cli

import "io/fs"

// links is 1 where the number of a file's names is not known.
func links(fs.FileInfo) uint64 { return 1 }
