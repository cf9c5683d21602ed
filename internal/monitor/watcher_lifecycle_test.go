package monitor

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestWatcherStopsPromptly: cancelling Run's context ends it within a
// second in every phase, leaving no goroutine behind.
func TestWatcherStopsPromptly(t *testing.T) {
	// Not parallel: goleak compares against the goroutines before the test.
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (urls []string, mod func(*WatcherOptions))
		// reached says the watcher is in the phase to interrupt.
		reached func(st WatcherStatus) bool
		// within bounds the stop; 0 means 1s.
		within time.Duration
	}{{
		name: "connected",
		setup: func(t *testing.T) ([]string, func(*WatcherOptions)) {
			return []string{simURL(startWatchSim(t, ""))}, nil
		},
		reached: func(st WatcherStatus) bool { return st.Connected },
	}, {
		name: "backing off",
		setup: func(t *testing.T) ([]string, func(*WatcherOptions)) {
			return []string{refusedWatchURL(t)}, func(o *WatcherOptions) { o.BackoffInitial, o.BackoffMax = time.Minute, time.Minute }
		},
		reached: func(st WatcherStatus) bool { return !st.NextDial.IsZero() },
	}, {
		name: "dialing a server that never answers the handshake",
		setup: func(t *testing.T) ([]string, func(*WatcherOptions)) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var conns []net.Conn
			var mu sync.Mutex
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
				}
			}()
			t.Cleanup(func() {
				l.Close()
				<-done
				mu.Lock()
				for _, c := range conns {
					c.Close()
				}
				mu.Unlock()
			})
			return []string{"ws://" + l.Addr().String() + "/"}, func(o *WatcherOptions) { o.Stream.DialTimeout = 2 * time.Second }
		},
		// Dial closes the connection when its context ends mid-handshake,
		// so the stop does not wait out the 2 s DialTimeout.
		reached: func(st WatcherStatus) bool { return st.DialAttempts == 1 },
	}, {
		name: "connected to a server that sends nothing",
		setup: func(t *testing.T) ([]string, func(*WatcherOptions)) {
			ws := testkit.StartWSServer(t, func(_ int, c *websocket.Conn) {
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			})
			return []string{ws.URL}, func(o *WatcherOptions) { o.Stream.SilenceTimeout, o.Stream.PongWait = time.Minute, time.Minute }
		},
		reached: func(st WatcherStatus) bool { return st.URL != "" },
	}} {
		t.Run(tc.name, func(t *testing.T) {
			// Registered first, so it runs after the servers' cleanups.
			before := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, before) })
			urls, mod := tc.setup(t)
			env := newWatchEnv(t, urls, mod)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- env.w.Run(ctx) }()
			eventually(t, "the phase", func() bool { return tc.reached(env.w.Status()) })
			stop := time.Now()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v, want nil", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return within 5s of cancel")
			}
			within := cmp.Or(tc.within, time.Second)
			if took := time.Since(stop); took > within {
				t.Errorf("Run returned %s after cancel, want under %s", took, within)
			}
			if got := env.connected(t); got != 0 {
				t.Errorf("connected = %v after Run, want 0", got)
			}
			if st := env.w.Status(); st.Running {
				t.Error("Status.Running after Run returned")
			}
		})
	}
}

// TestWatcherNeverLogsToken: with the secure server's handshake, accepted
// or refused, the token appears in no log line (debug included), status,
// error or metric.
func TestWatcherNeverLogsToken(t *testing.T) {
	t.Parallel()
	const sentinel = "SENTINEL-telemetry-token-3f9a1c"
	for _, tc := range []struct {
		name     string
		simToken string
		reached  func(st WatcherStatus) bool
	}{
		{"accepted", sentinel, func(st WatcherStatus) bool { return st.Connected }},
		{"refused", "another-token-of-the-instance-0123", func(st WatcherStatus) bool {
			return st.DialAttempts >= 3 && strings.Contains(st.LastError, "rejected")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startWatchSim(t, "", func(o *sim.Options) { o.Token, o.TelemetryAuth = tc.simToken, true })
			core, logs := observer.New(zapcore.DebugLevel)
			env := newWatchEnv(t, []string{simURL(s)}, func(o *WatcherOptions) {
				o.Logger = zap.New(core)
				o.Stream.Token = spacetime.StaticToken(sentinel)
			})
			env.start(t)
			eventually(t, tc.name, func() bool { return tc.reached(env.w.Status()) })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, probeErr := env.w.FirstDataFrame(ctx, 100*time.Millisecond)

			var texts []string
			for _, e := range logs.All() {
				texts = append(texts, e.Message)
				for k, v := range e.ContextMap() {
					texts = append(texts, k, toString(v))
				}
			}
			status, _ := json.Marshal(env.w.Status())
			texts = append(texts, string(status))
			if probeErr != nil {
				texts = append(texts, probeErr.Error())
			}
			mfs, _ := env.reg.Gather()
			for _, mf := range mfs {
				texts = append(texts, mf.String())
			}
			if len(logs.All()) == 0 {
				t.Fatal("nothing logged: the test would prove nothing")
			}
			for _, s := range texts {
				if strings.Contains(s, sentinel) {
					t.Fatalf("the token leaked: %q", s)
				}
			}
		})
	}
}

