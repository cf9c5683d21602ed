package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/discovery"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/fswatch"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
	"github.com/spacetime-vr/spacetime-watch/internal/shard"
)

// reloader is the daemon's one reload path. SIGHUP, POST /-/reload and the
// config file watcher all end in reload, and the target files' watcher in
// applyTargets, run by the daemon's loop, so two applies never overlap.
type reloader struct {
	path   string
	mon    *monitor.Monitor
	alerts *alerting
	own    *ownMetrics
	files  *discovery.Files
	// shard keeps the targets this replica owns (--shard).
	shard shard.Spec
	log   *zap.Logger
	now   func() time.Time
	// cfg is the config file's config that runs now, without the target
	// files' targets: applyTargets adds the files' to it.
	cfg *config.Config
	// requests carries a reload asked for by HTTP or the watcher, with
	// where to send its result; the daemon's loop serves it.
	requests chan chan error
	// targetRequests carries an apply of the target files' targets.
	targetRequests chan chan error
}

func newReloader(path string, cfg *config.Config, mon *monitor.Monitor, alerts *alerting, files *discovery.Files, sh shard.Spec, own *ownMetrics, log *zap.Logger, now func() time.Time) *reloader {
	return &reloader{path: path, cfg: cfg, mon: mon, alerts: alerts, files: files, shard: sh, own: own, log: log, now: now,
		requests: make(chan chan error), targetRequests: make(chan chan error)}
}

// reload loads the config file and applies it, all or nothing: the file is
// validated, the alerting settings checked and every sink built before
// anything is swapped; the monitor applies its targets (the config's and
// the target files') atomically. On failure the old config keeps running,
// every problem is logged and
// spacetime_watch_config_last_reload_successful is 0. A bad target file
// does not fail the reload: it keeps its previous targets (see discovery).
func (r *reloader) reload() error {
	cfg, err := LoadConfig(r.path)
	var set *sinkSet
	if err == nil {
		err = alert.SettingsFrom(cfg.Alerting).Validate()
		set0, serr := r.alerts.buildSinks(cfg.Alerting)
		err, set = errors.Join(err, serr), set0
	}
	var running *config.Config
	if err == nil {
		running, _ = r.files.Targets(cfg) // a bad file is logged and counted there
		err = r.applyMonitor(running)
	}
	if err == nil {
		// Validated above: neither can fail now.
		err = errors.Join(r.alerts.manager.UpdateSettings(alert.SettingsFrom(cfg.Alerting)), r.alerts.swapSinks(set))
	}
	if err != nil {
		r.own.reloadOK(false)
		for _, p := range problems(err) {
			r.log.Error("config reload problem", zap.String("config_file", r.path), zap.String("problem", p))
		}
		r.log.Error("config reload failed; the previous config keeps running", zap.String("config_file", r.path), zap.Error(err))
		return err
	}
	r.cfg = cfg
	r.own.reloadOK(true)
	r.log.Info("config reloaded", zap.String("config_file", r.path), zap.Int("targets", len(running.Targets)), zap.Strings("sinks", set.names))
	logConfigWarnings(r.log, r.path, cfg)
	return nil
}

// applyTargets reads the target files again and applies the running
// config's targets with theirs; the config file is not read again, nor
// any secret. The error is the monitor's (a target it cannot build): a
// bad file is not an error here.
func (r *reloader) applyTargets() error {
	running, _ := r.files.Targets(r.cfg)
	if err := r.applyMonitor(running); err != nil {
		r.log.Error("target files' targets not applied; the previous targets keep running", zap.Error(err))
		return err
	}
	r.log.Info("target files applied", zap.Int("targets", len(running.Targets)))
	return nil
}

// applyMonitor makes the monitor's targets those of cfg's that this shard
// owns (all of them unless sharded), and resolves the alerts
// of every target that left (reason "target removed"): nothing will ever
// resolve them otherwise. Their stored history stays until retention.
func (r *reloader) applyMonitor(cfg *config.Config) error {
	before := r.mon.TargetNames()
	fleet := len(cfg.Targets)
	cfg = shardTargets(cfg, r.shard)
	if err := r.mon.Apply(cfg); err != nil {
		return err
	}
	r.own.watching(r.shard, fleet, len(cfg.Targets))
	for _, name := range before {
		if _, kept := cfg.Target(name); !kept {
			r.resolveAlerts(name)
		}
	}
	return nil
}

