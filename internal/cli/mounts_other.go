//go:build !linux

package cli

// mountsUnder returns no mount points: only Linux's /proc lists them.
func mountsUnder(string) ([]string, error) { return nil, nil }
