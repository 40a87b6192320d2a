package openaitest

import (
	"encoding/json"
	"testing"
)

// parseChat reads every form of content as Message.UnmarshalJSON does, its
// fast path (a string without escapes) included.
func TestParseChatContent(t *testing.T) {
	body := `{"model":"m","messages":[
		{"role":"system","content":"plain text"},
		{"role":"user","content":"say \"hi\"\n\u00e9\\"},
		{"role":"assistant","content":null},
		{"role":"assistant"},
		{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
		{"role":"user","content":"caf` + "\xe9" + `"}]}`
	req, err := parseChat([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var want ChatRequest
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatal(err)
	}
	if len(req.Messages) != 6 {
		t.Fatalf("%d messages", len(req.Messages))
	}
	for i, m := range req.Messages {
		w := want.Messages[i]
		if m.Content != w.Content || m.ContentNull != w.ContentNull || m.Role != w.Role {
			t.Errorf("message %d: %+v, want %+v", i, m, w)
		}
	}
	if req.Messages[1].Content != "say \"hi\"\né\\" || req.Messages[0].Content != "plain text" || !req.Messages[3].ContentNull {
		t.Errorf("messages %+v", req.Messages)
	}
	if _, err := parseChat([]byte(`{"messages":[{"role":"user","content":7}]}`)); err == nil {
		t.Error("a number as content was accepted")
	}
}
