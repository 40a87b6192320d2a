package model

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxErrorText bounds the text of a server's error message kept in an error,
// JSON and plain text alike: an endpoint answering with megabytes of error
// must not fill the journal, the log or the terminal.
const MaxErrorText = 2 << 10

// Redacted replaces each secret in what a server sent back.
const Redacted = "[REDACTED]"

// minSecret is the shortest secret redacted: replacing every "x" of a
// one-letter key would garble every message, and such a key hides nothing.
const minSecret = 4

// Redactor replaces the secrets a provider holds (its API key, the
// Authorization header it sends, a password in its base URL) in text read
// from a server, before that text becomes an error or an answer. The zero
// value and nil redact nothing. It is safe for concurrent use.
type Redactor struct {
	r *strings.Replacer
}

// NewRedactor returns a Redactor for secrets; empty and very short ones
// (under 4 bytes) are ignored.
func NewRedactor(secrets ...string) *Redactor {
	var pairs []string
	for _, s := range secrets {
		if len(s) >= minSecret {
			pairs = append(pairs, s, Redacted)
		}
	}
	if len(pairs) == 0 {
		return &Redactor{}
	}
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// String returns s with every secret replaced.
func (r *Redactor) String(s string) string {
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// Error returns err with every secret replaced in its message and clipped to
// MaxErrorText. A *APIError is copied with its fields redacted; any other
// error is wrapped, so errors.Is and errors.As still see what it wraps.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	var ae *APIError
	if errors.As(err, &ae) && error(ae) == err {
		cp := *ae
		cp.Message = ClipText(r.String(cp.Message), MaxErrorText)
		cp.Type = ClipText(r.String(cp.Type), 256)
		cp.Code = ClipText(r.String(cp.Code), 256)
		return &cp
	}
	msg := err.Error()
	safe := ClipText(r.String(msg), MaxErrorText)
	if safe == msg {
		return err
	}
	return &redactedError{msg: safe, err: err}
}

// redactedError is an error whose message had a secret or was too long.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// ClipText returns s cut to at most n bytes at a rune boundary, saying how
// much was cut.
func ClipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (" + strconv.Itoa(len(s)-cut) + " bytes cut)"
}

// RedactURL returns u with the password of its userinfo masked, and the user
// name too when there is no password (a key given as the user name). Text
// that does not parse as a URL is returned with any userinfo masked all the
// same.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		if scheme, rest, ok := strings.Cut(u, "://"); ok {
			if at := strings.LastIndex(rest, "@"); at >= 0 {
				return scheme + "://xxxxx@" + rest[at+1:]
			}
		}
		return u
	}
	if p.User == nil {
		return u
	}
	if _, ok := p.User.Password(); ok {
		return p.Redacted()
	}
	p.User = url.User("xxxxx")
	return p.String()
}

// URLSecrets returns the secrets in u's userinfo: its password, or its user
// name when there is no password.
func URLSecrets(u string) []string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return nil
	}
	if pw, ok := p.User.Password(); ok {
		return []string{pw, url.QueryEscape(pw), url.PathEscape(pw)}
	}
	return []string{p.User.Username()}
}
