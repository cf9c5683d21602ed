package config

import (
	"net/url"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/spacetime-vr/spacetime-watch/internal/labels"
)

// Alerting is the alerting section: how alert events are grouped, held and
// delivered, and to which sinks. It is global: every target's alerts go
// through the same pipeline, and a sink's alerts carry the target label.
//
// The grouping knobs have Alertmanager's names and defaults, so that a team
// that knows one knows the other.
type Alerting struct {
	// GroupBy are the labels alerts are grouped by into one notification:
	// any of target, alert and severity, each at most once. An empty list
	// puts every alert into one group, as in Alertmanager. Default: [target].
	GroupBy []string `yaml:"group_by"`
	// GroupWait is how long a new group waits for more alerts before its
	// first notification; 0 sends at once. Default: 30s.
	GroupWait time.Duration `yaml:"group_wait"`
	// GroupInterval is how long a group that has notified waits before
	// notifying about alerts added to it or resolved. Default: 5m.
	GroupInterval time.Duration `yaml:"group_interval"`
	// StormFoldGroups is how many groups may notify on their own within one
	// group_wait: when more would (an alert storm over many targets), they
	// go out together as one summary message per sink, sent when the first
	// of them is due and listing every group with its alert count. 0 never
	// folds. Default: 3.
	StormFoldGroups int `yaml:"storm_fold_groups"`
	// RepeatInterval is how long a group whose alerts still fire waits
	// before re-notifying; at least group_interval and at least 5m
	// (MinRepeatInterval), so a person is never re-paged more often for the
	// same state. Default: 4h.
	RepeatInterval time.Duration `yaml:"repeat_interval"`
	// SendResolved sends a notification when a group's alerts resolve.
	// Default: true.
	SendResolved bool `yaml:"send_resolved"`
	// GracePeriod holds warnings after a deployment starts: they are tracked
	// and notified only if still firing when it ends. Critical alerts are
	// never held; 0 turns the grace off. Default: 5m.
	GracePeriod time.Duration `yaml:"grace_period"`
	// RunbookURL is a text/template for each alert's runbook link, rendered
	// with LinkData (.Target, .Alert, .Severity) by RenderLink; it must
	// render an http(s) URL. Default: "" (no runbook link).
	RunbookURL string `yaml:"runbook_url"`
	// DashboardURL is a text/template for each alert's dashboard link,
	// like RunbookURL. Default: "" (no dashboard link).
	DashboardURL string `yaml:"dashboard_url"`
	// InhibitRules are inhibit rules of the user's, in Alertmanager's shape,
	// applied in addition to the built-in ones (README, "Inhibition"):
	// while an alert matching a rule's source_matchers fires, the alerts
	// matching its target_matchers on the same target (and with the same
	// values of its equal labels) stay listed, marked inhibited, but are
	// not notified. /api/v1/alerts names such a rule "inhibit_rules[N]".
	// Default: [] (the built-in rules only).
	InhibitRules []InhibitRule `yaml:"inhibit_rules"`
	// InhibitRelease is how long an alert released by its resolved cause
	// must keep firing before it is notified on its own: the alerts a cause
	// explained usually resolve within moments of it. 0 notifies it at
	// once. Default: 2m.
	InhibitRelease time.Duration `yaml:"inhibit_release"`
	// Outbox tunes the durable delivery queue. Default: see Outbox.
	Outbox Outbox `yaml:"outbox"`
	// Sinks are where notifications go, each with its own ordered outbox
	// queue. Default: none, and the daemon only logs alert events.
	Sinks []Sink `yaml:"sinks"`
}

// MinRepeatInterval is the shortest repeat_interval accepted: a still-firing
// alert is never re-notified to a person more often than this.
const MinRepeatInterval = 5 * time.Minute

// InhibitRule mutes the alerts matching TargetMatchers while an alert
// matching SourceMatchers fires on the same target, as Alertmanager's
// inhibit_rules do. Matchers are written as `silence add` takes them, and
// name the labels alert, severity, target, kind (check, rule or
// condition), cause (a failing check's class, such as connection_refused)
// and source (where a memory value came from: telemetry or performance).
type InhibitRule struct {
	// SourceMatchers select the cause: an alert matches when every matcher
	// does, e.g. ['alert="check_instance_up"']. Required.
	SourceMatchers labels.Matchers `yaml:"source_matchers"`
	// TargetMatchers select the alerts the cause explains, e.g.
	// ['alert=~"fps_.*"']. An alert never inhibits itself. Required.
	TargetMatchers labels.Matchers `yaml:"target_matchers"`
	// Equal lists labels the source and the target must share besides
	// target, which they always share: a cause on one instance explains
	// nothing on another. Default: [].
	Equal []string `yaml:"equal"`
}

