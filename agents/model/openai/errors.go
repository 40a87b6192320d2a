package openai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/internal/errbody"
)

// capture holds what go-openai does not tell about an answer: its status and
// headers. One is made per call and carried by the request's context, so
// concurrent calls never share one.
type capture struct {
	status int
	header http.Header
}

type captureKey struct{}

// captureContext carries a call's capture under captureKey: one allocation
// where context.WithValue and a separate capture would take two.
type captureContext struct {
	context.Context
	capture capture
}

// Value returns the capture for captureKey and defers to the parent
// otherwise.
func (c *captureContext) Value(key any) any {
	if key == (captureKey{}) {
		return &c.capture
	}
	return c.Context.Value(key)
}

// capturingDoer records the status and headers of each answer in the capture
// of the request's context, and bounds its body: an error body is cut at
// maxErrorBody (enough to read its message), any other body fails past limit.
type capturingDoer struct {
	c     *http.Client
	limit int64
}

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 64 << 10

// Do sends req and records the status and headers of the answer.
func (d capturingDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.c.Do(req)
	if err != nil {
		return resp, err
	}
	if c, ok := req.Context().Value(captureKey{}).(*capture); ok {
		c.status, c.header = resp.StatusCode, resp.Header
	}
	if resp.StatusCode >= 400 {
		resp.Body = readCloser{io.LimitReader(resp.Body, maxErrorBody), resp.Body}
	} else {
		resp.Body = readCloser{&capReader{r: resp.Body, left: d.limit}, resp.Body}
	}
	return resp, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// capReader reads at most left bytes, then fails with model.ErrTooLarge.
type capReader struct {
	r    io.Reader
	left int64
	n    int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// Whatever follows the bound is one byte too many.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("openai: %w: the answer exceeds %d bytes", model.ErrTooLarge, c.n)
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	c.n += int64(n)
	return n, err
}

// mapError turns go-openai's errors into entrust's: error answers into a
// *model.APIError, unreadable answers into errors matching
// model.ErrMalformed; transport failures and cancellation are wrapped as is.
func mapError(ctx context.Context, err error, c *capture) error {
	var (
		oe *goopenai.APIError
		re *goopenai.RequestError
	)
	switch {
	case errors.Is(err, model.ErrTooLarge):
		return err
	case errors.As(err, &re):
		// Checked first: go-openai wraps a half-decoded, empty APIError in
		// the RequestError of an error body it could not read.
		ae := &model.APIError{Provider: "openai", StatusCode: re.HTTPStatusCode}
		errbody.Parse(ae, re.Body)
		ae.RetryAfter = model.RetryAfter(c.header, time.Now())
		return ae
	case errors.As(err, &oe):
		ae := &model.APIError{
			Provider:   "openai",
			StatusCode: oe.HTTPStatusCode,
			Type:       oe.Type,
			Message:    oe.Message,
		}
		if oe.Code != nil {
			ae.Code = fmt.Sprint(oe.Code)
		}
		if ae.StatusCode == 0 && c.status >= 400 {
			ae.StatusCode = c.status
		}
		if c.status >= 400 {
			ae.RetryAfter = model.RetryAfter(c.header, time.Now())
		}
		return ae
	case ctx.Err() != nil:
		return fmt.Errorf("openai: %w", err)
	case c.status >= 400:
		// The error answer could not even be read.
		return &model.APIError{
			Provider:   "openai",
			StatusCode: c.status,
			Message:    err.Error(),
			RetryAfter: model.RetryAfter(c.header, time.Now()),
		}
	case c.status != 0:
		// A success answer whose body could not be read or decoded.
		return fmt.Errorf("openai: %w: %w", model.ErrMalformed, err)
	}
	return fmt.Errorf("openai: %w", err)
}

// stableID makes the id of a tool call the server sent without one. It
// depends only on the answer and the conversation, so a replayed run gets
// the same ids, and on the conversation's length, so two turns calling the
// same tool the same way get different ones.
func stableID(respID string, turn, index int, name, args string) string {
	return model.StableCallID(respID, strconv.Itoa(turn), strconv.Itoa(index), name, args)
}
