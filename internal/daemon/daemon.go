// Package daemon runs spacetime-watch as a service: it opens the state,
// loads the config, runs the monitor, serves /metrics and the daemon's API,
// reloads on SIGHUP, POST /-/reload or a changed file, and speaks systemd's notify protocol.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/discovery"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/failpoint"
	"github.com/spacetime-vr/spacetime-watch/internal/health"
	"github.com/spacetime-vr/spacetime-watch/internal/logging"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
	"github.com/spacetime-vr/spacetime-watch/internal/procmetrics"
	"github.com/spacetime-vr/spacetime-watch/internal/shard"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/version"
)

// Options configure Run.
type Options struct {
	// ConfigFile is the YAML config (--config.file).
	ConfigFile string
	// StateDir holds the state database (--state.dir).
	StateDir string
	// Web holds the listen addresses and the web config file (TLS, basic
	// auth), from exporter-toolkit's kingpin flags.
	Web *web.FlagConfig
	// Listener, when set, is served instead of Web's listen addresses
	// (the demo and tests listen on 127.0.0.1:0).
	Listener net.Listener
	// Logger is the daemon's logger. Default: no logging.
	Logger *zap.Logger
	// Reload delivers SIGHUP: reload the config.
	Reload <-chan struct{}
	// EnableLifecycle serves POST and PUT /-/reload
	// (--web.enable-lifecycle). Default false: 403.
	EnableLifecycle bool
	// EnablePprof serves Go's runtime profiles under /debug/pprof/
	// (--web.enable-pprof), behind the web config's authentication like
	// every path. Default false: 404.
	EnablePprof bool
	// AutoReload reloads the config when the file's content changes
	// (--config.auto-reload). Default false.
	AutoReload bool
	// AutoReloadDebounce is how long auto-reload waits after the last
	// change before it compares the file's checksum. Default
	// config.DefaultAutoReloadDebounce (1s).
	AutoReloadDebounce time.Duration
	// StatusPageRefresh is how often the status page at / refreshes
	// itself. Default config.DefaultStatusPageRefresh (10s).
	StatusPageRefresh time.Duration
	// TargetFilesDebounce is how long the target files' watcher waits
	// after the last change in their folders before it reads them.
	// Default config.DefaultTargetFilesDebounce (1s).
	TargetFilesDebounce time.Duration
	// Shard, when it splits the fleet (--shard=K/N, or
	// --shard.from-hostname), keeps the targets that rendezvous hashing
	// assigns to shard K, of the config's and the target files'; the
	// daemon's own alerts then carry shard and replica (the hostname)
	// labels. Default: the zero Spec, every target.
	Shard shard.Spec
	// Sink receives rule and check events besides the alerting pipeline. Optional.
	Sink event.Sink
	// Console is where console sinks write. Default os.Stdout.
	Console io.Writer
	// Reviews tunes how fast reviews follow the clock (the demo).
	Reviews ReviewTiming
	// Registry is where metrics are registered. Default: a new registry.
	Registry *prometheus.Registry
	// Notifier speaks systemd's notify protocol. Default: sd_notify, a
	// no-op outside systemd.
	Notifier Notifier
	// LockTimeout is how long to wait for another daemon's lock on the
	// state dir. Default: config.StoreLockTimeout (1s).
	LockTimeout time.Duration
	// BackupInterval is how often the state is copied to state.db.bak,
	// the last good copy. Default: config.StoreBackupInterval (1h).
	BackupInterval time.Duration
	// StatusInterval is how often the daemon looks whether its STATUS=
	// line for systemd changed (it sends it only then). Default
	// config.DefaultStatusInterval (5s).
	StatusInterval time.Duration
	// Ready, when set, is called once the daemon serves, with its address.
	Ready func(addr net.Addr)
	// Now is the clock every decision reads: the store's retention, rule
	// and alert timers, silences, grace, schedules and reviews. Default
	// clock.Now; tests inject their own.
	Now func() time.Time
	// Wait, when set, is the pace of a scaled Now (clock.Scaled.Wait, the
	// demo's): how long the wall clock takes for a span of Now's time. The
	// loops that time their work on Now sleep by it: the check schedule,
	// the review feed and ticks, the alert manager. The health registry
	// then reads the wall clock, its deadlines being real waits.
	// Default: none (Now is the wall clock's pace, clock.Wait).
	Wait func(time.Duration) time.Duration
	// ExternalHosts are more host names a write request's Host header may
	// carry (--web.external-host), besides localhost, loopback addresses,
	// the address the client connected to and the machine's hostname: the
	// names the daemon is reached by through DNS or a proxy. Default: none.
	ExternalHosts []string
}

