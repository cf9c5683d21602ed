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
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
)

// reloader is the daemon's one reload path. SIGHUP, POST /-/reload and the
// config file watcher all end in reload, run by the daemon's loop, so two
// reloads never overlap.
type reloader struct {
	path   string
	mon    *monitor.Monitor
	alerts *alerting
	own    *ownMetrics
	log    *zap.Logger
	// requests carries a reload asked for by HTTP or the watcher, with
	// where to send its result; the daemon's loop serves it.
	requests chan chan error
}

func newReloader(path string, mon *monitor.Monitor, alerts *alerting, own *ownMetrics, log *zap.Logger) *reloader {
	return &reloader{path: path, mon: mon, alerts: alerts, own: own, log: log, requests: make(chan chan error)}
}

// reload loads the config file and applies it, all or nothing: the file is
// validated, the alerting settings checked and every sink built before
// anything is swapped; the monitor applies its targets atomically. On
// failure the old config keeps running, every problem is logged and
// spacetime_watch_config_last_reload_successful is 0.
func (r *reloader) reload() error {
	cfg, err := LoadConfig(r.path)
	var set *sinkSet
	if err == nil {
		err = alert.SettingsFrom(cfg.Alerting).Validate()
		set0, serr := r.alerts.buildSinks(cfg.Alerting)
		err, set = errors.Join(err, serr), set0
	}
	if err == nil {
		err = r.mon.Apply(cfg)
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
	r.own.reloadOK(true)
	r.log.Info("config reloaded", zap.String("config_file", r.path), zap.Int("targets", len(cfg.Targets)), zap.Strings("sinks", set.names))
	logConfigWarnings(r.log, r.path, cfg)
	return nil
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
func (r *reloader) request(ctx context.Context) error {
	result := make(chan error, 1)
	select {
	case r.requests <- result:
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
	timer := time.NewTimer(0) // the first comparison
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			r.log.Debug("config directory changed", zap.String("event", ev.String()))
			timer.Reset(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.log.Warn("config file watch: an event may be lost", zap.Error(err))
			timer.Reset(debounce)
		case <-timer.C:
			sum, err := checksum(r.path)
			if err != nil {
				r.log.Warn("config file changed but cannot be read; the current config keeps running", zap.String("config_file", r.path), zap.Error(err))
				continue
			}
			if sum == last {
				continue
			}
			last = sum
			r.log.Info("config file content changed: reloading", zap.String("config_file", r.path))
			if err := r.request(ctx); err != nil && ctx.Err() != nil {
				return nil
			}
		}
	}
}

// checksum is the SHA-256 of the file at path, through symlinks.
func checksum(path string) ([sha256.Size]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(b), nil
}
