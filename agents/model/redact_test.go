package model_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents/model"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:1/v1":         "http://localhost:1/v1",
		"http://user:sk-secret@host/v1": "http://user:xxxxx@host/v1",
		"https://sk-secret@host/v1":     "https://xxxxx@host/v1",
		"http://user:sk-%zz@host/v1":    "http://xxxxx@host/v1",
		"not a url":                     "not a url",
	} {
		if got := model.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactorError(t *testing.T) {
	r := model.NewRedactor("sk-secret", "", "ab")
	err := r.Error(&model.APIError{StatusCode: 401, Message: "bad key sk-secret", Code: "sk-secret"})
	var ae *model.APIError
	if !errors.As(err, &ae) || strings.Contains(err.Error(), "sk-secret") || ae.Code != model.Redacted {
		t.Errorf("err = %v", err)
	}
	base := errors.New("dial: sk-secret refused; ab stays")
	err = r.Error(base)
	if !errors.Is(err, base) || err.Error() != "dial: [REDACTED] refused; ab stays" {
		t.Errorf("err = %q", err)
	}
	if got := model.ClipText(strings.Repeat("é", 2000), 11); got != "ééééé… (3990 bytes cut)" {
		t.Errorf("ClipText = %q", got)
	}
}
