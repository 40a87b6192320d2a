package temporal

import (
	"encoding/json"
	"slices"

	"github.com/entrust-dev/entrust/agents/model"
)

// A model may write tool call arguments that are not JSON (the runtime
// refuses them, and the model must see its own words again). A
// json.RawMessage that is not JSON cannot be encoded, so on the wire such
// arguments travel as a JSON string, and the indexes of the calls so
// packed travel along to unpack them.

// packCalls returns calls with their arguments that are not JSON as JSON
// strings, and the indexes of those calls; calls itself when none.
func packCalls(calls []model.ToolCall) ([]model.ToolCall, []int) {
	var raw []int
	for i, c := range calls {
		if !json.Valid(c.Arguments) {
			if raw == nil {
				calls = slices.Clone(calls)
			}
			b, _ := json.Marshal(string(c.Arguments))
			calls[i].Arguments = b
			raw = append(raw, i)
		}
	}
	return calls, raw
}

// unpackCalls undoes packCalls in place.
func unpackCalls(calls []model.ToolCall, raw []int) {
	for _, i := range raw {
		var s string
		if i < len(calls) && json.Unmarshal(calls[i].Arguments, &s) == nil {
			calls[i].Arguments = json.RawMessage(s)
		}
	}
}

// packRequest returns req ready for the wire, and the message and call
// indexes of the arguments packed.
func packRequest(req *model.Request) (*model.Request, [][2]int) {
	if req == nil {
		return nil, nil
	}
	var raw [][2]int
	out := req
	for i, m := range req.Messages {
		calls, r := packCalls(m.ToolCalls)
		if r == nil {
			continue
		}
		if out == req {
			cp := *req
			cp.Messages = slices.Clone(req.Messages)
			out = &cp
		}
		out.Messages[i].ToolCalls = calls
		for _, j := range r {
			raw = append(raw, [2]int{i, j})
		}
	}
	return out, raw
}

// unpackRequest undoes packRequest in place.
func unpackRequest(req *model.Request, raw [][2]int) {
	for _, r := range raw {
		if req != nil && r[0] < len(req.Messages) {
			unpackCalls(req.Messages[r[0]].ToolCalls, []int{r[1]})
		}
	}
}

// packResponse returns resp ready for the wire, and the indexes of its
// calls packed.
func packResponse(resp *model.Response) (*model.Response, []int) {
	if resp == nil {
		return nil, nil
	}
	calls, raw := packCalls(resp.Message.ToolCalls)
	if raw == nil {
		return resp, nil
	}
	cp := *resp
	cp.Message.ToolCalls = calls
	return &cp, raw
}