// ConfigError is a config that cannot be loaded: the daemon exits 3.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// ListenError is a --web.listen-address the daemon could not listen on.
// Run returns it (wrapped in a *ConfigError when the address is malformed);
// the CLI tells a refused privilege, which a restart cannot fix, from an
// address in use, which one may.
type ListenError struct {
	// Addr is the address as given.
	Addr string
	// Err is net.Listen's error.
	Err error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("--web.listen-address %s: %v", e.Addr, e.Err)
}
func (e *ListenError) Unwrap() error { return e.Err }

// ShutdownTimeout bounds a graceful shutdown: SIGTERM to exit within 10 s.
const ShutdownTimeout = 8 * time.Second

// Run runs the daemon until ctx is done. It returns a *ConfigError for a
// config that cannot be loaded and an error matching store.ErrLocked when
// another daemon holds the state dir.
func Run(ctx context.Context, opts Options) error {
	opts = withDefaults(opts)
	log := opts.Logger
	if opts.Listener != nil {
		// Ours from here on: closed on every early return, and by the
		// server's shutdown once it serves.
		defer opts.Listener.Close()
	}

	// Summed before the load: a change in between reloads once more.
	loadedSum, _ := checksum(opts.ConfigFile)
	cfg, err := LoadConfig(opts.ConfigFile)
	if err != nil {
		return &ConfigError{Err: err}
	}
	logConfigWarnings(log, opts.ConfigFile, cfg)
	if path := *opts.Web.WebConfigFile; path != "" {
		if err := web.Validate(path); err != nil {
			return &ConfigError{Err: fmt.Errorf("--web.config.file %s: %w", path, err)}
		}
	}
	// Without a hostname, the addresses and --web.external-host still name
	// the daemon.
	hostname, _ := os.Hostname()
	guard, err := newWriteGuard(*opts.Web.WebConfigFile, hostname, opts.ExternalHosts, log.Named("api"))
	if err != nil {
		return &ConfigError{Err: err}
	}
	st, err := store.Open(opts.StateDir, store.Options{
		LockTimeout:       opts.LockTimeout,
		Now:               opts.Now,
		DeploymentHistory: config.StoreDeploymentHistory,
		CheckHistory:      config.StoreCheckHistory,
		CheckRetention:    config.StoreCheckRetention,
		DeadLetters:       config.StoreDeadLetters,
		RollupRetention:   config.StoreRollupRetention,
		RollupHistory:     config.StoreRollupHistory,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Backup(); err != nil {
			log.Warn("cannot write the state backup", zap.Error(err))
		}
		if err := st.Close(); err != nil {
			log.Warn("cannot close the state", zap.Error(err))
		}
	}()

	reg := newExposition(opts.Registry)
	own := newOwnMetrics(reg)
	// Every long-running loop reports to hr; the watchdog and /-/healthy
	// ask it. A busy step may take half the watchdog interval.
	watchdog := opts.Notifier.WatchdogInterval()
	healthNow := opts.Now
	if opts.Wait != nil {
		healthNow = clock.Now // a scaled Now: the loops' deadlines are real waits
	}
	hr := health.New(healthNow, health.BudgetFor(watchdog))
	alerts, err := newAlerting(cfg.Alerting, alertingOptions{Store: st, Registry: reg, Logger: log, Console: opts.Console, Now: opts.Now, Wait: opts.Wait, Health: hr, OwnLabels: ownAlertLabels(opts.Shard)})
	if err != nil {
		return err
	}
	// The daemon's own condition: state found damaged, at start or while
	// running, resolved by the next clean start.
	guardState := newStateGuard(alerts.manager, own, log, opts.Now)
	st.OnRecovered(guardState.recovered)
	guardState.recovered(st.Report())

	revs, err := newReviews(st, opts.StateDir, alerts.outbox, opts.Reviews, reg, log, opts.Now, opts.Wait, hr)
	if err != nil {
		return err
	}

	metrics := monitor.NewMetrics(reg)
	mon := monitor.New(monitor.Options{
		Store:          st,
		Metrics:        metrics,
		Sink:           fanout{alerts.manager, opts.Sink}, // the watcher and the runner log every event themselves
		Logger:         log,
		Reviews:        revs,
		RecorderSettle: opts.Reviews.Settle,
		Now:            opts.Now,
		Wait:           opts.Wait,
		Health:         hr,
	})
	files := discovery.New(discovery.Options{Registry: reg, Logger: log})
	// Start-up applies the first targets through the reload path.
	rl := newReloader(opts.ConfigFile, cfg, mon, alerts, files, opts.Shard, own, log, opts.Now)
	running, _ := files.Targets(cfg) // a bad target file is logged and counted there
	if err := rl.applyMonitor(running); err != nil {
		return &ConfigError{Err: err}
	}
	own.reloadOK(true)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	alerts.run(ctx, &wg)
	wg.Go(func() {
		if err := revs.svc.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("review service stopped", zap.Error(err))
		}
	})
	monErr := make(chan error, 1)
	wg.Go(func() { monErr <- mon.Run(ctx) })
	guardState.mon = mon
	wg.Go(func() { guardState.run(ctx) })

	wg.Go(func() {
		if err := files.Watch(ctx, opts.TargetFilesDebounce, config.DefaultTargetFilesRefresh, rl.requestTargets); err != nil {
			log.Error("target files watch stopped; SIGHUP and /-/reload still read them", zap.Error(err))
		}
	})
	if opts.AutoReload {
		wg.Go(func() {
			if err := rl.watch(ctx, loadedSum, opts.AutoReloadDebounce); err != nil {
				log.Error("config auto-reload stopped; SIGHUP and /-/reload still reload", zap.Error(err))
			}
		})
	}

	srv, serveErr, err := serve(ctx, opts, guard.wrap(newHandler(mon, alerts, revs, st, reg, hr, log, rl.handler(opts.EnableLifecycle), opts.StatusPageRefresh, opts.EnablePprof)))
	if err != nil {
		cancel()
		wg.Wait()
		return err
	}
	opts.Notifier.Notify("READY=1")
	status := &statusReporter{notifier: opts.Notifier, mon: mon, alerts: alerts, log: log}
	status.update()
	statusTick := time.NewTicker(opts.StatusInterval)
	defer statusTick.Stop()
	log.Info("spacetime-watch started", zap.String("version", version.Version()), zap.Int("targets", len(running.Targets)), zap.String("state_dir", opts.StateDir))

	var watchdogTick <-chan time.Time
	// The loop wakes at least every wake: a watchdog or status tick, or a backup.
	wake := min(opts.BackupInterval, opts.StatusInterval)
	if watchdog > 0 {
		t := time.NewTicker(watchdog / 2)
		defer t.Stop()
		watchdogTick = t.C
		wake = min(wake, watchdog/2)
	}
	backup := time.NewTicker(opts.BackupInterval)
	defer backup.Stop()
	hl := hr.Register("daemon")
	defer hl.Unregister()
	var lastStuck string

	var runErr error
loop:
	for {
		hl.For(wake)
		select {
		case <-ctx.Done():
			break loop
		case err := <-serveErr:
			runErr = fmt.Errorf("web server: %w", err)
			break loop
		case err := <-monErr:
			runErr = err
			break loop
		case <-opts.Reload:
			hl.Busy()
			_ = rl.reload() // logged
			status.update()
		case result := <-rl.requests:
			hl.Busy()
			result <- rl.reload()
			status.update()
		case result := <-rl.targetRequests:
			hl.Busy()
			result <- rl.applyTargets()
			status.update()
		case <-statusTick.C:
			hl.Busy()
			status.update()
		case <-watchdogTick:
			// WATCHDOG=1 only while every loop reported within its
			// deadline: a wedged loop must get the service restarted.
			hl.Busy()
			failpoint.Wedge(fpWedgeDaemon)
			stuck := health.Report(hr.Stuck(), hr.Now())
			if stuck == "" {
				opts.Notifier.Notify("WATCHDOG=1")
			} else if stuck != lastStuck {
				log.Error("a loop is stuck; withholding the watchdog ping", zap.String("stuck", stuck))
			}
			lastStuck = stuck
		case <-backup.C:
			hl.Busy()
			if err := st.Backup(); err != nil {
				log.Warn("cannot write the state backup", zap.Error(err))
			}
			dropRemovedTargets(st, mon.TargetNames(), log)
		}
	}

	opts.Notifier.Notify("STOPPING=1")
	log.Info("shutting down")
	shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer done()
	cancel()
	wg.Wait() // the monitor drained its scheduled rounds and closed its connections
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("web server did not shut down cleanly", zap.Error(err))
	}
	return runErr
}

