//go:build race

package evals_test

// raceEnabled is set when the tests run with the race detector, which
// makes the 1,000-trial harness too slow to be worth its time.
const raceEnabled = true
