// Package alertmanager delivers alerts to Prometheus' Alertmanager through
// its v2 API (POST /api/v2/alerts), for teams that route, silence and
// deduplicate alerts there (the way a fleet of sidecars scales without
// duplicate pages).
//
// Alertmanager treats an alert as a lease, not an event: an alert whose
// endsAt has passed is resolved. So a firing alert is posted with endsAt a
// keep-alive window ahead (4 × ResendInterval) and Run re-posts every
// firing alert each ResendInterval while it fires. That is a protocol
// keep-alive, not a re-notification: Alertmanager deduplicates identical
// alerts and notifies people by its own group_interval and repeat_interval.
// A resolved alert is posted with its endsAt, and re-posted to the
// Alertmanagers that missed it (down, partitioned) until each has accepted
// it, for at most one keep-alive window: one left with a stale firing copy
// would notify it again.
//
// Every message goes to every configured Alertmanager: the members of an HA
// cluster gossip silences and notification logs, not alerts, so each must
// receive the alerts itself. A message counts as delivered when at least
// one Alertmanager accepted it; the keep-alive brings the others up to date
// within ResendInterval. This way one dead replica of an HA pair does not
// stall the sink's outbox, and duplicates cost nothing: Alertmanager
// deduplicates by labels.
package alertmanager

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/secret"
)

// keepAliveFactor sets the keep-alive window to 4 × ResendInterval: three
// re-sends may be lost before Alertmanager resolves a firing alert by
// itself, the margin Prometheus uses too.
const keepAliveFactor = 4

// Names of the alerts the notifier makes up itself.
const (
	// HeartbeatAlertName is the always-firing dead man's switch: route it
	// to a receiver that pages when it stops (severity "none" keeps it out
	// of routes that page on severity).
	HeartbeatAlertName = "SpacetimeWatchHeartbeat"
	// TestAlertName is the alert `spacetime-watch notify test` posts.
	TestAlertName = "SpacetimeWatchTest"
)

// TestLabel is the label, with value "true", that marks the alert of
// `spacetime-watch notify test`: route it to a receiver that pages no one
// (deploy/alertmanager/alertmanager.yml does), so that a test proves the
// path without waking anybody.
const TestLabel = "spacetime_watch_test"

// TestAlertLifetime is how long a test alert fires before it resolves by
// itself. It must outlast the receiving route's group_wait (Alertmanager's
// default is 30 s): an alert that resolves before its group is first
// flushed is never notified at all. The keep-alive never re-sends it.
const TestAlertLifetime = 5 * time.Minute

// Job is the value of the job label on every alert, so that an
// Alertmanager route can match everything spacetime-watch sends.
const Job = "spacetime-watch"

// Options configure a Notifier.
type Options struct {
	// Name is the sink's configured name, used in logs and errors. Required.
	Name string
	// URLs are the base URLs of every Alertmanager of the HA cluster
	// ("http://am-0:9093", or "https://proxy/alertmanager" behind a route
	// prefix); the notifier posts to <url>/api/v2/alerts on each. User
	// information in a URL is sent as basic auth and never shown in logs
	// or errors. At least one is required.
	URLs []string
	// HTTPClient sends the requests (default: a client on
	// http.DefaultTransport).
	HTTPClient *http.Client
	// Timeout bounds each request to each Alertmanager (default config.DefaultSinkTimeout).
	Timeout time.Duration
	// ResendInterval is how often Run re-posts the firing alerts and the
	// heartbeat (default config.DefaultResendInterval); a firing alert's endsAt lies 4 ×
	// ResendInterval ahead.
	ResendInterval time.Duration
	// Heartbeat adds the always-firing SpacetimeWatchHeartbeat alert to
	// every re-send (default off).
	Heartbeat bool
	// ExternalLabels are added to every alert, the heartbeat included
	// (e.g. {instance: <hostname>}, so that the heartbeats of several
	// daemons stay apart). An alert's own labels (alertname, target,
	// severity, job) win over them. Names must match
	// [a-zA-Z_][a-zA-Z0-9_]* and must not be TestLabel. Default none.
	ExternalLabels map[string]string
	// HeartbeatLabels are added to the heartbeat only, over the external
	// labels (e.g. {instance: <hostname>}, so that the heartbeats of
	// several daemons stay apart while their copies of one alert, with
	// identical labels, stay one alert to Alertmanager: two daemons of an
	// HA pair notify it once). Same rules as ExternalLabels. Default none.
	HeartbeatLabels map[string]string
	// OwnLabels are added to the daemon's own alerts (target
	// alert.InternalTarget: NotificationsFailing, StateRecovered, …) and
	// to the heartbeat, over the external labels: a sharded daemon's
	// {shard, replica}, so that the alerts about one replica stay apart
	// while the targets' alerts of an HA pair stay one. Same rules as
	// ExternalLabels. Default none.
	OwnLabels map[string]string
	// GeneratorURL is the generatorURL of alerts that carry no dashboard
	// URL (e.g. the daemon's /api/v1/alerts). Default none.
	GeneratorURL string
	// KV, when set, persists the alerts being kept alive, so that a
	// restarted daemon keeps them alive: the alert manager does not
	// announce a still-firing alert again after a restart. Default none
	// (the set lives in memory only).
	KV alert.KV
	// Now is the clock (default clock.Now).
	Now func() time.Time
	// Logger receives keep-alive failures and partial deliveries (default: none).
	Logger *zap.Logger
}

