package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
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
// the configured sinks. A reload builds a new sinkSet (buildSinks) and swaps
// it in (swapSinks); the manager and the outbox stay.
type alerting struct {
	manager *alert.Manager
	outbox  *alert.Outbox
	opts    alertingOptions
	log     *zap.Logger
	// missing is spacetime_watch_sink_secret_unavailable.
	missing *prometheus.GaugeVec

	// mgrMu guards failing, which raise reads.
	mgrMu   sync.Mutex
	failing map[string]string // sink → last dead-letter or secret problem

	// mu guards sinks and the runners' context; swapSinks holds it while
	// it stops the old runners and starts the new ones.
	mu     sync.Mutex
	sinks  *sinkSet
	runCtx context.Context // run's context, nil before run
	wg     *sync.WaitGroup // run's wait group
}

// sinkSet is the sinks of one config, built and checked, started by
// installSinks (at start) or swapSinks (a reload).
type sinkSet struct {
	notifiers   []alert.Notifier
	minInterval map[string]time.Duration
	// names are the sinks, in config order.
	names []string
	// runners are sinks with their own loop (Alertmanager's keep-alive),
	// stopped by their cancel.
	runners []*sinkRunner
	// withSecrets are the sinks whose secrets are read at each attempt,
	// with the problem of the read at build time (nil: read).
	withSecrets []*secretSink
	firstRead   map[*secretSink]error
}

// sinkRunner is a sink's loop and, once started, how to stop it.
type sinkRunner struct {
	run    interface{ Run(context.Context) error }
	cancel context.CancelFunc
	done   chan struct{}
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
	// Now is the daemon's clock, Wait its pace (nil: the wall clock's).
	Now  func() time.Time
	Wait func(time.Duration) time.Duration
	// Health registers the manager's and the dispatchers' loops (nil: none).
	Health *health.Registry
	// OwnLabels go on the daemon's own alerts in Alertmanager (a sharded
	// daemon's shard and replica; see ownAlertLabels). Default none.
	OwnLabels map[string]string
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
	a := &alerting{opts: o, log: o.Logger.Named("alert"), failing: map[string]string{}}
	set, err := a.buildSinks(cfg)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	oo := alert.OutboxOptionsFrom(cfg.Outbox)
	oo.Store = o.Store
	oo.Sinks = set.notifiers
	oo.MinInterval = set.minInterval
	oo.Logger = a.log // the outbox names itself
	oo.Registerer = o.Registry
	oo.Now = o.Now
	oo.Health = o.Health
	oo.OnDeadLetter = func(sink, reason string) {
		a.mgrMu.Lock()
		defer a.mgrMu.Unlock()
		a.failing[sink] = reason
		a.raise()
	}
	oo.OnDelivered = func(sink string, _ alert.Message) {
		a.mgrMu.Lock()
		defer a.mgrMu.Unlock()
		if _, ok := a.failing[sink]; ok {
			delete(a.failing, sink)
			a.raise()
		}
	}
	outbox, err := alert.NewOutbox(oo)
	if err != nil {
		return nil, err
	}
	m, err := alert.NewManager(alert.ManagerOptions{
		Store:      o.Store,
		Out:        outbox,
		Settings:   alert.SettingsFrom(cfg),
		Logger:     a.log,
		Registerer: o.Registry,
		Now:        o.Now,
		Wait:       o.Wait,
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
	a.mgrMu.Lock()
	a.manager = m
	a.mgrMu.Unlock()
	a.outbox = outbox

	a.missing = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "spacetime_watch_sink_secret_unavailable",
		Help: "1 while the sink's secret cannot be read (source names the file or variable to fix), else 0; the sink retries, reading it again at each attempt.",
	}, []string{"sink", "source"})
	if o.Registry != nil {
		if err := o.Registry.Register(a.missing); err != nil {
			return nil, fmt.Errorf("alerting: %w", err)
		}
	}
	a.sinks = set
	a.watchSecrets(set)
	return a, nil
}

// raise raises NotificationsFailing while a sink dead-letters or cannot
// read its secret, and resolves it once every such sink delivered again.
// a.mgrMu is held.
func (a *alerting) raise() {
	if a.manager == nil {
		return
	}
	if len(a.failing) == 0 {
		a.manager.RaiseInternal(alert.AlertNotificationsFailing, alert.SeverityCritical, "every sink delivers again", false)
		return
	}
	var parts []string
	for sink, reason := range a.failing {
		parts = append(parts, sink+": "+secret.Clean(reason))
	}
	sort.Strings(parts)
	a.manager.RaiseInternal(alert.AlertNotificationsFailing, alert.SeverityCritical,
		"notifications were given up (see spacetime-watch outbox list): "+strings.Join(parts, "; "), true)
}

