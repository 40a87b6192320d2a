package openai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/entrust-dev/entrust/agents/model"
)

// partialCall accumulates the fragments of one streamed tool call.
type partialCall struct {
	index int
	id    string
	name  string
	args  strings.Builder
}

// stream sends creq as a streamed request and merges the deltas of the first
// choice into one answer.
func (m *Model) stream(ctx context.Context, req *model.Request, creq goopenai.ChatCompletionRequest, c *capture) (*model.Response, error) {
	creq.StreamOptions = &goopenai.StreamOptions{IncludeUsage: true}
	s, err := m.client.CreateChatCompletionStream(ctx, creq)
	if err != nil {
		if perr := invalidParameters(req, err); perr != nil {
			return nil, perr
		}
		return nil, m.redact.Error(mapError(ctx, err, c))
	}
	defer s.Close()

	var (
		id, name, finish string
		content          strings.Builder
		usage            model.Usage
		calls            []*partialCall
		last             *partialCall
	)
	byIndex := map[int]*partialCall{}
	for {
		chunk, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, m.redact.Error(mapError(ctx, err, c))
		}
		if id == "" {
			id = chunk.ID
		}
		if chunk.Model != "" {
			name = chunk.Model
		}
		if chunk.Usage != nil {
			usage = fromUsage(chunk.Usage)
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 {
				continue
			}
			if d := ch.Delta.Content; d != "" {
				content.WriteString(d)
				if m.cfg.OnDelta != nil {
					// A fragment may hold only part of a secret; the
					// answer as a whole is redacted again.
					m.cfg.OnDelta(ctx, m.redact.String(d))
				}
			}
			for _, tc := range ch.Delta.ToolCalls {
				var idx int
				switch {
				case tc.Index != nil:
					idx = *tc.Index
				case last != nil && (tc.ID == "" || tc.ID == last.id):
					// A fragment without an index continues the call before.
					idx = last.index
				default:
					idx = len(calls)
					for byIndex[idx] != nil {
						idx++
					}
				}
				p := byIndex[idx]
				if p == nil {
					p = &partialCall{index: idx}
					byIndex[idx] = p
					calls = append(calls, p)
				}
				if p.id == "" {
					p.id = tc.ID
				}
				// Most servers send the name once; some repeat it whole in
				// every fragment, a few split it.
				if n := tc.Function.Name; n != "" && n != p.name {
					p.name += n
				}
				p.args.WriteString(tc.Function.Arguments)
				last = p
			}
			if ch.FinishReason != "" && ch.FinishReason != goopenai.FinishReasonNull {
				finish = string(ch.FinishReason)
			}
		}
	}
	if finish == "" {
		return nil, fmt.Errorf("openai: %w: the stream ended before a finish reason: %w", model.ErrMalformed, io.ErrUnexpectedEOF)
	}
	slices.SortStableFunc(calls, func(a, b *partialCall) int { return a.index - b.index })
	out := make([]goopenai.ToolCall, len(calls))
	for i, p := range calls {
		out[i] = goopenai.ToolCall{ID: p.id, Type: goopenai.ToolTypeFunction, Function: goopenai.FunctionCall{Name: p.name, Arguments: p.args.String()}}
	}
	return m.response(req, id, name, content.String(), out, finish, usage), nil
}
