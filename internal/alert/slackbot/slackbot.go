// Package slackbot is the Slack bot-token sink: it posts through the Web
// API (slack-go, with an http.Client of its own) in one thread per
// deployment, and when an alert resolves it updates (chat.update) every
// message that showed it firing and posts the resolution in the thread.
//
// Thread and message timestamps live in an alert.KV (the daemon backs it
// with the store), so this works across restarts:
//
//	slackbot/<sink>/thread/<deployment id>  the deployment's thread parent
//	slackbot/<sink>/alert/<fingerprint>     the messages showing it firing
//	slackbot/<sink>/msg/<channel>/<ts>      a message's alerts, to re-render it
//
// An alert's record is keyed by its fingerprint alone, not by deployment:
// an alert that fired during one deployment and resolves during the next
// still finds, and updates, the messages that announced it; the
// resolution itself is posted in the current deployment's thread, like
// every message. Records are deleted once their alerts resolved.
//
// Delivery is at least once: a post whose answer is lost (timeout, reset)
// is retried by the outbox and may then show twice in the channel. Slack's
// chat.postMessage has no idempotency key; a duplicate is the price of never
// losing an alert.
//
// The token is a secret: it never appears in an error, a log line or a
// printed value.
package slackbot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	alertslack "github.com/spacetime-vr/spacetime-watch/internal/alert/slack"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/secret"
)

// Options configure a Notifier.
type Options struct {
	// Name is the sink's configured name (required).
	Name string
	// Token is the bot token, xoxb-… (required; a secret).
	Token string
	// Channel is where messages go: a channel ID (C0123456789, preferred)
	// or "#name" (required).
	Channel string
	// APIURL is the Web API base URL, with its trailing slash. Default:
	// slack.APIURL (https://slack.com/api/); tests point it at a fake.
	APIURL string
	// HTTPClient sends the requests. Default: a client of its own.
	HTTPClient *http.Client
	// Timeout bounds each Web API call. Default: config.DefaultSinkTimeout.
	Timeout time.Duration
	// KV keeps thread and message timestamps (required).
	KV alert.KV
	// AlertsURL is the daemon's /api/v1/alerts URL, linked from a cut
	// message's "… N more alerts" line. Default: the path, as text.
	AlertsURL string
	// Logger reports what does not fail a delivery (a message that can no
	// longer be updated, a timestamp that could not be stored). Default: none.
	Logger *zap.Logger
}

// Notifier posts messages with a bot token. It implements alert.Notifier
// and is safe for concurrent use: deliveries that read and write the
// thread and timestamp records run one at a time.
type Notifier struct {
	mu sync.Mutex // serializes the KV read-modify-write of a delivery

	name    string
	token   secret.Value
	channel string
	api     *slack.Client
	timeout time.Duration
	kv      alert.KV
	render  alertslack.RenderOptions
	log     *zap.Logger
	prefix  string // KV key prefix: slackbot/<sink>/
}

var _ alert.Notifier = (*Notifier)(nil)

// New checks o and returns a Notifier; it makes no request. Its errors
// never contain the token.
func New(o Options) (*Notifier, error) {
	switch {
	case o.Name == "":
		return nil, errors.New("slack bot: name is empty")
	case o.Token == "":
		return nil, fmt.Errorf("slack bot %s: token is empty: set bot_token_file or bot_token_env", o.Name)
	case o.Channel == "":
		return nil, fmt.Errorf("slack bot %s: channel is empty: set a channel ID (C0123456789) or #name", o.Name)
	case o.KV == nil:
		return nil, fmt.Errorf("slack bot %s: no KV for thread and message timestamps", o.Name)
	case o.Timeout < 0:
		return nil, fmt.Errorf("slack bot %s: timeout %s is negative", o.Name, o.Timeout)
	}
	if o.APIURL == "" {
		o.APIURL = slack.APIURL
	}
	if u, err := url.Parse(o.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("slack bot %s: api_url %q is not an absolute http(s) URL (want https://slack.com/api/)", o.Name, o.APIURL)
	}
	if o.APIURL[len(o.APIURL)-1] != '/' {
		o.APIURL += "/" // slack-go appends the method name as it is
	}
	if o.Timeout == 0 {
		o.Timeout = config.DefaultSinkTimeout
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	secret.Register(o.Token) // every text the process prints is cleaned of it
	return &Notifier{
		name:    o.Name,
		token:   secret.Value(o.Token),
		channel: o.Channel,
		api:     slack.New(o.Token, slack.OptionAPIURL(o.APIURL), slack.OptionHTTPClient(o.HTTPClient)),
		timeout: o.Timeout,
		kv:      o.KV,
		render:  alertslack.RenderOptions{Sink: o.Name, AlertsURL: o.AlertsURL},
		log:     o.Logger.With(zap.String("sink", o.Name)),
		prefix:  "slackbot/" + o.Name + "/",
	}, nil
}

// Name returns the sink's name.
func (n *Notifier) Name() string { return n.name }

// String names the sink without its token: fmt does not call the methods
// of unexported fields, so the Notifier hides them itself.
func (n *Notifier) String() string { return "slack bot " + n.name + " (" + n.channel + ")" }

// Format prints String for every verb (%#v and %d included), so that no
// verb prints the fields, the token among them.
func (n *Notifier) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, n.String()) }