func toString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "<unencodable>"
	}
	return string(b)
}

// TestWatcherProbeNotRunning: the probe says so when the watcher is not
// running, instead of hanging.
func TestWatcherProbeNotRunning(t *testing.T) {
	t.Parallel()
	env := newWatchEnv(t, []string{refusedWatchURL(t)}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := env.w.FirstDataFrame(ctx, time.Second); !errors.Is(err, ErrTelemetryUnavailable) || !strings.Contains(err.Error(), "not running") {
		t.Errorf("FirstDataFrame = %v, want not running", err)
	}
	if _, err := env.w.Window(ctx, time.Second); !errors.Is(err, ErrTelemetryUnavailable) || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Window = %v, want not running", err)
	}
}

// TestWatcherRunsOnce: a second concurrent Run is refused.
func TestWatcherRunsOnce(t *testing.T) {
	t.Parallel()
	env := newWatchEnv(t, []string{refusedWatchURL(t)}, nil)
	env.start(t)
	eventually(t, "running", func() bool { return env.w.Status().Running })
	if err := env.w.Run(context.Background()); !errors.Is(err, errAlreadyRunning) {
		t.Errorf("second Run = %v, want already running", err)
	}
}

// TestNewWatcherRejectsBadOptions: every problem is reported at once,
// naming its field, without echoing a URL (it may carry a password); a
// zero tunable is refused, not defaulted (the config owns the defaults).
func TestNewWatcherRejectsBadOptions(t *testing.T) {
	t.Parallel()
	badRules := testRules()
	badRules.FPSMin = 99
	for _, tc := range []struct {
		name string
		mod  func(*WatcherOptions)
		want []string
	}{
		{"no target", func(o *WatcherOptions) { o.Target = "" }, []string{"WatcherOptions.Target"}},
		{"no URL", func(o *WatcherOptions) { o.Stream.URLs = nil }, []string{"WatcherOptions.Stream.URLs"}},
		{"not ws", func(o *WatcherOptions) { o.Stream.URLs = []string{"http://user:hunter2@127.0.0.1:8081/"} }, []string{"Stream.URLs[0]"}},
		{"negative", func(o *WatcherOptions) { o.BackoffInitial, o.RingSize = -1, -1 }, []string{"BackoffInitial", "RingSize"}},
		{"zero tunables: none is defaulted here", func(o *WatcherOptions) {
			o.BackoffInitial, o.BackoffMax, o.BackoffResetAfter, o.TickInterval, o.SampleSpan, o.RingSize = 0, 0, 0, 0, 0, 0
		}, []string{"BackoffInitial: must be positive", "BackoffMax", "BackoffResetAfter", "TickInterval", "SampleSpan", "RingSize", "WatcherOptionsFrom"}},
		{"cap below initial", func(o *WatcherOptions) { o.BackoffInitial, o.BackoffMax = time.Minute, time.Second }, []string{"BackoffMax"}},
		{"tick too slow", func(o *WatcherOptions) { o.TickInterval = time.Minute }, []string{"TickInterval", "MaxGap"}},
		{"bad rules", func(o *WatcherOptions) { o.Rules = badRules }, []string{"FPSMax"}},
		{"no rules", func(o *WatcherOptions) { o.Rules = RuleConfig{} }, []string{"WatcherOptions.Rules: zero"}},
		{"bad snapshot", func(o *WatcherOptions) { o.RestoreRules = []byte("{") }, []string{"restore rule snapshot"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testWatcherOptions(watchTarget, "ws://127.0.0.1:8081/")
			tc.mod(&opts)
			_, err := NewWatcher(opts)
			if err == nil {
				t.Fatal("NewWatcher accepted bad options")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q echoes a URL password", err)
			}
		})
	}
}
