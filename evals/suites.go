package evals

import (
	"embed"
	"io/fs"
)

//go:embed suites/protocol/*.yaml
var builtin embed.FS

// BuiltinDir is where the built-in suite lives, in the module and in
// BuiltinFS.
const BuiltinDir = "suites/protocol"

// BuiltinFS returns the files of the built-in suite, embedded in the
// binary, under BuiltinDir.
func BuiltinFS() fs.FS { return builtin }

// Builtin returns the built-in protocol suite: a well-behaved baseline and
// a scenario for each simulator persona and each failure mode the detectors
// cover. It runs offline, with the simulator, in seconds.
func Builtin() ([]*Scenario, error) { return LoadSuiteFS(builtin, BuiltinDir) }
