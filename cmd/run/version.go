package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCmd(io *iostreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of run",
		Long: `Prints the module version of run and the version-control revision it was
built from, as the Go toolchain recorded them in the binary (the same as
run --version).`,
		Example: `  run version`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(io.out, "run %s\n", versionString())
			return err
		},
	}
}

// versionString is the module version, the VCS revision and time, and the
// Go version, from the build information in the binary.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown: built without module support) " + runtime.Version()
	}
	return formatVersion(bi)
}

func formatVersion(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " (" + rev + modified
		if at != "" {
			v += " " + at
		}
		v += ")"
	}
	return v + " " + bi.GoVersion
}
