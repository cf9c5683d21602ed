package main

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// readyNotifier closes ready at READY=1.
type readyNotifier struct {
	once  sync.Once
	ready chan struct{}
}

func (n *readyNotifier) Notify(state string) {
	if state == "READY=1" {
		n.once.Do(func() { close(n.ready) })
	}
}

func (n *readyNotifier) WatchdogInterval() time.Duration { return 0 }

// startDaemon runs the daemon on configFile and stateDir, serving on a
// loopback port; it returns the daemon's URL once it is ready. The daemon
// stops when the test ends.
func startDaemon(t *testing.T, configFile, stateDir string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &readyNotifier{ready: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{ConfigFile: configFile, StateDir: stateDir, Listener: l, Notifier: n, Registry: prometheus.NewRegistry()})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("daemon did not stop within 10s")
		}
	})
	select {
	case <-n.ready:
	case err := <-done:
		t.Fatalf("daemon stopped before READY=1: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no READY=1 within 10s")
	}
	return "http://" + l.Addr().String()
}

// TestRunSecondInstance: `spacetime-watch run` on a state dir another
// daemon holds exits 4 within a few seconds, naming the dir; it never hangs.
func TestRunSecondInstance(t *testing.T) {
	t.Parallel()
	s := simtest.Start(t, sim.Options{})
	dir := t.TempDir()
	cfg := testkit.WriteFileIn(t, dir, "config.yaml", fastConfig(targetYAML(t, dir, "main", s)))
	stateDir := filepath.Join(dir, "state")
	startDaemon(t, cfg, stateDir)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	r := invoke(ctx, "run", "--config.file", cfg, "--state.dir", stateDir, "--web.listen-address=127.0.0.1:0")
	if r.code != 4 {
		t.Fatalf("want exit 4\n%s", r)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %s to refuse, want a few seconds at most", el)
	}
	if !strings.Contains(r.stderr, stateDir) || !strings.Contains(r.stderr, "locked") {
		t.Errorf("the log does not say the state dir %s is locked\n%s", stateDir, r)
	}
}

// TestRunBadConfig: `run` on a bad config exits 3 at once, with every
// problem logged, before taking the state dir or a port.
func TestRunBadConfig(t *testing.T) {
	t.Parallel()
	stateDir := filepath.Join(t.TempDir(), "state")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := invoke(ctx, "run", "--config.file=testdata/acceptance.yaml", "--state.dir", stateDir, "--web.listen-address=127.0.0.1:0")
	if r.code != 3 {
		t.Fatalf("want exit 3\n%s", r)
	}
	for _, w := range []string{"defaults.schedule.interval", "targets[0].thresholds.fps.min", "targets[0].colour"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("the log lacks %s\n%s", w, r)
		}
	}
}

// TestRunBadExternalHost: --web.external-host takes a bare host name; a
// URL is a bad flag (exit 3) named in the log, found before the state dir
// is taken.
func TestRunBadExternalHost(t *testing.T) {
	t.Parallel()
	s := simtest.Start(t, sim.Options{})
	dir := t.TempDir()
	cfg := testkit.WriteFileIn(t, dir, "config.yaml", fastConfig(targetYAML(t, dir, "main", s)))
	stateDir := filepath.Join(dir, "state")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := invoke(ctx, "run", "--config.file", cfg, "--state.dir", stateDir, "--web.listen-address=127.0.0.1:0", "--web.external-host=https://watch.example.com")
	if r.code != 3 || !strings.Contains(r.stderr, "--web.external-host") {
		t.Fatalf("want exit 3 naming --web.external-host\n%s", r)
	}
	if _, err := os.Stat(stateDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the state dir was created: %v", err)
	}
}

// TestRunReloadAndStop: `run` takes SIGHUP from main's reload channel (a
// bad file is refused and logged, the daemon keeps running) and serves
// until its context ends (SIGTERM in main), then exits 0 within 10 s.
func TestRunReloadAndStop(t *testing.T) {
	t.Parallel()
	s := simtest.Start(t, sim.Options{})
	dir := t.TempDir()
	cfg := testkit.WriteFileIn(t, dir, "config.yaml", fastConfig(targetYAML(t, dir, "main", s)))
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int, 1)
	reload := make(chan struct{})
	go func() {
		done <- run(ctx, []string{"--log.format=console", "run", "--config.file", cfg, "--state.dir", filepath.Join(dir, "state"), "--web.listen-address=127.0.0.1:0"}, &syncBuffer{}, &stderr, reload)
	}()
	waitLog := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(stderr.String(), what) {
			select {
			case code := <-done:
				t.Fatalf("run exited %d while waiting for %q\n%s", code, what, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				cancel()
				<-done
				t.Fatalf("no %q in the log within 10s\n%s", what, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLog("spacetime-watch started")

	testkit.WriteFileIn(t, dir, "config.yaml", "targets:\n  - name: main\n    colour: blue\n")
	select {
	case reload <- struct{}{}:
	case <-time.After(5 * time.Second):
		t.Fatal("run did not take the reload")
	}
	waitLog("config reload failed; the previous config keeps running")
	waitLog("targets[0].colour")

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run exited %d after cancellation, want 0\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not exit within 10s of cancellation")
	}
}

// TestRunCannotStart: `run` tells apart what a restart cannot fix (exit 5,
// which the systemd unit does not restart: the state dir is not writable),
// a bad flag (exit 3: a malformed listen address) and what a restart may
// fix (exit 1: the listen address is in use). Tests run as root, whom
// permissions do not stop, so the state dir is made unusable with a file
// where the dir, or its parent, should be.
func TestRunCannotStart(t *testing.T) {
	t.Parallel()
	s := simtest.Start(t, sim.Options{})
	dir := t.TempDir()
	cfg := testkit.WriteFileIn(t, dir, "config.yaml", fastConfig(targetYAML(t, dir, "main", s)))
	aFile := testkit.WriteFileIn(t, dir, "not-a-dir", "")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() }) // after the parallel subtests
	cases := []struct {
		name, stateDir, listen string
		code                   int
		wantLog                []string
	}{
		{"state dir is a file", aFile, "127.0.0.1:0", 5, []string{"not writable", aFile}},
		{"state dir under a file", filepath.Join(aFile, "state"), "127.0.0.1:0", 5, []string{"not writable", aFile}},
		{"listen address malformed", filepath.Join(dir, "state-malformed"), "9850", 3, []string{"--web.listen-address 9850", "missing port"}},
		{"listen address in use", filepath.Join(dir, "state-busy"), busy.Addr().String(), 1, []string{"--web.listen-address " + busy.Addr().String(), "address already in use"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r := invoke(ctx, "run", "--config.file", cfg, "--state.dir", tc.stateDir, "--web.listen-address="+tc.listen)
			if r.code != tc.code {
				t.Fatalf("want exit %d\n%s", tc.code, r)
			}
			for _, w := range tc.wantLog {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("the log lacks %q\n%s", w, r)
				}
			}
		})
	}
}
