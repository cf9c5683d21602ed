package slack

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// secretURL is the webhook URL: whoever has it can post to the channel.
// Every printed form of it is "<secret>", so that %v of a Notifier leaks
// nothing. (Options.WebhookURL is a plain string: never print Options.)
type secretURL string

const redactedSecret = "<secret>"

func (s secretURL) String() string                { return redactedSecret }
func (s secretURL) GoString() string              { return redactedSecret }
func (s secretURL) MarshalText() ([]byte, error)  { return []byte(redactedSecret), nil }
func (s secretURL) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, redactedSecret) }

// redactor removes the webhook URL, and each form of its secret part, from
// text that might carry it.
type redactor struct {
	needles []string
	// where names the endpoint without its secret, for error messages:
	// "https://hooks.slack.com/<redacted>".
	where string
}

func newRedactor(u *url.URL) redactor {
	raw := u.String()
	needles := []string{raw, u.EscapedPath(), u.Path}
	if u.RawQuery != "" {
		needles = append(needles, u.RawQuery)
	}
	if q := url.QueryEscape(raw); q != raw {
		needles = append(needles, q)
	}
	// The path's long segments one by one too (Slack's are
	// /services/T…/B…/<secret>), should an answer echo only a part.
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= 6 && seg != "services" {
			needles = append(needles, seg)
		}
	}
	// Longest first, so that a whole URL is replaced before its path.
	for i := range needles {
		for j := i + 1; j < len(needles); j++ {
			if len(needles[j]) > len(needles[i]) {
				needles[i], needles[j] = needles[j], needles[i]
			}
		}
	}
	kept := needles[:0]
	for _, n := range needles {
		if n != "" && n != "/" {
			kept = append(kept, n)
		}
	}
	return redactor{needles: kept, where: u.Scheme + "://" + u.Host + "/<redacted>"}
}

func (r redactor) clean(s string) string {
	for _, n := range r.needles {
		s = strings.ReplaceAll(s, n, "<redacted>")
	}
	return s
}

// transportError is a failed POST without an HTTP answer: refused,
// reset, timed out. Its text never carries the webhook URL.
type transportError struct {
	where string
	msg   string
	err   error // the cause, kept only when its text is free of the URL
}

func (e *transportError) Error() string { return "slack webhook: POST " + e.where + ": " + e.msg }
func (e *transportError) Unwrap() error { return e.err }

// sanitize turns an http.Client error into one free of the webhook URL:
// *url.Error's text starts with the URL, so it is dropped for its cause,
// and a cause whose text still carries the URL is replaced by its
// redacted text (losing errors.Is for it, never the secret).
func (r redactor) sanitize(err error) error {
	var ue *url.Error
	cause := err
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	msg := cause.Error()
	clean := r.clean(msg)
	var nested *url.Error
	if clean != msg || errors.As(cause, &nested) {
		return &transportError{where: r.where, msg: clean}
	}
	return &transportError{where: r.where, msg: msg, err: cause}
}
