package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestSecondInstanceRefused: a second daemon on a state dir that a running
// daemon holds gives up after its lock timeout with an error matching
// store.ErrLocked that names the dir, never hangs, and never tells systemd
// it is ready. The first daemon is not disturbed.
func TestSecondInstanceRefused(t *testing.T) {
	t.Parallel()
	s := simtest.Start(t, sim.Options{})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"main", s}))
	stateDir := filepath.Join(dir, "state")
	first := startDaemon(t, cfg, daemonSetup{stateDir: stateDir})

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	notifier := newFakeNotifier(0)
	// The test's own deadline: well past the lock timeout, short of a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	err = daemon.Run(ctx, daemon.Options{
		ConfigFile:  cfg,
		StateDir:    stateDir,
		Listener:    l,
		Notifier:    notifier,
		LockTimeout: 300 * time.Millisecond,
	})
	elapsed := time.Since(start)
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second daemon: %v, want an error matching store.ErrLocked", err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("second daemon took %s to give up, want about its 300ms lock timeout", elapsed)
	}
	// The message names the dir and the lock holder (this process).
	for _, want := range []string{stateDir, fmt.Sprintf("pid %d", os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if sent := notifier.sent(); len(sent) != 0 {
		t.Errorf("second daemon notified systemd: %v", sent)
	}

	// The first daemon still serves.
	if code, _ := first.get("/-/healthy"); code != 200 {
		t.Errorf("first daemon /-/healthy: %d after the refused second start", code)
	}
}

// TestBadConfigRefused: a config that cannot load is a *ConfigError naming
// every problem, returned before anything starts.
func TestBadConfigRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"acceptance problems", `defaults:
  schedule:
    interval: -5m
targets:
  - name: main
    api_url: http://127.0.0.1:8080
    thresholds:
      fps: {min: 96, max: 95}
    colour: blue
`, []string{"defaults.schedule.interval", "targets[0].thresholds.fps.min", "targets[0].colour"}},
		{"missing file", "", []string{"no-such-file.yaml"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := filepath.Join(dir, "no-such-file.yaml")
			if tc.yaml != "" {
				cfg = filepath.Join(dir, "config.yaml")
				testkit.WriteFile(t, cfg, tc.yaml)
			}
			notifier := newFakeNotifier(0)
			err := daemon.Run(context.Background(), daemon.Options{ConfigFile: cfg, StateDir: filepath.Join(dir, "state"), Notifier: notifier, Listener: mustListen(t)})
			var ce *daemon.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Run: %v, want a *daemon.ConfigError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if sent := notifier.sent(); len(sent) != 0 {
				t.Errorf("notified systemd on a bad config: %v", sent)
			}
		})
	}
}

// mustListen is a loopback listener closed when the test ends.
func mustListen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
