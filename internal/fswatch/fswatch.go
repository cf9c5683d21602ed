// Package fswatch is the loop behind the daemon's file watchers (the
// config file's --config.auto-reload and the target files): fsnotify
// events on folders, debounced, then a look at whether the content that
// matters changed. Watching folders rather than files is what sees an
// editor's rename and a Kubernetes ConfigMap update (the ..data symlink
// swapped to a new folder).
package fswatch

import (
	"context"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// Options configure Run.
type Options struct {
	// Debounce is how long after the last event Look runs: a burst of
	// writes and renames is one look. Required.
	Debounce time.Duration
	// Refresh, when set, runs Look that often even without an event, for
	// file systems that send none (NFS). Default: 0, never.
	Refresh time.Duration
	// Poke, when set, runs Look at once on each receive. Default: none.
	Poke <-chan struct{}
	// Look decides whether something changed and acts on it; it returns
	// false to stop the loop. It runs once at the start too, to catch a
	// change made before the watch was set up. Required.
	Look func() bool
	// Logger logs the events (debug) and the watcher's errors. Required.
	Logger *zap.Logger
}

// Run serves w's events until ctx is done, w closes or Look returns
// false. The caller adds the folders to w, and may change them from Look.
func Run(ctx context.Context, w *fsnotify.Watcher, o Options) {
	look := time.NewTimer(0)
	defer look.Stop()
	var refresh <-chan time.Time
	if o.Refresh > 0 {
		t := time.NewTicker(o.Refresh)
		defer t.Stop()
		refresh = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			o.Logger.Debug("watched folder changed", zap.String("event", ev.String()))
			look.Reset(o.Debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			o.Logger.Warn("file watch: an event may be lost", zap.Error(err))
			look.Reset(o.Debounce)
		case <-o.Poke:
			look.Reset(0)
		case <-refresh:
			look.Reset(0)
		case <-look.C:
			if !o.Look() {
				return
			}
		}
	}
}
