package cli

import (
	"reflect"
	"testing"
	"time"
)

// The goal's flags go into run.started's configuration and come back out of
// it as they were (run resume reads them back).
func TestGoalConfigRoundTrip(t *testing.T) {
	g := GoalFlags{Criteria: StringList{"a"}, Constraints: StringList{"b"}, Verify: StringList{"exists:x.md"}, NoFileChecks: true,
		Steps: 7, Tokens: 9000, Timeout: 90 * time.Second}
	back, err := g.Config().Flags()
	if err != nil || !reflect.DeepEqual(back, g) {
		t.Errorf("%+v, %v; want %+v", back, err, g)
	}
	if _, err := (GoalConfig{Timeout: "soon"}).Flags(); err == nil {
		t.Error("a timeout that is no duration was read")
	}
	if _, err := (&GoalFlags{Verify: StringList{"sometimes:x"}}).Goal("o"); err == nil {
		t.Error("a --verify of no known check made a goal")
	}
	if _, err := (&GoalFlags{Tokens: -1}).Goal("o"); err == nil {
		t.Error("negative tokens made a goal")
	}
}