// Notify delivers m. Alerts and text messages with a deployment go into
// the deployment's thread (created on first use), others to the channel;
// resolved alerts also update the messages that showed them firing. retry
// is true for rate limits, Slack's transient errors, 5xx and transport
// failures, false for errors that retrying cannot fix (invalid_auth,
// channel_not_found, not_in_channel, invalid_blocks, …). The error is an
// *alert.DeliveryError.
func (n *Notifier) Notify(ctx context.Context, m alert.Message) (retry bool, err error) {
	p, err := alertslack.Render(m, n.render)
	if err != nil {
		return false, &alert.DeliveryError{Sink: n.name, Reason: "invalid_message", Err: err}
	}
	switch m.Kind {
	case alert.KindAlerts:
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.notifyAlerts(ctx, m, p)
	case alert.KindText:
		n.mu.Lock()
		defer n.mu.Unlock()
		ch, thread, retry, err := n.place(ctx, m)
		if err != nil {
			return retry, err
		}
		_, _, retry, err = n.post(ctx, ch, thread, p)
		return retry, err
	default: // KindTest: top level, where people look
		_, _, retry, err := n.post(ctx, n.channel, "", p)
		return retry, err
	}
}

// notifyAlerts updates the messages of resolved alerts, posts m in its
// place, then remembers which message shows which firing alert. Updates
// come first: when they fail transiently nothing is posted yet, so the
// retry posts once.
func (n *Notifier) notifyAlerts(ctx context.Context, m alert.Message, p alertslack.Payload) (bool, error) {
	ch, thread, retry, err := n.place(ctx, m)
	if err != nil {
		return retry, err
	}
	if retry, err := n.updateResolved(ctx, m); err != nil {
		return retry, err
	}
	postedCh, ts, retry, err := n.post(ctx, ch, thread, p)
	if err != nil {
		return retry, err
	}
	n.rememberFiring(m, postedCh, ts)
	return false, nil
}

// post sends one message; thread is the parent's ts for a reply, "" for
// the top level. It returns the channel ID and the message's ts.
func (n *Notifier) post(ctx context.Context, channel, thread string, p alertslack.Payload) (string, string, bool, error) {
	blocks, err := toSlack(p.Blocks)
	if err != nil {
		return "", "", false, &alert.DeliveryError{Sink: n.name, Reason: "invalid_message", Err: err}
	}
	opts := []slack.MsgOption{
		slack.MsgOptionText(p.Text, false),
		slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
	}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	ch, ts, err := n.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		retry, derr := n.deliveryError("chat.postMessage", err)
		return "", "", retry, derr
	}
	return ch, ts, false, nil
}

// update replaces the message at channel/ts with p.
func (n *Notifier) update(ctx context.Context, channel, ts string, p alertslack.Payload) (bool, error) {
	blocks, err := toSlack(p.Blocks)
	if err != nil {
		return false, &alert.DeliveryError{Sink: n.name, Reason: "invalid_message", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	_, _, _, err = n.api.UpdateMessageContext(ctx, channel, ts, slack.MsgOptionText(p.Text, false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		return n.deliveryError("chat.update", err)
	}
	return false, nil
}
