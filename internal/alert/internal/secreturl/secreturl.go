// Package secreturl keeps a URL that is itself a credential (a Slack
// incoming webhook, a webhook with a token in its path or query) out of
// every printed form, error and log line of the sink that posts to it.
package secreturl

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/spacetime-vr/spacetime-watch/internal/secret"
)

// Redacted is what every printed form of a URL shows.
const Redacted = secret.Redacted

// URL is the secret URL: whoever has it can post there. It is
// internal/secret's Value, so that %v of a struct holding one leaks
// nothing. Use string(u) for the request only.
type URL = secret.Value

// Redactor removes a URL, and each form of its secret part, from text that
// might carry it: an answer that echoes the request, a transport error.
type Redactor struct {
	what    string   // names the sender in errors: "slack webhook"
	where   string   // the endpoint without its secret
	needles []string // longest first
}

// NewRedactor returns the Redactor of u, for errors that start with what
// ("slack webhook"). public lists path segments known not to be secret
// (Slack's "services"); every other segment of 6 characters or more is
// redacted on its own too, should an answer echo only a part of the URL.
func NewRedactor(what string, u *url.URL, public ...string) Redactor {
	raw := u.String()
	secret.Register(raw) // the process-wide redactor knows it in every form
	needles := []string{raw, u.EscapedPath(), u.Path}
	if u.RawQuery != "" {
		needles = append(needles, u.RawQuery)
	}
	if q := url.QueryEscape(raw); q != raw {
		needles = append(needles, q)
	}
	if u.User != nil {
		// As written, and as the Authorization header sends it.
		pass, _ := u.User.Password()
		needles = append(needles, u.User.String(),
			base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass)))
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= 6 && !slices.Contains(public, seg) {
			needles = append(needles, seg)
		}
	}
	// Longest first, so that a whole URL is replaced before its path.
	slices.SortStableFunc(needles, func(a, b string) int { return len(b) - len(a) })
	kept := needles[:0]
	for _, n := range needles {
		if n != "" && n != "/" {
			kept = append(kept, n)
		}
	}
	return Redactor{what: what, where: u.Scheme + "://" + u.Host + "/<redacted>", needles: kept}
}

// Where names the endpoint without its secret, for error messages:
// "https://hooks.slack.com/<redacted>".
func (r Redactor) Where() string { return r.where }

// Clean returns s with every form of the URL's secret replaced.
func (r Redactor) Clean(s string) string {
	for _, n := range r.needles {
		s = strings.ReplaceAll(s, n, "<redacted>")
	}
	// What the exact needles miss: another letter case, base64, ...
	return secret.Clean(s)
}

// Sanitize turns an http.Client error into one free of the URL:
// *url.Error's text starts with the URL, so it is dropped for its cause,
// and a cause whose text still carries the URL is replaced by its
// redacted text (losing errors.Is for it, never the secret).
func (r Redactor) Sanitize(err error) error {
	var ue *url.Error
	cause := err
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	msg := cause.Error()
	clean := r.Clean(msg)
	var nested *url.Error
	if clean != msg || errors.As(cause, &nested) {
		return &transportError{prefix: r.prefix(), msg: clean}
	}
	return &transportError{prefix: r.prefix(), msg: msg, err: cause}
}

// Errorf is an error about the endpoint: "<what>: POST <where>: <text>",
// for text already free of the secret.
func (r Redactor) Errorf(format string, args ...any) error {
	return errors.New(r.prefix() + fmt.Sprintf(format, args...))
}

func (r Redactor) prefix() string { return r.what + ": POST " + r.where + ": " }

// transportError is a failed POST without an HTTP answer: refused, reset,
// timed out. Its text never carries the URL.
type transportError struct {
	prefix string
	msg    string
	err    error // the cause, kept only when its text is free of the URL
}

func (e *transportError) Error() string { return e.prefix + e.msg }
func (e *transportError) Unwrap() error { return e.err }
