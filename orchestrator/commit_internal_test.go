package orchestrator

import "testing"

// recorder is effects that know the fate of each call (CallRecorder).
type recorder struct{ *LiveEffects }

func (recorder) RecordsCalls() bool { return true }

// The effects that commit a run's sinks answer for what they wrap: calls in
// flight go to effects that know their fate with a journal as without.
func TestCommittingRecordsCalls(t *testing.T) {
	if !recordsCalls(committing{Effects: recorder{NewLiveEffects(nil)}}) {
		t.Error("committing hides that its effects record calls")
	}
	if recordsCalls(committing{Effects: NewLiveEffects(nil)}) {
		t.Error("committing says live effects record calls")
	}
}