// Notifier is the Alertmanager sink: an alert.Notifier plus the keep-alive
// loop Run. Notify and Run may be called concurrently.
type Notifier struct {
	opts      Options
	endpoints []endpoint
	labels    map[string]string // external labels
	hbLabels  map[string]string // the heartbeat's own labels
	ownLabels map[string]string // the daemon's own alerts' and the heartbeat's
	generator string
	log       *zap.Logger
	started   time.Time // the heartbeat's startsAt

	// sendLock (capacity 1) serialises every post and the keep-alive
	// set's changes, so that a re-send built from a stale snapshot can
	// never overtake a resolution and fire the alert again.
	sendLock chan struct{}
	live     *liveSet // guarded by sendLock
	running  atomic.Bool

	lastResend string // the last re-send's outcome, logged on change; guarded by sendLock
}

var _ alert.Notifier = (*Notifier)(nil)

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// New validates opts, applies the defaults and restores the keep-alive set
// from opts.KV. It starts nothing: call Run for the keep-alive.
func New(opts Options) (*Notifier, error) {
	if opts.Name == "" {
		return nil, errors.New("alertmanager sink: name is required")
	}
	prefix := fmt.Sprintf("alertmanager sink %q", opts.Name)
	if len(opts.URLs) == 0 {
		return nil, fmt.Errorf("%s: urls: at least one Alertmanager URL is required", prefix)
	}
	if opts.Timeout < 0 || opts.ResendInterval < 0 {
		return nil, fmt.Errorf("%s: timeout and resend_interval must not be negative", prefix)
	}
	if opts.Timeout == 0 {
		opts.Timeout = config.DefaultSinkTimeout
	}
	if opts.ResendInterval == 0 {
		opts.ResendInterval = config.DefaultResendInterval
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	n := &Notifier{
		opts:     opts,
		log:      opts.Logger.Named("alertmanager").With(zap.String("sink", opts.Name)),
		sendLock: make(chan struct{}, 1),
	}
	for i, raw := range opts.URLs {
		ep, err := parseEndpoint(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: urls[%d]: %w", prefix, i, err)
		}
		n.endpoints = append(n.endpoints, ep)
	}
	var err error
	if n.labels, err = checkLabels(prefix, "external label", opts.ExternalLabels); err != nil {
		return nil, err
	}
	if n.hbLabels, err = checkLabels(prefix, "heartbeat label", opts.HeartbeatLabels); err != nil {
		return nil, err
	}
	if n.ownLabels, err = checkLabels(prefix, "own label", opts.OwnLabels); err != nil {
		return nil, err
	}
	if opts.GeneratorURL != "" {
		if !absoluteURL(opts.GeneratorURL) {
			return nil, fmt.Errorf("%s: generator URL %q: not an absolute http(s) URL", prefix, redactText(opts.GeneratorURL))
		}
		n.generator = opts.GeneratorURL
	}
	n.started = opts.Now()
	live, err := loadLiveSet(opts.KV, n.endpointNames())
	if err != nil {
		// A damaged record must not keep the daemon from starting: the
		// alerts it held resolve in Alertmanager by themselves, and the
		// alert manager's own state is intact.
		n.log.Warn("cannot restore the alerts kept alive before the restart; starting with none", zap.Error(err))
		live = newLiveSet(opts.KV)
	}
	n.live = live
	return n, nil
}

// Name returns the sink's configured name.
func (n *Notifier) Name() string { return n.opts.Name }

// Notify posts m's alerts to every Alertmanager. Firing alerts join the
// keep-alive set and resolved ones leave it (once every Alertmanager has
// accepted the resolution, or after one keep-alive window), whatever the
// outcome, because m is the latest word on them: the outbox delivers a
// sink's messages in order. A KindTest message posts a
// SpacetimeWatchTest alert labelled TestLabel="true" that resolves after
// TestAlertLifetime and is never kept alive; a KindText message has no
// Alertmanager form and is skipped.
//
// It returns (false, nil) when at least one Alertmanager accepted the
// alerts; otherwise retry is true when any failure was transient (transport
// error, 5xx, 408, 429 with its Retry-After), false when every
// Alertmanager rejected them (400: invalid alerts, other 4xx).
func (n *Notifier) Notify(ctx context.Context, m alert.Message) (bool, error) {
	if err := n.lock(ctx); err != nil {
		return true, &alert.DeliveryError{Sink: n.opts.Name, Reason: "cancelled", Err: err}
	}
	defer n.unlock()
	now := n.opts.Now()
	var (
		payload []postableAlert
		ids     []string // the keep-alive set's alerts in payload
	)
	switch m.Kind {
	case alert.KindAlerts:
		n.live.update(m.Alerts, now, n.window(), n.endpointNames())
		n.saveLive()
		for _, a := range m.Alerts {
			if a.State == alert.StateFiring || a.State == alert.StateResolved {
				payload = append(payload, n.fromAlert(a, now))
				ids = append(ids, liveID(a))
			}
		}
	case alert.KindTest:
		payload = append(payload, n.testAlert(m, now))
	case alert.KindText:
		n.log.Debug("text message skipped: Alertmanager takes alerts only", zap.String("message", m.ID))
		return false, nil
	default:
		return false, &alert.DeliveryError{Sink: n.opts.Name, Reason: fmt.Sprintf("unknown message kind %q", m.Kind)}
	}
	if len(payload) == 0 {
		return false, nil
	}
	out, err := n.post(ctx, payload)
	if err != nil {
		return false, &alert.DeliveryError{Sink: n.opts.Name, Reason: "invalid alerts", Err: err}
	}
	if n.live.told(ids, out) {
		n.saveLive()
	}
	if out.delivered() && out.failed() {
		n.log.Warn("not every Alertmanager accepted the alerts; the keep-alive re-sends them",
			zap.String("message", m.ID), zap.Error(out.err(n.opts.Name)))
	}
	return out.verdict(n.opts.Name)
}

// endpointNames are the alerts endpoints as the keep-alive set records them.
func (n *Notifier) endpointNames() []string {
	names := make([]string, len(n.endpoints))
	for i, ep := range n.endpoints {
		names[i] = ep.display
	}
	return names
}

// window is how far ahead a firing alert's endsAt lies.
func (n *Notifier) window() time.Duration { return keepAliveFactor * n.opts.ResendInterval }

func (n *Notifier) lock(ctx context.Context) error {
	select {
	case n.sendLock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (n *Notifier) unlock() { <-n.sendLock }

// endpoint is one Alertmanager's alerts endpoint.
type endpoint struct {
	url     string // with user information, for the request only
	display string // without user information, for logs and errors
}

func parseEndpoint(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("%q is not a URL", redactText(raw))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return endpoint{}, fmt.Errorf("%s: scheme must be http or https", redact(u))
	}
	if u.Host == "" {
		return endpoint{}, fmt.Errorf("%s: host is missing", redact(u))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return endpoint{}, fmt.Errorf("%s: give the Alertmanager's base URL, without query or fragment", redact(u))
	}
	if pass, ok := u.User.Password(); ok {
		// Basic auth credentials: the process-wide redactor hides them
		// in any form, as it is or base64 in an echoed header.
		secret.Register(pass)
		secret.Register(u.User.String())
	}
	u = u.JoinPath("api", "v2", "alerts")
	return endpoint{url: u.String(), display: redact(u)}, nil
}

// redact returns u without its user information: a user name can be a
// credential too.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// redactText hides the user information of a URL that did not parse.
func redactText(s string) string {
	scheme, rest, found := strings.Cut(s, "://")
	if !found {
		rest = s
	}
	authority := rest
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		authority = rest[:end]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	if found {
		return scheme + "://" + rest
	}
	return rest
}

func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// checkLabels returns the labels of m with a value, or an error naming the
// first invalid or reserved name (what says which option it came from).
func checkLabels(prefix, what string, m map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range m {
		if !labelNameRE.MatchString(k) {
			return nil, fmt.Errorf("%s: %s %q: not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)", prefix, what, k)
		}
		if k == TestLabel {
			// On every alert it would route real alerts as tests, to a
			// receiver that pages no one.
			return nil, fmt.Errorf("%s: %s %q: reserved for the alert of `notify test`; use another name", prefix, what, k)
		}
		if v != "" {
			out[k] = v
		}
	}
	return out, nil
}
