package openaitest

import (
	"encoding/json"
	"strings"
	"testing"
)

// parseChat reads every form of content as Message.UnmarshalJSON does:
// strings with and without escapes, invalid UTF-8 replaced as encoding/json
// replaces it, null, absent, and arrays of parts.
func TestParseChatContent(t *testing.T) {
	body := `{"model":"m","messages":[
		{"role":"system","content":"plain text"},
		{"role":"user","content":"say \"hi\"\n\u00e9\\"},
		{"role":"assistant","content":null},
		{"role":"assistant"},
		{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
		{"role":"user","content":"caf` + "\xe9" + `"},
		{"role":"user","content":[{"type":"text","text":"\ud83d\ude00 \"x\""},{"type":"image_url","image_url":{"url":"u"}},{"text":"!"}]}]}`
	req, err := parseChat([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var want ChatRequest
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatal(err)
	}
	if len(req.Messages) != 7 {
		t.Fatalf("%d messages", len(req.Messages))
	}
	for i, m := range req.Messages {
		w := want.Messages[i]
		if m.Content != w.Content || m.ContentNull != w.ContentNull || m.Role != w.Role {
			t.Errorf("message %d: %+v, want %+v", i, m, w)
		}
	}
	if req.Messages[1].Content != "say \"hi\"\né\\" || req.Messages[0].Content != "plain text" || !req.Messages[3].ContentNull ||
		req.Messages[2].Content != "" || !req.Messages[2].ContentNull || req.Messages[4].Content != "ab" ||
		req.Messages[5].Content != "caf\ufffd" || req.Messages[6].Content != "😀 \"x\"!" || req.Messages[6].ContentNull {
		t.Errorf("messages %+v", req.Messages)
	}
	for _, bad := range []string{`7`, `true`, `{"text":"a"}`, `["a"]`, `[{"type":"text","text":7}]`, `[{"type":1,"text":"a"}]`} {
		body := `{"messages":[{"role":"user","content":` + bad + `}]}`
		if _, err := parseChat([]byte(body)); err == nil || !strings.Contains(err.Error(), "message content") {
			t.Errorf("content %s: err = %v", bad, err)
		}
		var m Message
		if err := json.Unmarshal([]byte(`{"role":"user","content":`+bad+`}`), &m); err == nil {
			t.Errorf("content %s accepted by Message.UnmarshalJSON", bad)
		}
	}
}
