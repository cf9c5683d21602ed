// Package slack is the Slack incoming-webhook sink: it renders an
// alert.Message as Block Kit with a plain-text fallback, within Slack's
// limits, and posts it with its own http.Client, reading the answer so that
// the reason of a failure is known (slack-go's webhook helper discards it).
//
// The webhook URL is a secret: it never appears in an error, a log line or
// a printed value. Render is shared with the bot sink (package slackbot).
package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/internal/secreturl"
	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// Options configure a Notifier.
type Options struct {
	// Name is the sink's configured name (required).
	Name string
	// WebhookURL is the incoming webhook's URL (required; a secret).
	WebhookURL string
	// HTTPClient sends the requests. Default: a client of its own. Either
	// way redirects are not followed: a webhook answers, it does not move.
	HTTPClient *http.Client
	// Timeout bounds each POST, answer included. Default: config.DefaultSinkTimeout.
	Timeout time.Duration
	// AlertsURL is the daemon's /api/v1/alerts URL, linked from a cut
	// message's "… N more alerts" line. Default: the path, as text.
	AlertsURL string
}

// Notifier posts messages to one incoming webhook. It implements
// alert.Notifier and is safe for concurrent use.
type Notifier struct {
	name    string
	url     secreturl.URL
	client  *http.Client
	timeout time.Duration
	redact  secreturl.Redactor
	render  RenderOptions
	now     func() time.Time // reads a Retry-After given as an HTTP date
}

var _ alert.Notifier = (*Notifier)(nil)

// New checks o and returns a Notifier. Its errors never contain the URL.
func New(o Options) (*Notifier, error) {
	if o.Name == "" {
		return nil, errors.New("slack webhook: name is empty")
	}
	if o.WebhookURL == "" {
		return nil, fmt.Errorf("slack webhook %s: webhook URL is empty: set webhook_url_file or webhook_url_env", o.Name)
	}
	// url.Parse's errors quote the URL: they are not wrapped.
	u, err := url.Parse(o.WebhookURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("slack webhook %s: webhook URL is not an absolute http(s) URL (want https://hooks.slack.com/services/…)", o.Name)
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("slack webhook %s: timeout %s is negative", o.Name, o.Timeout)
	}
	if o.Timeout == 0 {
		o.Timeout = config.DefaultSinkTimeout
	}
	client := &http.Client{}
	if o.HTTPClient != nil {
		c := *o.HTTPClient // a copy, so that the caller's client keeps its redirect policy
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Notifier{
		name:    o.Name,
		url:     secreturl.URL(o.WebhookURL),
		client:  client,
		timeout: o.Timeout,
		redact:  secreturl.NewRedactor("slack webhook", u, "services"),
		render:  RenderOptions{Sink: o.Name, AlertsURL: o.AlertsURL},
		now:     clock.Now,
	}, nil
}

// Name returns the sink's name.
func (n *Notifier) Name() string { return n.name }

// String names the sink without its URL: fmt does not call the methods of
// unexported fields, so the Notifier hides them itself.
func (n Notifier) String() string { return "slack webhook " + n.name }

// Format prints String for every verb (%#v and %d included), so that no
// verb prints the fields, the URL among them.
func (n Notifier) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, n.String()) }

// Notify renders m and posts it. retry is true for answers worth another
// try (429, 5xx, 408, no answer at all) and false for Slack's permanent
// errors (400 invalid_payload, 403 invalid_token, 404 no_service or
// channel_not_found, 410 channel_is_archived, …) and for a message that
// cannot be rendered. The error is an *alert.DeliveryError.
func (n *Notifier) Notify(ctx context.Context, m alert.Message) (retry bool, err error) {
	p, err := Render(m, n.render)
	if err != nil {
		return false, &alert.DeliveryError{Sink: n.name, Reason: "invalid_message", Err: err}
	}
	return n.post(ctx, p)
}
