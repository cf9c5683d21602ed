package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/alertmanager"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/console"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slack"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackbot"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/webhook"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// alerting is the notification pipeline: the alert manager (lifecycle,
// grouping, grace, silences) feeding the durable outbox, which delivers to
// the configured sinks.
type alerting struct {
	manager *alert.Manager
	outbox  *alert.Outbox
	// runners are sinks with their own loop (Alertmanager's keep-alive).
	runners []interface{ Run(context.Context) error }
	// sinkNames are the configured sinks, in config order.
	sinkNames []string
	log       *zap.Logger
}

// alertingOptions are what newAlerting needs besides the config.
type alertingOptions struct {
	Store    *store.Store
	Registry prometheus.Registerer
	Logger   *zap.Logger
	// Console is where console sinks write (default os.Stdout).
	Console io.Writer
	// Getenv resolves *_env secrets (default os.Getenv).
	Getenv func(string) string
	// Now is the daemon's clock.
	Now func() time.Time
}

// newAlerting builds the sinks (resolving their secrets), the outbox and the
// manager. A sink whose secret cannot be read is a config error: better
// refuse to start than run an alerting pipeline that cannot deliver.
func newAlerting(cfg config.Alerting, o alertingOptions) (*alerting, error) {
	if o.Console == nil {
		o.Console = os.Stdout
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	log := o.Logger.Named("alert")
	a := &alerting{log: log}
	var sinks []alert.Notifier
	minInterval := map[string]time.Duration{}
	for _, sc := range cfg.Sinks {
		n, runner, err := buildSink(sc, o, log)
		if err != nil {
			return nil, &ConfigError{Err: fmt.Errorf("alerting.sinks %s: %w", sc.Name, err)}
		}
		sinks = append(sinks, n)
		a.sinkNames = append(a.sinkNames, sc.Name)
		minInterval[sc.Name] = sc.MinInterval
		if runner != nil {
			a.runners = append(a.runners, runner)
		}
	}

	// The manager raises NotificationsFailing when a sink dead-letters, and
	// resolves it once every sink that failed has delivered again. It does
	// not exist yet when the outbox is built, hence the indirection.
	var mgr *alert.Manager
	var mgrMu sync.Mutex
	failing := map[string]string{} // sink → last dead-letter reason
	raise := func() {
		if mgr == nil {
			return
		}
		if len(failing) == 0 {
			mgr.RaiseInternal(alert.AlertNotificationsFailing, alert.SeverityCritical, "every sink delivers again", false)
			return
		}
		var parts []string
		for sink, reason := range failing {
			parts = append(parts, sink+": "+reason)
		}
		sort.Strings(parts)
		mgr.RaiseInternal(alert.AlertNotificationsFailing, alert.SeverityCritical,
			"notifications were given up (see spacetime-watch outbox list): "+strings.Join(parts, "; "), true)
	}
	outbox, err := alert.NewOutbox(alert.OutboxOptions{
		Store:          o.Store,
		Sinks:          sinks,
		MinInterval:    minInterval,
		BackoffInitial: cfg.Outbox.BackoffInitial,
		BackoffMax:     cfg.Outbox.BackoffMax,
		Logger:         log, // the outbox names itself
		Registerer:     o.Registry,
		Now:            o.Now,
		OnDeadLetter: func(sink, reason string) {
			mgrMu.Lock()
			defer mgrMu.Unlock()
			failing[sink] = reason
			raise()
		},
		OnDelivered: func(sink string, _ alert.Message) {
			mgrMu.Lock()
			defer mgrMu.Unlock()
			if _, ok := failing[sink]; ok {
				delete(failing, sink)
				raise()
			}
		},
	})
	if err != nil {
		return nil, err
	}
	m, err := alert.NewManager(alert.ManagerOptions{
		Store:      o.Store,
		Out:        outbox,
		Settings:   alert.SettingsFrom(cfg),
		Logger:     log,
		Registerer: o.Registry,
		Now:        o.Now,
		Deployment: func(target string) *alert.Deployment {
			d, ok, err := o.Store.CurrentDeployment(target)
			if err != nil || !ok {
				return nil
			}
			return &alert.Deployment{ID: d.ID, Version: d.Version, StartedAt: d.StartedAt}
		},
	})
	if err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("alerting: %w", err)}
	}
	mgrMu.Lock()
	mgr = m
	mgrMu.Unlock()
	a.manager, a.outbox = m, outbox
	return a, nil
}

