package model

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"syscall"
)

// Unavailable reports whether err says that the endpoint cannot serve any
// call, so trying again, or giving the work to another agent on the same
// endpoint, cannot help: it refused the credentials (HTTP 401, 403), does not
// know the model or the path (404), or cannot be reached at all (connection
// refused, unknown host). Rate limits, server errors and timeouts are not
// unavailability: they pass.
func Unavailable(err error) bool {
	_, ok := UnavailableReason(err)
	return ok
}

// UnavailableReason is Unavailable with a short reason fit for a person:
// "the endpoint refused the key (HTTP 401)", "connection refused", …
func UnavailableReason(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		switch ae.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return "the endpoint refused the key (" + strconv.Itoa(ae.StatusCode) + " " + http.StatusText(ae.StatusCode) + ")", true
		case http.StatusNotFound:
			msg := "not found (404)"
			if ae.Message != "" && ae.Message != http.StatusText(http.StatusNotFound) {
				msg += ": " + ae.Message
			}
			return msg, true
		}
		return "", false
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return "connection refused", true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return "no such host " + dns.Name, true
	}
	return "", false
}