// TargetRemovedReason is the reason of the alerts resolved because their
// target left the config or its target file.
const TargetRemovedReason = "target removed"

// resolveAlerts resolves every alert of target that is not resolved yet.
func (r *reloader) resolveAlerts(target string) {
	now := r.now()
	for _, a := range r.alerts.manager.Alerts() {
		if a.Target != target || a.State == alert.StateResolved {
			continue
		}
		r.alerts.manager.Handle(event.Event{Target: a.Target, Name: a.Name, Kind: a.Kind, Severity: a.Severity,
			State: event.StateResolved, At: now, Since: a.StartsAt, Reason: TargetRemovedReason})
	}
}

// problems lists err's problems one by one: the config's validation
// problems, and each error of a join.
func problems(err error) []string {
	if ve, ok := errors.AsType[*config.ValidationError](err); ok {
		out := make([]string, 0, len(ve.Problems))
		for _, p := range ve.Problems {
			out = append(out, p.String())
		}
		return out
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, problems(e)...)
		}
		return out
	}
	return []string{err.Error()}
}

// request has the daemon's loop reload and returns its result, or ctx's
// error when ctx ends first.
func (r *reloader) request(ctx context.Context) error { return ask(ctx, r.requests) }

// requestTargets has the daemon's loop apply the target files (the target
// files' watcher).
func (r *reloader) requestTargets(ctx context.Context) error { return ask(ctx, r.targetRequests) }

// ask sends a request to the daemon's loop and waits for its result, or
// for ctx to end.
func ask(ctx context.Context, requests chan<- chan error) error {
	result := make(chan error, 1)
	select {
	case requests <- result:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handler serves POST and PUT /-/reload as Prometheus and Alertmanager do:
// 200 once the new config runs; 500 with the problems when the reload
// failed (the old config keeps running); 403 without
// --web.enable-lifecycle. The write guard admits it like every write.
func (r *reloader) handler(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if !enabled {
			http.Error(w, "Lifecycle API is not enabled: start the daemon with --web.enable-lifecycle, or send it SIGHUP.", http.StatusForbidden)
			return
		}
		if err := r.request(req.Context()); err != nil {
			http.Error(w, fmt.Sprintf("config reload failed; the previous config keeps running: %v", err), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "config reloaded")
	}
}

// watch reloads when the config file's content changes, until ctx is
// done (--config.auto-reload). It watches the file's directory, not the
// file: an editor's rename and a Kubernetes ConfigMap update (the ..data
// symlink swapped to a new directory) replace the file, which a watch on
// the file itself would lose. After debounce without further events in
// the directory it compares the file's checksum with the last one seen, so
// a touch or an unrelated file reloads nothing and a burst of writes is one
// reload. A content that failed to load is not retried until it changes.
// loaded is the checksum of the file the daemon started with: a change
// before the watch is set up is caught by a first comparison.
func (r *reloader) watch(ctx context.Context, loaded [sha256.Size]byte, debounce time.Duration) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("--config.auto-reload: %w", err)
	}
	defer w.Close()
	dir := filepath.Dir(r.path)
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("--config.auto-reload: watch %s: %w", dir, err)
	}
	last := loaded
	r.log.Info("watching the config file for changes", zap.String("config_file", r.path), zap.Duration("debounce", debounce))
	fswatch.Run(ctx, w, fswatch.Options{
		Debounce: debounce, Logger: r.log,
		Look: func() bool {
			sum, err := checksum(r.path)
			if err != nil {
				r.log.Warn("config file changed but cannot be read; the current config keeps running", zap.String("config_file", r.path), zap.Error(err))
				return true
			}
			if sum == last {
				return true
			}
			last = sum
			r.log.Info("config file content changed: reloading", zap.String("config_file", r.path))
			return r.request(ctx) == nil || ctx.Err() == nil
		},
	})
	return nil
}

// checksum is the SHA-256 of the file at path, through symlinks.
func checksum(path string) ([sha256.Size]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(b), nil
}
