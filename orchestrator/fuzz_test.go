package orchestrator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/entrust-dev/entrust/orchestrator"
)

// FuzzReadJournal: whatever the bytes, ReadJournal returns events or an
// error, never panics; and the events it read, written again, read back the
// same.
func FuzzReadJournal(f *testing.F) {
	f.Add([]byte(`{"seq":1,"time":"2026-01-02T03:04:05Z","run":"r","type":"run.started","agent":"lead"}` + "\n"))
	f.Add([]byte(`{"seq":2,"type":"tool.called","delegation":"d1","tool":"x","arguments":{"a":[1,{"b":null}]}}` + "\n{\"seq\":3"))
	f.Add([]byte(`{"seq":1,"type":"alignment.judged","aligned":true,"alignment":{"aligned":true,"by":"lead"}}` + "\n\n \n"))
	if b, err := os.ReadFile(filepath.Join("..", "cmd", "run", "testdata", "haiku.jsonl")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		events, _, err := orchestrator.ReadJournal(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		j := orchestrator.NewJournal(&buf)
		for _, e := range events {
			if err := j.Emit(context.Background(), e); err != nil {
				t.Fatalf("an event read back cannot be written: %v", err)
			}
		}
		again, truncated, err := orchestrator.ReadJournal(&buf)
		if err != nil || truncated || len(again) != len(events) {
			t.Fatalf("the journal written from %d events reads back as %d (truncated %v): %v", len(events), len(again), truncated, err)
		}
		for i := range events {
			a, _ := json.Marshal(events[i])
			b, _ := json.Marshal(again[i])
			if !bytes.Equal(a, b) {
				t.Fatalf("event %d changed in a round trip:\n%s\n%s", i, a, b)
			}
		}
	})
}
