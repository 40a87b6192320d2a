// Package errbody reads the error bodies of OpenAI-compatible servers into
// model.APIError: the providers' shared knowledge of that wire, kept out of
// the provider-neutral model package.
package errbody

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/entrust-dev/entrust/agents/model"
)

// Parse fills e's Type, Code and Message from an error body in any of the
// shapes OpenAI-compatible servers use: {"error":{"message","type","code"}},
// {"error":"…"}, {"message":…,"type":…,"code":…}, {"detail":…}, or plain
// text. The message is cut at MaxErrorText bytes, whatever its shape. With no
// body, the message is the status text.
func Parse(e *model.APIError, body []byte) {
	body = bytes.TrimSpace(body)
	var w struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Detail  json.RawMessage `json:"detail"`
		Type    string          `json:"type"`
		Code    any             `json:"code"`
	}
	if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &w) == nil {
		var inner struct {
			Message json.RawMessage `json:"message"`
			Type    string          `json:"type"`
			Code    any             `json:"code"`
		}
		switch {
		case len(w.Error) > 0 && w.Error[0] == '{' && json.Unmarshal(w.Error, &inner) == nil:
			e.Message, e.Type, e.Code = jsonText(inner.Message), inner.Type, codeString(inner.Code)
		case len(w.Error) > 0 && w.Error[0] == '"':
			e.Message, e.Type, e.Code = jsonText(w.Error), w.Type, codeString(w.Code)
		case len(w.Message) > 0:
			e.Message, e.Type, e.Code = jsonText(w.Message), w.Type, codeString(w.Code)
		case len(w.Detail) > 0:
			e.Message = jsonText(w.Detail)
		}
	}
	if e.Message == "" && len(body) > 0 {
		e.Message = string(body)
	}
	e.Message = model.ClipText(e.Message, model.MaxErrorText)
	if e.Message == "" && e.StatusCode != 0 {
		e.Message = http.StatusText(e.StatusCode)
	}
}

// jsonText reads a JSON string, or keeps any other JSON value as written.
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func codeString(c any) string {
	switch v := c.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(c)
}