// buildSink makes one sink's notifier, and its loop when it has one.
func buildSink(sc config.Sink, o alertingOptions, log *zap.Logger) (alert.Notifier, interface{ Run(context.Context) error }, error) {
	switch sc.Type {
	case config.SinkSlackWebhook:
		url, err := resolveSecret(sc.WebhookURL(), o.Getenv)
		if err != nil {
			return nil, nil, err
		}
		n, err := slack.New(slack.Options{Name: sc.Name, WebhookURL: url, Timeout: sc.Timeout})
		return n, nil, err
	case config.SinkSlackBot:
		token, err := resolveSecret(sc.BotToken(), o.Getenv)
		if err != nil {
			return nil, nil, err
		}
		opts := slackbot.Options{Name: sc.Name, Token: token, Channel: sc.Channel, KV: storeKV{st: o.Store, prefix: "sink/" + sc.Name + "/"}}
		if sc.APIURL != nil {
			opts.APIURL = sc.APIURL.String()
		}
		n, err := slackbot.New(opts)
		return n, nil, err
	case config.SinkAlertmanager:
		urls := make([]string, 0, len(sc.URLs))
		for _, u := range sc.URLs {
			urls = append(urls, u.String())
		}
		host, _ := os.Hostname()
		n, err := alertmanager.New(alertmanager.Options{
			Name: sc.Name, URLs: urls, Timeout: sc.Timeout, Now: o.Now, ResendInterval: sc.ResendInterval, Heartbeat: sc.Heartbeat,
			// The keep-alive set survives restarts; heartbeats of several
			// daemons stay apart, and their copies of one alert are one
			// alert to Alertmanager (reliability scenario 20).
			KV:              storeKV{st: o.Store, prefix: "sink/" + sc.Name + "/"},
			HeartbeatLabels: map[string]string{"instance": host},
			Logger:          log.Named(sc.Name),
		})
		if err != nil {
			return nil, nil, err
		}
		return n, n, nil
	case config.SinkWebhook:
		opts := webhook.Options{Name: sc.Name, Timeout: sc.Timeout, MaxAlerts: sc.MaxAlerts, Logger: log.Named(sc.Name)}
		if sc.URL != nil {
			opts.URL = sc.URL.String()
		} else {
			url, err := resolveSecret(sc.URLSecret(), o.Getenv)
			if err != nil {
				return nil, nil, err
			}
			opts.URL = url
		}
		if ref := sc.HMACSecret(); !ref.IsZero() {
			secret, err := resolveSecret(ref, o.Getenv)
			if err != nil {
				return nil, nil, err
			}
			opts.HMACSecret = secret
		}
		n, err := webhook.New(opts)
		return n, nil, err
	case config.SinkConsole:
		return console.New(o.Console, sc.Name), nil, nil
	}
	return nil, nil, fmt.Errorf("unknown sink type %q", sc.Type)
}

// run runs the manager, the outbox and the sinks' loops until ctx is done.
func (a *alerting) run(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { a.logStop("alert manager", a.manager.Run(ctx)) })
	wg.Go(func() { a.logStop("outbox", a.outbox.Run(ctx)) })
	for _, r := range a.runners {
		wg.Go(func() { a.logStop("sink", r.Run(ctx)) })
	}
}

func (a *alerting) logStop(what string, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		a.log.Error(what+" stopped", zap.Error(err))
	}
}

// storeKV is a sink's key-value space in the store's meta bucket.
type storeKV struct {
	st     *store.Store
	prefix string
}

func (k storeKV) Get(key string) ([]byte, bool, error) { return k.st.GetMeta(k.prefix + key) }
func (k storeKV) Put(key string, v []byte) error       { return k.st.PutMeta(k.prefix+key, v) }
func (k storeKV) Delete(key string) error              { return k.st.DeleteMeta(k.prefix + key) }

// resolveSecret reads a sink's secret from its file or environment
// variable. Errors name where it was looked for, never the value.
func resolveSecret(ref config.TokenRef, getenv func(string) string) (string, error) {
	switch {
	case ref.File != "":
		b, err := os.ReadFile(ref.File)
		if err != nil {
			return "", fmt.Errorf("secret %s: %w", ref.Describe(), err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("secret %s is empty", ref.Describe())
		}
		return v, nil
	case ref.Env != "":
		v := strings.TrimSpace(getenv(ref.Env))
		if v == "" {
			return "", fmt.Errorf("secret %s is not set or empty", ref.Describe())
		}
		return v, nil
	}
	return "", fmt.Errorf("no secret configured (set the *_file or *_env field)")
}