// buildSinks builds every sink of cfg and reads their secrets once; it
// starts nothing. It reports every sink that cannot be built. A secret that
// cannot be read is not an error (the sink stays unhealthy until it can);
// one that reads but makes no valid sink (not a URL) is.
func (a *alerting) buildSinks(cfg config.Alerting) (*sinkSet, error) {
	set := &sinkSet{minInterval: map[string]time.Duration{}, firstRead: map[*secretSink]error{}}
	var errs []error
	for _, sc := range cfg.Sinks {
		n, runner, err := buildSink(sc, a.opts, a.log)
		if err == nil {
			if ss, ok := n.(*secretSink); ok {
				_, err = ss.load()
				var unavailable *secret.UnavailableError
				if errors.As(err, &unavailable) {
					set.withSecrets = append(set.withSecrets, ss)
					set.firstRead[ss], err = err, nil
				} else if err == nil {
					set.withSecrets = append(set.withSecrets, ss)
					set.firstRead[ss] = nil
				}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("alerting.sinks %s: %w", sc.Name, err))
			continue
		}
		set.notifiers = append(set.notifiers, n)
		set.names = append(set.names, sc.Name)
		set.minInterval[sc.Name] = sc.MinInterval
		if runner != nil {
			set.runners = append(set.runners, &sinkRunner{run: runner})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

// watchSecrets has set's secret sinks report their health: the metric, a
// log line at each change, and NotificationsFailing. A sink whose secret
// cannot be read is failing from the start: it says so without waiting for
// a message, and delivers again once the secret is there.
func (a *alerting) watchSecrets(set *sinkSet) {
	for _, ss := range set.withSecrets {
		var last string // the problem reported last, to log changes only
		ss.report = func(err error) {
			var unavailable *secret.UnavailableError
			errors.As(err, &unavailable)
			for _, src := range ss.sources {
				down := 0.0
				if unavailable != nil && unavailable.Source.Describe() == src.Describe() {
					down = 1
				}
				a.missing.WithLabelValues(ss.name, src.Describe()).Set(down)
			}
			problem := ""
			if err != nil {
				problem = err.Error()
			}
			a.mgrMu.Lock()
			defer a.mgrMu.Unlock()
			if problem == last {
				return
			}
			last = problem
			if problem == "" {
				a.log.Info("sink healthy again: its secret was read", zap.String("sink", ss.name))
				return // NotificationsFailing resolves at its next delivery
			}
			a.log.Error("sink unhealthy: its secret cannot be read; it retries, reading it again at each attempt",
				zap.String("sink", ss.name), zap.String("problem", problem))
			a.failing[ss.name] = problem
			a.raise()
		}
		ss.report(set.firstRead[ss])
	}
}

// sinkNames returns the configured sinks, in config order.
func (a *alerting) sinkNames() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.sinks.names)
}

// swapSinks puts a reloaded config's sinks in place of the running ones:
// the outbox keeps the queue of a sink whose name stays and dead-letters a
// removed sink's (not a delivery failure: a removed sink no longer counts
// towards NotificationsFailing); the old sinks' loops stop and the new
// ones start. set was built by buildSinks; swapSinks cannot fail for a
// config that loaded.
func (a *alerting) swapSinks(set *sinkSet) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.sinks
	for _, ss := range old.withSecrets {
		a.missing.DeletePartialMatch(prometheus.Labels{"sink": ss.name})
	}
	a.watchSecrets(set) // before the outbox may call the new sinks
	if err := a.outbox.UpdateSinks(set.notifiers, set.minInterval); err != nil {
		return err
	}
	for _, r := range old.runners {
		if r.cancel != nil {
			r.cancel()
			<-r.done
		}
	}
	a.mgrMu.Lock()
	changed := false
	for sink := range a.failing {
		if !slices.Contains(set.names, sink) {
			delete(a.failing, sink)
			changed = true
		}
	}
	if changed {
		a.raise()
	}
	a.mgrMu.Unlock()
	a.sinks = set
	if a.runCtx != nil {
		a.startRunners(set)
	}
	return nil
}

// startRunners starts set's sink loops under run's context; a.mu is held.
func (a *alerting) startRunners(set *sinkSet) {
	for _, r := range set.runners {
		ctx, cancel := context.WithCancel(a.runCtx)
		r.cancel, r.done = cancel, make(chan struct{})
		a.wg.Go(func() {
			defer close(r.done)
			a.logStop("sink", r.run.Run(ctx))
		})
	}
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
			OwnLabels:       o.OwnLabels,
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

// run runs the manager, the outbox and the sinks' loops until ctx is done;
// the sinks' loops of later reloads join wg too.
func (a *alerting) run(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { a.logStop("alert manager", a.manager.Run(ctx)) })
	wg.Go(func() { a.logStop("outbox", a.outbox.Run(ctx)) })
	a.mu.Lock()
	defer a.mu.Unlock()
	a.runCtx, a.wg = ctx, wg
	a.startRunners(a.sinks)
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
