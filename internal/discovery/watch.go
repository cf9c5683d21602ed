package discovery

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/fswatch"
)

// Watch calls apply whenever the files the target_files patterns match
// change, until ctx is done: a file added, removed or rewritten with other
// content (a touch changes nothing). It watches the patterns' folders, not
// the files, so that an editor's rename and a Kubernetes ConfigMap update
// are seen; it looks debounce after the last event in them, so a burst of
// writes is one apply, and every refresh besides, for a file system whose
// events do not arrive (NFS). The folders follow the patterns of the last
// Targets. apply is the daemon's request to run Targets and apply the
// result through its reload path; it blocks until done.
func (f *Files) Watch(ctx context.Context, debounce, refresh time.Duration, apply func(context.Context) error) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("target files: %w", err)
	}
	defer w.Close()
	var watched []string
	// watch makes the watched folders those the patterns need now. For a
	// folder that does not exist yet its parent is watched, so that its
	// creation is seen.
	watch := func(dirs []string) {
		var now []string
		for _, d := range dirs {
			err := w.Add(d)
			if err != nil {
				if perr := w.Add(filepath.Dir(d)); perr == nil {
					now = append(now, filepath.Dir(d))
					continue
				}
				f.log.Warn("cannot watch a target files folder; looking again at the next refresh", zap.String("dir", d), zap.Error(err))
				continue
			}
			now = append(now, d)
		}
		for _, d := range watched {
			if !slices.Contains(now, d) {
				_ = w.Remove(d)
			}
		}
		watched = now
	}
	fswatch.Run(ctx, w, fswatch.Options{
		Debounce: debounce, Refresh: refresh, Poke: f.repatterned, Logger: f.log,
		Look: func() bool {
			changed, dirs := f.changed()
			watch(dirs)
			if !changed {
				return true
			}
			f.log.Info("target files changed: applying their targets")
			return apply(ctx) == nil || ctx.Err() == nil
		},
	})
	return nil
}
