package main

import (
	"strings"
	"testing"
)

func TestOfflineExample(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"d1 (lead ← user): completed", "d2 (writer ← lead): completed", "aligned: true (judged by lead)", "verified: accept (by lead)", "workspace: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in\n%s", want, out.String())
		}
	}
}
