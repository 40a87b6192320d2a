// Package trialfile names what a trial leaves in an eval run directory and
// derives a trial's seed: details of the evals package's on-disk layout, not
// its API.
package trialfile

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// JournalName is the file name of a trial's journal in a run directory:
// "<scenario>-<model>-<trial>.jsonl", with characters unsafe in file names
// replaced.
func JournalName(scenario, variant string, index int) string {
	return Safe(scenario) + "-" + Safe(variant) + "-" + strconv.Itoa(index) + ".jsonl"
}

// Safe replaces the characters of s that are unsafe in a file name by '_'.
func Safe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// Seed derives the seed of one trial from the run's seed, so a trial can be
// rerun alone with the same seed.
func Seed(runSeed int64, scenario, variant string, index int) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s\x00%s\x00%d", runSeed, scenario, variant, index)
	return int64(h.Sum64() & (1<<63 - 1))
}