func withDefaults(opts Options) Options {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Notifier == nil {
		opts.Notifier = SystemdNotifier{}
	}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = config.StoreLockTimeout
	}
	if opts.StatusInterval <= 0 {
		opts.StatusInterval = config.DefaultStatusInterval
	}
	if opts.BackupInterval <= 0 {
		opts.BackupInterval = config.StoreBackupInterval
	}
	if opts.AutoReloadDebounce <= 0 {
		opts.AutoReloadDebounce = config.DefaultAutoReloadDebounce
	}
	if opts.TargetFilesDebounce <= 0 {
		opts.TargetFilesDebounce = config.DefaultTargetFilesDebounce
	}
	if opts.Web == nil {
		addrs := []string{":9850"}
		none := ""
		noSocket := false
		opts.Web = &web.FlagConfig{WebListenAddresses: &addrs, WebConfigFile: &none, WebSystemdSocket: &noSocket}
	}
	return opts
}

// serve starts the web server on opts.Listener or on the listeners of
// opts.Web (see listen), with the web config's TLS and basic auth.
func serve(ctx context.Context, opts Options, h http.Handler) (*http.Server, <-chan error, error) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	slog := logging.Slog(opts.Logger.Named("web"))
	var listeners []net.Listener
	if opts.Listener != nil {
		listeners = []net.Listener{opts.Listener}
	} else {
		var err error
		if listeners, err = listen(opts.Web); err != nil {
			return nil, nil, err
		}
	}
	errc := make(chan error, 1)
	go func() {
		err := web.ServeMultiple(listeners, srv, opts.Web, slog)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	if opts.Ready != nil {
		opts.Ready(listeners[0].Addr())
	}
	return srv, errc, nil
}