// afterDecode gives a rule without equal the empty list, as the effective
// config prints it.
func (r *InhibitRule) afterDecode(*decoder, string, map[string]*yaml.Node) {
	if r.Equal == nil {
		r.Equal = []string{}
	}
}

// groupByLabels are the labels group_by may name.
var groupByLabels = []string{labels.Target, labels.Alert, labels.Severity}

// Sink returns the sink called name.
func (a *Alerting) Sink(name string) (*Sink, bool) {
	for i := range a.Sinks {
		if a.Sinks[i].Name == name {
			return &a.Sinks[i], true
		}
	}
	return nil, false
}

// Outbox tunes the durable, per-sink delivery queue. A failed delivery is
// retried after a jittered delay that doubles from BackoffInitial up to
// BackoffMax; a sink's Retry-After is honoured over it.
type Outbox struct {
	// BackoffInitial is the first retry delay; positive and below
	// BackoffMax. Default: 1s.
	BackoffInitial time.Duration `yaml:"backoff_initial"`
	// BackoffMax caps the retry delay. Default: 60s.
	BackoffMax time.Duration `yaml:"backoff_max"`
}

// SinkType names a kind of notification sink.
type SinkType string

// The sink types.
const (
	// SinkSlackWebhook posts to a Slack incoming webhook (a secret URL).
	SinkSlackWebhook SinkType = "slack_webhook"
	// SinkSlackBot posts with a Slack bot token through the Web API, one
	// thread per deployment.
	SinkSlackBot SinkType = "slack_bot"
	// SinkAlertmanager posts to Prometheus Alertmanager's v2 API.
	SinkAlertmanager SinkType = "alertmanager"
	// SinkWebhook posts Alertmanager's webhook payload (version 4) to any
	// URL, optionally signed with an HMAC secret.
	SinkWebhook SinkType = "webhook"
	// SinkConsole prints readable notifications on stdout.
	SinkConsole SinkType = "console"
)

var sinkTypes = [...]SinkType{SinkSlackWebhook, SinkSlackBot, SinkAlertmanager, SinkWebhook, SinkConsole}

// Valid reports whether t is one of the sink types.
func (t SinkType) Valid() bool {
	for _, k := range sinkTypes {
		if k == t {
			return true
		}
	}
	return false
}

// String returns the type as written in the config file.
func (t SinkType) String() string { return string(t) }

func sinkTypeNames() []string {
	names := make([]string, len(sinkTypes))
	for i, k := range sinkTypes {
		names[i] = string(k)
	}
	return names
}

// sinkTypeList is the valid types for messages: "slack_webhook, slack_bot, …".
func sinkTypeList() string { return strings.Join(sinkTypeNames(), ", ") }

// sinkTypeKeys lists, for each key that only some sink types accept, the
// type that accepts it. Keys not listed (name, type, timeout, min_interval)
// belong to every type.
var sinkTypeKeys = map[string]SinkType{
	"webhook_url_file": SinkSlackWebhook,
	"webhook_url_env":  SinkSlackWebhook,
	"bot_token_file":   SinkSlackBot,
	"bot_token_env":    SinkSlackBot,
	"channel":          SinkSlackBot,
	"api_url":          SinkSlackBot,
	"urls":             SinkAlertmanager,
	"resend_interval":  SinkAlertmanager,
	"heartbeat":        SinkAlertmanager,
	"url":              SinkWebhook,
	"url_file":         SinkWebhook,
	"url_env":          SinkWebhook,
	"hmac_secret_file": SinkWebhook,
	"hmac_secret_env":  SinkWebhook,
	"max_alerts":       SinkWebhook,
}

