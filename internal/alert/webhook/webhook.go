// Package webhook is the generic webhook sink: it POSTs Alertmanager's
// webhook payload (version 4, the body of Alertmanager's webhook_config)
// to a URL, so that any receiver written for Alertmanager (a chat bridge,
// a pager, a ticketing hook) works with spacetime-watch as it is.
//
// Each message is one POST. A group notification becomes one payload of
// the group's alerts, firing first, with the labels and annotations the
// Alertmanager sink gives them (alertmanager.Labels, Annotations).
// `spacetime-watch notify test` becomes one firing SpacetimeWatchTest
// alert labelled spacetime_watch_test="true" and a test_id of its own,
// ending TestAlertLifetime later (its endsAt), so that a receiver can
// route it away from people. A text message (a post-deployment review) is
// skipped as delivered: the payload carries alerts only, and a review
// posted as an alert would open an incident nothing ever resolves in a
// receiver that tracks them; reviews are in the state dir and
// /api/v1/reviews.
//
// With a secret, each request is signed: HeaderTimestamp holds the Unix
// time of the attempt and HeaderSignature "sha256=" and the hex
// HMAC-SHA256 of the timestamp, a ".", and the body, keyed with the
// secret. The timestamp is signed so that a receiver can refuse a replayed
// request (one older than a few minutes); each retry is signed anew.
// HeaderMessageID is the notification's ID, the same on every attempt, so
// that a receiver can drop the duplicate an at-least-once outbox may send
// after a crash.
//
// The URL may hold a secret (a token in its path, query or user
// information): it never appears in an error, a log line or a printed
// value; errors name only its scheme and host. The HMAC secret never
// appears anywhere.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/internal/secreturl"
	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/secret"
)

// Options configure a Notifier. URL and HMACSecret are secrets: never
// print Options.
type Options struct {
	// Name is the sink's configured name, the payload's receiver. Required.
	Name string
	// URL is where to POST (http or https). Required; treated as a secret.
	URL string
	// HMACSecret, when set, signs every request (HeaderSignature). Default:
	// none, and requests are not signed.
	HMACSecret string
	// HTTPClient sends the requests. Default: a client of its own. Either
	// way redirects are not followed: a receiver that moves is
	// misconfigured, and following would send the alerts elsewhere.
	HTTPClient *http.Client
	// Timeout bounds each POST, answer included. Default: config.DefaultSinkTimeout.
	Timeout time.Duration
	// MaxAlerts caps the alerts of one payload, as Alertmanager's
	// max_alerts does: the rest are counted in truncatedAlerts (firing
	// and most severe alerts come first). Default 0: no cap.
	MaxAlerts int
	// Now is the clock of the signature's timestamp and of a Retry-After
	// given as a date. Default: clock.Now.
	Now func() time.Time
	// Logger receives the skipped text messages, at debug. Default: none.
	Logger *zap.Logger
}

// Notifier posts messages to one webhook. It implements alert.Notifier and
// is safe for concurrent use.
type Notifier struct {
	name      string
	url       secreturl.URL
	key       []byte // the HMAC secret; nil when requests are not signed
	client    *http.Client
	timeout   time.Duration
	maxAlerts int
	redact    secreturl.Redactor
	now       func() time.Time
	log       *zap.Logger
}

var _ alert.Notifier = (*Notifier)(nil)

// New checks o and returns a Notifier. Its errors never contain the URL.
func New(o Options) (*Notifier, error) {
	if o.Name == "" {
		return nil, errors.New("webhook sink: name is empty")
	}
	prefix := fmt.Sprintf("webhook sink %s", o.Name)
	if o.URL == "" {
		return nil, fmt.Errorf("%s: URL is empty: set url, url_file or url_env", prefix)
	}
	// url.Parse's errors quote the URL: they are not wrapped.
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%s: URL is not an absolute http(s) URL (want https://receiver.example.com/…)", prefix)
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("%s: timeout %s is negative", prefix, o.Timeout)
	}
	if o.Timeout == 0 {
		o.Timeout = config.DefaultSinkTimeout
	}
	if o.MaxAlerts < 0 {
		return nil, fmt.Errorf("%s: max_alerts %d is negative; 0 sends every alert", prefix, o.MaxAlerts)
	}
	if o.Now == nil {
		o.Now = clock.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	client := &http.Client{}
	if o.HTTPClient != nil {
		c := *o.HTTPClient // a copy, so that the caller's client keeps its redirect policy
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	n := &Notifier{
		name:      o.Name,
		url:       secreturl.URL(o.URL),
		client:    client,
		timeout:   o.Timeout,
		maxAlerts: o.MaxAlerts,
		redact:    secreturl.NewRedactor("webhook", u),
		now:       o.Now,
		log:       o.Logger.Named("webhook").With(zap.String("sink", o.Name)),
	}
	if o.HMACSecret != "" {
		secret.Register(o.HMACSecret)
		n.key = []byte(o.HMACSecret)
	}
	return n, nil
}

// Name returns the sink's name.
func (n *Notifier) Name() string { return n.name }

// String names the sink without its secrets: fmt does not call the
// methods of unexported fields, so the Notifier hides them itself.
func (n Notifier) String() string { return "webhook " + n.name }

// Format prints String for every verb (%#v and %d included), so that no
// verb prints the fields, the URL and the HMAC secret among them.
func (n Notifier) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, n.String()) }

// Notify posts m as Alertmanager's webhook payload. A KindText message is
// skipped (false, nil). retry is true for answers worth another try (429,
// 408, 5xx, with their Retry-After; no answer at all) and false for every
// other answer (4xx, a redirect). The error is an *alert.DeliveryError.
func (n *Notifier) Notify(ctx context.Context, m alert.Message) (retry bool, err error) {
	now := n.now()
	var p Payload
	switch m.Kind {
	case alert.KindAlerts:
		var ok bool
		if p, ok = n.alertsPayload(m); !ok {
			n.log.Debug("message without firing or resolved alerts skipped", zap.String("message", m.ID))
			return false, nil
		}
	case alert.KindTest:
		p = n.testPayload(m, now)
	case alert.KindText:
		n.log.Debug("text message skipped: the webhook payload carries alerts only", zap.String("message", m.ID))
		return false, nil
	default:
		return false, &alert.DeliveryError{Sink: n.name, Reason: fmt.Sprintf("unknown message kind %q", m.Kind)}
	}
	return n.post(ctx, m.ID, p, now)
}
