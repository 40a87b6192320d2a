package orchestrator

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/entrust-dev/entrust/agents/model"
)

// The journal writes an event as encoding/json does (with HTML escaping off),
// byte for byte, but without reflection for what most events are made of:
// their scalar fields, a model call's usage and message, a tool call's
// arguments. The fields that hold the protocol's acts (a goal, an
// acceptance, a report…) are encoded by encoding/json itself, and an event
// this encoder cannot write as encoding/json would (a time outside RFC 3339,
// a number JSON cannot hold, arguments that are not JSON) goes to
// encoding/json whole. TestEventEncoding holds the two to the same bytes,
// over every field of Event.

// appendLine appends e's line: its JSON as encoding/json writes it, and a
// newline.
func appendLine(b []byte, e *Event) ([]byte, error) {
	if out, ok := appendEvent(b, e); ok {
		return append(out, '\n'), nil
	}
	fe := fieldEncoders.Get().(*fieldEncoder)
	defer fieldEncoders.Put(fe)
	fe.buf.Reset()
	if err := fe.enc.Encode(e); err != nil {
		return b, err
	}
	return append(b, fe.buf.Bytes()...), nil
}

// appendEvent appends e as one JSON object, without a newline; ok is false
// when it must be encoded by encoding/json instead.
func appendEvent(b []byte, e *Event) (_ []byte, ok bool) {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"time":`...)
	if b, ok = appendTime(b, e.Time); !ok {
		return b, false
	}
	b = append(b, `,"run":`...)
	b = appendString(b, e.Run)
	b = append(b, `,"type":`...)
	b = appendString(b, string(e.Type))
	b = optString(b, `,"delegation":`, e.Delegation)
	b = optString(b, `,"parent":`, e.Parent)
	b = optString(b, `,"agent":`, e.Agent)
	b = optString(b, `,"conversation":`, e.Conversation)
	b = optInt(b, `,"turn":`, int64(e.Turn))
	b = optInt(b, `,"call_index":`, int64(e.CallIndex))
	b = optString(b, `,"site":`, e.Site)
	b = optString(b, `,"team_hash":`, e.TeamHash)
	if b, ok = optRaw(b, `,"config":`, e.Config); !ok {
		return b, false
	}
	b = optInt(b, `,"verifiers":`, int64(e.Verifiers))
	b = optString(b, `,"traceparent":`, e.Traceparent)
	b = optString(b, `,"goal_hash":`, e.GoalHash)
	b = optString(b, `,"key_id":`, e.KeyID)
	b = optString(b, `,"seal":`, e.Seal)
	if b, ok = optValue(b, `,"goal":`, e.Goal, e.Goal == nil); !ok {
		return b, false
	}
	b = optString(b, `,"delegator":`, e.Delegator)
	b = optInt(b, `,"depth":`, int64(e.Depth))
	if len(e.Tools) > 0 {
		b = append(b, `,"tools":[`...)
		for i, t := range e.Tools {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, t)
		}
		b = append(b, ']')
	}
	b = optString(b, `,"reassigned_from":`, e.ReassignedFrom)
	for _, f := range [...]struct {
		key  string
		v    any
		none bool
	}{
		{`,"budget":`, e.Budget, e.Budget == nil},
		{`,"supervision":`, e.Supervision, e.Supervision == nil},
	} {
		if b, ok = optValue(b, f.key, f.v, f.none); !ok {
			return b, false
		}
	}
	b = optInt(b, `,"round":`, int64(e.Round))
	if b, ok = optValue(b, `,"acceptance":`, e.Acceptance, e.Acceptance == nil); !ok {
		return b, false
	}
	if e.Aligned != nil {
		b = append(b, `,"aligned":`...)
		b = strconv.AppendBool(b, *e.Aligned)
	}
	for _, f := range [...]struct {
		key  string
		v    any
		none bool
	}{
		{`,"alignment":`, e.Alignment, e.Alignment == nil},
		{`,"decline":`, e.Decline, e.Decline == nil},
		{`,"report":`, e.Report, e.Report == nil},
		{`,"verification":`, e.Verification, e.Verification == nil},
		{`,"checks":`, e.Checks, e.Checks == nil},
	} {
		if b, ok = optValue(b, f.key, f.v, f.none); !ok {
			return b, false
		}
	}
	b = optString(b, `,"id":`, e.ID)
	for _, f := range [...]struct {
		key  string
		v    any
		none bool
	}{
		{`,"escalation":`, e.Escalation, e.Escalation == nil},
		{`,"resolution":`, e.Resolution, e.Resolution == nil},
		{`,"consultation":`, e.Consultation, e.Consultation == nil},
		{`,"progress":`, e.Progress, e.Progress == nil},
		{`,"intervention":`, e.Intervention, e.Intervention == nil},
	} {
		if b, ok = optValue(b, f.key, f.v, f.none); !ok {
			return b, false
		}
	}
	b = optString(b, `,"tool":`, e.Tool)
	b = optString(b, `,"call_id":`, e.CallID)
	if b, ok = optRaw(b, `,"arguments":`, e.Arguments); !ok {
		return b, false
	}
	b = optString(b, `,"result":`, e.Result)
	if e.IsError {
		b = append(b, `,"is_error":true`...)
	}
	b = optString(b, `,"model":`, e.Model)
	b = optString(b, `,"response_model":`, e.ResponseModel)
	b = optString(b, `,"provider":`, e.Provider)
	b = optString(b, `,"fallback":`, e.Fallback)
	b = optString(b, `,"purpose":`, string(e.Purpose))
	if e.Usage != nil {
		b = appendUsage(append(b, `,"usage":`...), e.Usage)
	}
	b = optString(b, `,"usage_replaced":`, e.UsageReplaced)
	if e.Message != nil {
		if b, ok = appendMessage(append(b, `,"message":`...), e.Message); !ok {
			return b, false
		}
	}
	if len(e.RawArguments) > 0 {
		b = append(b, `,"raw_arguments":[`...)
		for i, n := range e.RawArguments {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(n), 10)
		}
		b = append(b, ']')
	}
	if b, ok = optFloat(b, `,"latency_ms":`, e.LatencyMS); !ok {
		return b, false
	}
	b = optString(b, `,"finish_reason":`, e.FinishReason)
	b = optInt(b, `,"attempt":`, int64(e.Attempt))
	if b, ok = optFloat(b, `,"wait_ms":`, e.WaitMS); !ok {
		return b, false
	}
	b = optString(b, `,"error":`, e.Error)
	if b, ok = optValue(b, `,"compaction":`, e.Compaction, e.Compaction == nil); !ok {
		return b, false
	}
	b = optString(b, `,"violation":`, string(e.Violation))
	b = optInt(b, `,"limit":`, e.Limit)
	b = optInt(b, `,"used":`, e.Used)
	b = optString(b, `,"status":`, string(e.Status))
	b = optString(b, `,"cause":`, string(e.Cause))
	b = optString(b, `,"reason":`, e.Reason)
	if e.Total != nil {
		b = appendUsage(append(b, `,"total":`...), e.Total)
	}
	return append(b, '}'), true
}

func optString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

func optInt(b []byte, key string, n int64) []byte {
	if n == 0 {
		return b
	}
	return strconv.AppendInt(append(b, key...), n, 10)
}

func optFloat(b []byte, key string, f float64) ([]byte, bool) {
	if f == 0 {
		return b, true
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	// As encoding/json writes a float64.
	format := byte('f')
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	b = strconv.AppendFloat(append(b, key...), f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendTime writes t as time.Time's MarshalJSON does; ok is false where it
// fails (a year outside 0–9999, a zone hour outside 0–23).
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	b = append(b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	if b[n0+len("9999")] != '-' {
		return b, false
	}
	if b[len(b)-1] != 'Z' {
		c := b[len(b)-len("Z07:00")]
		if '0' <= c && c <= '9' || 10*(b[len(b)-5]-'0')+(b[len(b)-4]-'0') >= 24 {
			return b, false
		}
	}
	return append(b, '"'), true
}

// optRaw writes raw JSON compacted, as encoding/json writes a RawMessage;
// ok is false when raw is not valid JSON.
func optRaw(b []byte, key string, raw json.RawMessage) ([]byte, bool) {
	if len(raw) == 0 {
		return b, true
	}
	return appendRaw(append(b, key...), raw)
}

func appendRaw(b []byte, raw json.RawMessage) ([]byte, bool) {
	if raw == nil {
		return append(b, "null"...), true
	}
	if !json.Valid(raw) {
		return b, false
	}
	// Valid JSON: compacting is dropping the white space outside strings.
	var str jsonStrings
	start := 0
	for i, c := range raw {
		if str.outside(c) && (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			b = append(b, raw[start:i]...)
			start = i + 1
		}
	}
	return append(b, raw[start:]...), true
}

func appendUsage(b []byte, u *model.Usage) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(u.PromptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CompletionTokens), 10)
	b = optInt(b, `,"cached_tokens":`, int64(u.CachedTokens))
	return append(b, '}')
}

func appendMessage(b []byte, m *model.Message) ([]byte, bool) {
	b = append(b, `{"role":`...)
	b = appendString(b, string(m.Role))
	b = optString(b, `,"content":`, m.Content)
	if len(m.ToolCalls) > 0 {
		b = append(b, `,"tool_calls":[`...)
		for i := range m.ToolCalls {
			c := &m.ToolCalls[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendString(b, c.ID)
			b = append(b, `,"name":`...)
			b = appendString(b, c.Name)
			b = append(b, `,"arguments":`...)
			var ok bool
			if b, ok = appendRaw(b, c.Arguments); !ok {
				return b, false
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = optString(b, `,"tool_call_id":`, m.ToolCallID)
	b = optString(b, `,"name":`, m.Name)
	if m.IsError {
		b = append(b, `,"is_error":true`...)
	}
	return append(b, '}'), true
}

// optValue writes v by encoding/json unless none (a nil pointer).
func optValue(b []byte, key string, v any, none bool) ([]byte, bool) {
	if none {
		return b, true
	}
	fe := fieldEncoders.Get().(*fieldEncoder)
	defer fieldEncoders.Put(fe)
	fe.buf.Reset()
	if err := fe.enc.Encode(v); err != nil {
		return b, false
	}
	b = append(b, key...)
	return append(b, bytes.TrimSuffix(fe.buf.Bytes(), []byte("\n"))...), true
}

// fieldEncoder encodes one field's value as the journal's encoder would.
type fieldEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var fieldEncoders = sync.Pool{New: func() any {
	fe := &fieldEncoder{}
	fe.enc = json.NewEncoder(&fe.buf)
	fe.enc.SetEscapeHTML(false)
	return fe
}}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string as encoding/json does with HTML
// escaping off: control characters, quotes and backslashes escaped, invalid
// UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plain8(s[i:i+8]) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plain8 reports whether the 8 bytes of s are all ASCII that a JSON string
// holds as they are (no control character, quote or backslash): a string's
// plain runs are read eight bytes at a time.
func plain8(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	// With no byte from 0x80 up, a byte below 0x20 borrows into its high
	// bit, and a quote or a backslash becomes a zero byte, which does.
	control := (x - 0x20*ones) &^ x
	quote, backslash := x^'"'*ones, x^'\\'*ones
	zero := (quote-ones)&^quote | (backslash-ones)&^backslash
	return (x|control|zero)&highs == 0
}
