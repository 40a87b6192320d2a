// Package cli holds what the command lines share (cmd/run and
// temporal/cmd/entrust-temporal): the live view of a run's events, the
// Principal at the terminal, the models of the model flags, and the text
// helpers they are drawn with. A run shows, asks and ends the same way
// whichever command runs it.
package cli
