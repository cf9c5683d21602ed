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
	"github.com/spacetime-vr/spacetime-watch/internal/health"
	"github.com/spacetime-vr/spacetime-watch/internal/secret"
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
	// Health registers the manager's and the dispatchers' loops (nil: none).
	Health *health.Registry
}

// newAlerting builds the sinks, the outbox and the manager. A sink's
// secret is read at each of its attempts (secretSink): one missing at start
// leaves that sink unhealthy, not the daemon down; one that reads but makes
// no valid sink (not a URL) is a config error.
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
	var withSecrets []*secretSink
	minInterval := map[string]time.Duration{}
	for _, sc := range cfg.Sinks {
		n, runner, err := buildSink(sc, o, log)
		if err != nil {
			return nil, &ConfigError{Err: fmt.Errorf("alerting.sinks %s: %w", sc.Name, err)}
		}
		if ss, ok := n.(*secretSink); ok {
			withSecrets = append(withSecrets, ss)
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
			parts = append(parts, sink+": "+secret.Clean(reason))
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
		Health:         o.Health,
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
		Health:     o.Health,
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

	// A sink whose secret cannot be read is failing from the start: it
	// says so (metric, log, NotificationsFailing) without waiting for a
	// message, and delivers again once the secret is there.
	missing := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "spacetime_watch_sink_secret_unavailable",
		Help: "1 while the sink's secret cannot be read (source names the file or variable to fix), else 0; the sink retries, reading it again at each attempt.",
	}, []string{"sink", "source"})
	if o.Registry != nil {
		if err := o.Registry.Register(missing); err != nil {
			return nil, fmt.Errorf("alerting: %w", err)
		}
	}
	for _, ss := range withSecrets {
		var last string // the problem reported last, to log changes only
		ss.report = func(err error) {
			var unavailable *secret.UnavailableError
			errors.As(err, &unavailable)
			for _, src := range ss.sources {
				down := 0.0
				if unavailable != nil && unavailable.Source.Describe() == src.Describe() {
					down = 1
				}
				missing.WithLabelValues(ss.name, src.Describe()).Set(down)
			}
			problem := ""
			if err != nil {
				problem = err.Error()
			}
			mgrMu.Lock()
			defer mgrMu.Unlock()
			if problem == last {
				return
			}
			last = problem
			if problem == "" {
				log.Info("sink healthy again: its secret was read", zap.String("sink", ss.name))
				return // NotificationsFailing resolves at its next delivery
			}
			log.Error("sink unhealthy: its secret cannot be read; it retries, reading it again at each attempt",
				zap.String("sink", ss.name), zap.String("problem", problem))
			failing[ss.name] = problem
			raise()
		}
		if _, err := ss.load(); err != nil {
			var unavailable *secret.UnavailableError
			if !errors.As(err, &unavailable) {
				return nil, &ConfigError{Err: fmt.Errorf("alerting.sinks %s: %w", ss.name, err)}
			}
			ss.report(err)
		} else {
			ss.report(nil)
		}
	}
	return a, nil
}

// buildSink makes one sink's notifier, and its loop when it has one. A
// sink with secrets is a *secretSink, whose report newAlerting sets.
func buildSink(sc config.Sink, o alertingOptions, log *zap.Logger) (alert.Notifier, interface{ Run(context.Context) error }, error) {
	withSecrets := func(build func(values []string) (alert.Notifier, error), refs ...config.TokenRef) *secretSink {
		ss := &secretSink{name: sc.Name, build: build}
		for _, ref := range refs {
			ss.sources = append(ss.sources, sourceOf(ref, o.Getenv))
		}
		return ss
	}
	switch sc.Type {
	case config.SinkSlackWebhook:
		return withSecrets(func(v []string) (alert.Notifier, error) {
			return slack.New(slack.Options{Name: sc.Name, WebhookURL: v[0], Timeout: sc.Timeout})
		}, sc.WebhookURL()), nil, nil
	case config.SinkSlackBot:
		return withSecrets(func(v []string) (alert.Notifier, error) {
			opts := slackbot.Options{Name: sc.Name, Token: v[0], Channel: sc.Channel, KV: storeKV{st: o.Store, prefix: "sink/" + sc.Name + "/"}}
			if sc.APIURL != nil {
				opts.APIURL = sc.APIURL.String()
			}
			return slackbot.New(opts)
		}, sc.BotToken()), nil, nil
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
		var refs []config.TokenRef
		if sc.URL == nil {
			refs = append(refs, sc.URLSecret())
		}
		if ref := sc.HMACSecret(); !ref.IsZero() {
			refs = append(refs, ref)
		}
		build := func(v []string) (alert.Notifier, error) {
			opts := webhook.Options{Name: sc.Name, Timeout: sc.Timeout, MaxAlerts: sc.MaxAlerts, Logger: log.Named(sc.Name)}
			if sc.URL != nil {
				opts.URL = sc.URL.String()
			} else {
				opts.URL, v = v[0], v[1:]
			}
			if len(v) > 0 {
				opts.HMACSecret = v[0]
			}
			return webhook.New(opts)
		}
		if len(refs) == 0 {
			n, err := build(nil)
			return n, nil, err
		}
		return withSecrets(build, refs...), nil, nil
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