// Sink is one destination for notifications. Which keys a sink accepts
// depends on its type; a key of another type is an error, and the
// type's own defaults fill the keys it leaves out.
type Sink struct {
	// Name identifies the sink in metrics, the outbox and `notify test
	// --sink`: required, unique, 1 to 63 characters of [a-z0-9_-] starting
	// with a letter or digit.
	Name string `yaml:"name"`
	// Type is slack_webhook, slack_bot, alertmanager, webhook or console.
	// Required.
	Type SinkType `yaml:"type"`
	// Timeout bounds one delivery attempt; the outbox cuts every attempt at
	// SinkAttemptLimit (10s), so a longer value is a warning. Default: 10s.
	Timeout time.Duration `yaml:"timeout"`
	// MinInterval is the least time between two deliveries on this sink:
	// Slack accepts about one message per second per channel. Default: 1s
	// for slack_webhook and slack_bot, 0 (no limit) otherwise.
	MinInterval time.Duration `yaml:"min_interval"`

	// WebhookURLFile is a file holding the Slack incoming webhook URL, a
	// secret. Expanded like Target.TokenFile. slack_webhook only; exactly
	// one of WebhookURLFile and WebhookURLEnv is required.
	WebhookURLFile string `yaml:"webhook_url_file,omitempty,expand"`
	// WebhookURLEnv names an environment variable holding the webhook URL;
	// it must be set when the config loads. slack_webhook only; exclusive
	// with WebhookURLFile, one of them required.
	WebhookURLEnv string `yaml:"webhook_url_env,omitempty"`

	// BotTokenFile is a file holding the Slack bot token (xoxb-…), a
	// secret. Expanded like Target.TokenFile. slack_bot only; exactly one
	// of BotTokenFile and BotTokenEnv is required.
	BotTokenFile string `yaml:"bot_token_file,omitempty,expand"`
	// BotTokenEnv names an environment variable holding the bot token; it
	// must be set when the config loads. slack_bot only; exclusive with
	// BotTokenFile, one of them required.
	BotTokenEnv string `yaml:"bot_token_env,omitempty"`
	// Channel is where the bot posts: a channel ID (C0123456789) or a
	// public channel's name (#spacetime-oncall). slack_bot only, required.
	Channel string `yaml:"channel"`
	// APIURL is the base URL of Slack's Web API; method names are appended
	// to it, so it ends with a /. Tests point it at a fake. slack_bot only.
	// Default: https://slack.com/api/.
	APIURL *url.URL `yaml:"api_url"`

	// URLs are the Alertmanagers to post to (http or https, a path prefix
	// kept for a --web.route-prefix): every one of them, as Prometheus does
	// for an HA pair. alertmanager only; at least one required.
	URLs []*url.URL `yaml:"urls"`
	// ResendInterval is how often firing alerts are re-sent with endsAt in
	// the future: a keep-alive for Alertmanager, not a re-notification.
	// alertmanager only. Default: 1m.
	ResendInterval time.Duration `yaml:"resend_interval"`
	// Heartbeat sends an always-firing SpacetimeWatchHeartbeat alert (a
	// dead man's switch) with every re-send. alertmanager only. Default: false.
	Heartbeat bool `yaml:"heartbeat"`

	// URL is where a webhook sink posts (http or https), when the URL holds
	// no secret: no credentials, no query. webhook only; exactly one of
	// URL, URLFile and URLEnv is required.
	URL *url.URL `yaml:"url,omitempty"`
	// URLFile is a file holding the webhook's URL, for a URL that is a
	// secret (a token in its path or query, credentials). Expanded like
	// Target.TokenFile. webhook only; exclusive with URL and URLEnv, one of
	// the three required.
	URLFile string `yaml:"url_file,omitempty,expand"`
	// URLEnv names an environment variable holding the webhook's URL; it
	// must be set when the config loads. webhook only; exclusive with URL
	// and URLFile, one of the three required.
	URLEnv string `yaml:"url_env,omitempty"`
	// HMACSecretFile is a file holding the secret that signs every request
	// (X-Spacetime-Watch-Signature). Expanded like Target.TokenFile.
	// webhook only; exclusive with HMACSecretEnv. Default: "" (not signed).
	HMACSecretFile string `yaml:"hmac_secret_file,omitempty,expand"`
	// HMACSecretEnv names an environment variable holding the signing
	// secret; it must be set when the config loads. webhook only; exclusive
	// with HMACSecretFile. Default: "" (not signed).
	HMACSecretEnv string `yaml:"hmac_secret_env,omitempty"`
	// MaxAlerts caps the alerts of one webhook payload, as Alertmanager's
	// max_alerts does: the rest are counted in truncatedAlerts. webhook
	// only. Default: 0 (no cap).
	MaxAlerts int `yaml:"max_alerts"`
}

// WebhookURL returns where the Slack webhook URL comes from (slack_webhook).
func (s Sink) WebhookURL() TokenRef {
	return TokenRef{File: s.WebhookURLFile, Env: s.WebhookURLEnv}
}

// BotToken returns where the Slack bot token comes from (slack_bot).
func (s Sink) BotToken() TokenRef {
	return TokenRef{File: s.BotTokenFile, Env: s.BotTokenEnv}
}

// URLSecret returns where a webhook sink's secret URL comes from (webhook,
// when URL is not set).
func (s Sink) URLSecret() TokenRef {
	return TokenRef{File: s.URLFile, Env: s.URLEnv}
}

// HMACSecret returns where a webhook sink's signing secret comes from
// (webhook; zero when requests are not signed).
func (s Sink) HMACSecret() TokenRef {
	return TokenRef{File: s.HMACSecretFile, Env: s.HMACSecretEnv}
}

// omitKey reports whether key does not belong to the sink's type, so that
// the effective config prints only the keys the file may set.
func (s Sink) omitKey(key string) bool {
	t, ok := sinkTypeKeys[key]
	return ok && t != s.Type
}