// ownMetrics are the daemon's metrics about itself.
type ownMetrics struct {
	targets         *prometheus.GaugeVec
	fleetTargets    prometheus.Gauge
	shards          prometheus.Gauge
	reloadSuccess   prometheus.Gauge
	reloadTimestamp prometheus.Gauge
	stateLoadErrors prometheus.Counter
}

func newOwnMetrics(reg prometheus.Registerer) *ownMetrics {
	m := &ownMetrics{
		targets: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "spacetime_watch_targets",
			Help: "Targets the daemon watches now: those of the config file's and the target files' that its shard owns (all of them unless --shard), by shard (K of --shard=K/N; 0 unless sharded).",
		}, []string{"shard"}),
		fleetTargets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spacetime_watch_fleet_targets",
			Help: "Targets the config file and the target files name, before sharding: the shards' spacetime_watch_targets add up to it.",
		}),
		shards: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spacetime_watch_shards",
			Help: "How many shards the fleet is split into (N of --shard=K/N; 1 unless sharded).",
		}),
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spacetime_watch_config_last_reload_successful",
			Help: "1 if the last config load or reload succeeded, 0 if it failed (the previous config keeps running).",
		}),
		reloadTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spacetime_watch_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful config load or reload.",
		}),
		stateLoadErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spacetime_watch_state_load_errors_total",
			Help: "Times the state database was found damaged, at start or while running, and recovered.",
		}),
	}
	reg.MustRegister(m.targets, m.fleetTargets, m.shards, m.reloadSuccess, m.reloadTimestamp, m.stateLoadErrors, version.NewCollector(),
		collectors.NewGoCollector(), procmetrics.New())
	return m
}

// watching records the targets applied: fleet is every target named,
// mine those this shard watches.
func (m *ownMetrics) watching(s shard.Spec, fleet, mine int) {
	m.shards.Set(float64(max(s.Count, 1)))
	m.fleetTargets.Set(float64(fleet))
	m.targets.WithLabelValues(s.Label()).Set(float64(mine))
}

func (m *ownMetrics) reloadOK(ok bool) {
	if ok {
		m.reloadSuccess.Set(1)
		m.reloadTimestamp.SetToCurrentTime()
		return
	}
	m.reloadSuccess.Set(0)
}

// dropRemovedTargets deletes from the state the targets no longer watched
// whose history is past retention: a removed target's history no longer
// trims itself.
func dropRemovedTargets(st *store.Store, watched []string, log *zap.Logger) {
	stale, err := st.StaleTargets(watched)
	if err != nil {
		log.Warn("cannot list the removed targets' history", zap.Error(err))
	}
	for _, name := range stale {
		if err := st.DeleteTarget(name); err != nil {
			log.Warn("cannot drop a removed target's history", zap.String("target", name), zap.Error(err))
			continue
		}
		log.Info("removed target's history dropped after retention", zap.String("target", name))
	}
}

// fanout passes each event to every non-nil sink.
type fanout []event.Sink

// Handle passes ev to each sink in turn.
func (f fanout) Handle(ev event.Event) {
	for _, s := range f {
		if s != nil {
			s.Handle(ev)
		}
	}
}

// fpWedgeDaemon wedges the daemon's own loop (the liveness tests): the one
// that sends WATCHDOG=1, so the watchdog stops with it, while /-/healthy,
// served elsewhere, names it.
var fpWedgeDaemon = failpoint.Declare("wedge-daemon")
