package monitor

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// TestWatcherExportsFrames: in each encoding, frames reach the metrics with
// their units converted (ms → s, MiB → bytes), the rule series start at 0,
// the probe sees the frames, and the metrics lint clean.
func TestWatcherExportsFrames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		encoding   string
		wantMemory bool // binary 0x01 packets carry no memory
	}{
		{sim.EncodingJSON, true},
		{sim.EncodingBinary, false},
		{sim.EncodingGzip, true},
	} {
		t.Run(tc.encoding, func(t *testing.T) {
			t.Parallel()
			s := startWatchSim(t, `{"telemetry_encoding":"`+tc.encoding+`"}`)
			env := newWatchEnv(t, []string{simURL(s)}, nil)
			start := time.Now()
			env.start(t)
			eventually(t, "spacetime_fps", func() bool {
				_, ok := env.value(t, "spacetime_fps", "target", watchTarget)
				return ok
			})

			if got := env.connected(t); got != 1 {
				t.Errorf("spacetime_telemetry_connected = %v, want 1", got)
			}
			if got := env.must(t, "spacetime_fps", "target", watchTarget); got != 90 {
				t.Errorf("spacetime_fps = %v, want 90", got)
			}
			// 1000/90 ms, as float32 in binary packets.
			if got := env.must(t, "spacetime_frame_time_seconds", "target", watchTarget); math.Abs(got-0.01111) > 1e-5 {
				t.Errorf("spacetime_frame_time_seconds = %v, want 0.01111", got)
			}
			mem, ok := env.value(t, "spacetime_memory_bytes", "target", watchTarget)
			switch {
			case tc.wantMemory && mem != 300*1048576:
				t.Errorf("spacetime_memory_bytes = %v (present %v), want 300 MiB = 314572800", mem, ok)
			case !tc.wantMemory && ok:
				t.Errorf("spacetime_memory_bytes = %v, want absent: the stream carries no memory", mem)
			}
			eventually(t, "fps and vr_tracking frames counted", func() bool {
				fps, _ := env.value(t, "spacetime_telemetry_frames_total", "target", watchTarget, "kind", "fps")
				tr, _ := env.value(t, "spacetime_telemetry_frames_total", "target", watchTarget, "kind", "vr_tracking")
				return fps >= 2 && tr >= 1
			})
			if got := env.must(t, "spacetime_telemetry_frames_total", "target", watchTarget, "kind", "auth_required"); got != 0 {
				t.Errorf("frames_total{kind=auth_required} = %v, want 0 (started at 0)", got)
			}
			last := env.must(t, "spacetime_telemetry_last_frame_timestamp_seconds", "target", watchTarget)
			if at := time.Unix(0, int64(last*1e9)); at.Before(start.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
				t.Errorf("last frame timestamp %v, want within the test's run", at)
			}
			for _, rule := range RuleNames() {
				sev, _ := RuleSeverity(rule)
				if v := env.must(t, "spacetime_rule_firing", "target", watchTarget, "rule", rule, "severity", string(sev)); v != 0 {
					t.Errorf("spacetime_rule_firing{rule=%s} = %v, want 0", rule, v)
				}
			}
			if problems, err := testutil.GatherAndLint(env.reg); err != nil || len(problems) > 0 {
				t.Errorf("GatherAndLint: %v %v", problems, err)
			}

			st := env.w.Status()
			if !st.Connected || st.State != StreamConnected || st.URL != simURL(s) || st.DialAttempts != 1 || st.Reconnects != 0 || st.LastError != "" {
				t.Errorf("Status = %+v, want connected to %s after one dial", st, simURL(s))
			}

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			f, err := env.w.FirstDataFrame(ctx, time.Second)
			if err != nil || (f.Kind != spacetime.KindFPS && f.Kind != spacetime.KindVRTracking) {
				t.Errorf("FirstDataFrame = %v %v, want an fps or vr_tracking frame", f.Kind, err)
			}
			samples, err := env.w.Window(ctx, 200*time.Millisecond)
			if err != nil || len(samples) < 3 {
				t.Fatalf("Window(200ms) = %d samples, %v; want several", len(samples), err)
			}
			for _, smp := range samples {
				if !smp.HasFPS || smp.FPS != 90 || smp.HasMemory != tc.wantMemory || (tc.wantMemory && smp.MemoryMB != 300) {
					t.Fatalf("sample %+v, want 90 FPS (memory 300 MiB: %v)", smp, tc.wantMemory)
				}
			}
			if span := samples[len(samples)-1].At.Sub(samples[0].At); span > 200*time.Millisecond {
				t.Errorf("Window(200ms) spans %s", span)
			}
		})
	}
}

// TestWatcherFPSRuleFiresAndResolves: an FPS drop to 60 fires fps_low
// (and not fps_critical) through the sink and the gauge, and recovery
// resolves it once.
func TestWatcherFPSRuleFiresAndResolves(t *testing.T) {
	t.Parallel()
	s := startWatchSim(t, "")
	env := newWatchEnv(t, []string{simURL(s)}, nil)
	env.start(t)
	eventually(t, "connected", func() bool { return env.connected(t) == 1 })
	firing := func() float64 {
		return env.must(t, "spacetime_rule_firing", "target", watchTarget, "rule", RuleFPSLow, "severity", "warning")
	}

	patchSim(t, s, `{"fps":60}`)
	ev := env.sink.waitEvent(t, RuleFPSLow, RuleEventFiring)
	if math.Abs(ev.Value-60) > 0.5 || ev.Threshold != 85 || ev.Severity != SeverityWarning {
		t.Errorf("firing event %+v, want observed 60 below 85, warning", ev)
	}
	eventually(t, "fps_low gauge 1", func() bool { return firing() == 1 })
	if st := ruleState(env.w.Status(), RuleFPSLow); st.State != RuleFiring {
		t.Errorf("Status rule fps_low = %+v, want firing", st)
	}

	patchSim(t, s, `{"fps":90}`)
	env.sink.waitEvent(t, RuleFPSLow, RuleEventResolved)
	eventually(t, "fps_low gauge 0", func() bool { return firing() == 0 })
	if n := len(env.sink.find(RuleFPSLow, 0)); n != 2 {
		t.Errorf("%d fps_low events, want exactly 1 firing + 1 resolved: %v", n, env.sink.all())
	}
	if evs := env.sink.find(RuleFPSCritical, 0); len(evs) > 0 {
		t.Errorf("fps_critical events at 60 FPS (critical below 45): %v", evs)
	}
}

func ruleState(st WatcherStatus, rule string) RuleState {
	for _, r := range st.Rules {
		if r.Rule == rule {
			return r
		}
	}
	return RuleState{}
}

// TestWatcherReconnectsWithBackoff is RELIABILITY scenario 9, scaled down
// (backoff 10 ms to 200 ms): while the telemetry server is down the
// watcher redials with a growing, capped delay (a bounded number of
// attempts, no tight loop), reports the outage (connected 0, live series
// gone, telemetry_down, probe errors naming the refusal), and reconnects
// within the cap plus a margin once the server is back.
func TestWatcherReconnectsWithBackoff(t *testing.T) {
	t.Parallel()
	s := startWatchSim(t, "")
	env := newWatchEnv(t, []string{simURL(s)}, nil)
	env.start(t)
	eventually(t, "connected", func() bool { return env.connected(t) == 1 })

	patchSim(t, s, `{"telemetry_down":true}`)
	eventually(t, "connected 0", func() bool { return env.connected(t) == 0 })
	if v, ok := env.value(t, "spacetime_fps", "target", watchTarget); ok {
		t.Errorf("spacetime_fps = %v while disconnected, want absent", v)
	}
	eventually(t, "a failed dial", func() bool { return env.w.Status().FailedDials > 0 })

	// Count the dials over a window: delays 10, 20, 40, 80, 160, then 200
	// ms (less up to 20 % jitter) give about 11 in 1.5 s. A tight loop
	// would give hundreds.
	const window = 1500 * time.Millisecond
	before := env.w.Status().DialAttempts
	time.Sleep(window) // the measurement period itself
	st := env.w.Status()
	if n := st.DialAttempts - before; n < 5 || n > 14 {
		t.Errorf("%d dials in %s with backoff 10ms..200ms, want 5–14", n, window)
	}
	if st.State != StreamDisconnected || !strings.Contains(st.LastError, "connection refused") {
		t.Errorf("Status = %+v, want disconnected, refused", st)
	}
	env.sink.waitEvent(t, RuleTelemetryDown, RuleEventFiring)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := env.w.FirstDataFrame(ctx, 50*time.Millisecond)
	if !errors.Is(err, ErrTelemetryUnavailable) || !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "disconnected") {
		t.Errorf("FirstDataFrame error %v, want disconnected, wrapping the refusal", err)
	}
	if _, err := env.w.Window(ctx, time.Second); !errors.Is(err, ErrTelemetryUnavailable) {
		t.Errorf("Window error %v, want ErrTelemetryUnavailable", err)
	}

	up := time.Now()
	patchSim(t, s, `{"telemetry_down":false}`)
	eventually(t, "connected again", func() bool { return env.connected(t) == 1 })
	if took := time.Since(up); took > 200*time.Millisecond+time.Second {
		t.Errorf("reconnected %s after the server came back, want within the 200ms cap + 1s", took)
	}
	if got := env.must(t, "spacetime_telemetry_reconnects_total", "target", watchTarget); got != 1 {
		t.Errorf("spacetime_telemetry_reconnects_total = %v, want 1", got)
	}
	env.sink.waitEvent(t, RuleTelemetryDown, RuleEventResolved)
	eventually(t, "spacetime_fps back", func() bool {
		_, ok := env.value(t, "spacetime_fps", "target", watchTarget)
		return ok
	})
}

// TestWatcherPortFallback: the instance moved off its first port; the
// watcher connects to the next URL (spacetime-api.md §3.1).
func TestWatcherPortFallback(t *testing.T) {
	t.Parallel()
	s := startWatchSim(t, "")
	first := refusedWatchURL(t)
	env := newWatchEnv(t, []string{first, simURL(s)}, nil)
	env.start(t)
	eventually(t, "connected", func() bool { return env.connected(t) == 1 })
	st := env.w.Status()
	if st.URL != simURL(s) || st.DialAttempts != 1 || st.Reconnects != 0 {
		t.Errorf("Status = %+v, want connected to %s at the first dial", st, simURL(s))
	}
}

// TestWatcherDetectsSilentStream is RELIABILITY scenario 8: the stream
// goes silent without a FIN (the sim sends nothing and answers no ping).
// The watcher notices within SilenceTimeout, drops the live series so no
// stale value looks current, refuses to hand samples to check 10, fires
// telemetry_silent, keeps redialling, and recovers when data flows again.
func TestWatcherDetectsSilentStream(t *testing.T) {
	t.Parallel()
	s := startWatchSim(t, "")
	env := newWatchEnv(t, []string{simURL(s)}, nil)
	env.start(t)
	eventually(t, "spacetime_fps", func() bool {
		_, ok := env.value(t, "spacetime_fps", "target", watchTarget)
		return ok
	})

	silent := time.Now()
	patchSim(t, s, `{"telemetry_silent":true}`)
	eventually(t, "connected 0", func() bool { return env.connected(t) == 0 })
	// The watcher's silence timer counts from the last data frame, at most
	// one 20-ms frame interval before the patch.
	if took := time.Since(silent); took < 250*time.Millisecond || took > 300*time.Millisecond+time.Second {
		t.Errorf("silence detected after %s, want about the 300ms SilenceTimeout", took)
	}
	for _, name := range []string{"spacetime_fps", "spacetime_frame_time_seconds", "spacetime_memory_bytes"} {
		if v, ok := env.value(t, name, "target", watchTarget); ok {
			t.Errorf("%s = %v while silent, want absent (stale)", name, v)
		}
	}
	if _, ok := env.value(t, "spacetime_telemetry_last_frame_timestamp_seconds", "target", watchTarget); !ok {
		t.Error("last frame timestamp absent, want it frozen at the last frame")
	}
	if st := env.w.Status(); st.State != StreamSilent || !strings.Contains(st.LastError, "no data frame") {
		t.Errorf("Status = %+v, want silent", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if smp, err := env.w.Window(ctx, time.Second); !errors.Is(err, spacetime.ErrSilent) || !errors.Is(err, ErrTelemetryUnavailable) {
		t.Errorf("Window = %d samples, %v; want ErrSilent", len(smp), err)
	}
	env.sink.waitEvent(t, RuleTelemetrySilent, RuleEventFiring)
	eventually(t, "a redial into the silent server", func() bool { return env.w.Status().Reconnects >= 1 })
	if evs := env.sink.find(RuleTelemetryDown, 0); len(evs) > 0 {
		t.Errorf("telemetry_down events for a silent stream: %v", evs)
	}

	patchSim(t, s, `{"telemetry_silent":false}`)
	eventually(t, "connected again", func() bool { return env.connected(t) == 1 })
	env.sink.waitEvent(t, RuleTelemetrySilent, RuleEventResolved)
	for _, ev := range env.sink.all() {
		if ev.Rule != RuleTelemetrySilent {
			t.Errorf("unexpected event %v", ev)
		}
	}
}

// TestWatcherCountsInvalidFrames is the garbage half of RELIABILITY
// scenario 10: malformed JSON, NaN and negative FPS, bad binary packets
// are counted and skipped; the connection survives; one warning per
// connection, not one per frame.
func TestWatcherCountsInvalidFrames(t *testing.T) {
	t.Parallel()
	s := startWatchSim(t, `{"telemetry_garbage":true}`)
	core, logs := observer.New(zapcore.DebugLevel)
	env := newWatchEnv(t, []string{simURL(s)}, func(o *WatcherOptions) { o.Logger = zap.New(core) })
	env.start(t)
	eventually(t, "10 invalid frames", func() bool {
		v, _ := env.value(t, "spacetime_telemetry_frames_invalid_total", "target", watchTarget)
		return v >= 10
	})
	if got := env.connected(t); got != 1 {
		t.Errorf("connected = %v, want 1: garbage must not end the stream", got)
	}
	st := env.w.Status()
	if st.Reconnects != 0 || st.DialAttempts != 1 || st.LastError != "" {
		t.Errorf("Status = %+v, want the first connection still up", st)
	}
	if got := env.must(t, "spacetime_fps", "target", watchTarget); got != 90 {
		t.Errorf("spacetime_fps = %v, want 90 (valid frames still judged)", got)
	}
	warned := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("invalid telemetry frame").Len()
	debug := logs.FilterLevelExact(zapcore.DebugLevel).FilterMessageSnippet("invalid telemetry frame").Len()
	if warned != 1 || debug < 5 {
		t.Errorf("invalid frames logged %d times at warning, %d at debug; want 1 warning, the rest debug", warned, debug)
	}
}

// TestWatcherReadLimit is the 10-MB half of RELIABILITY scenario 10: the
// frame is refused by the read limit (close 1009), the watcher reconnects,
// and data flows on the next connection.
func TestWatcherReadLimit(t *testing.T) {
	t.Parallel()
	codes := make(chan int, 1)
	ws := startWSServer(t, func(n int, c *websocket.Conn) {
		if n > 1 {
			streamFrames(c)
			return
		}
		c.WriteMessage(websocket.TextMessage, []byte(wsFPSFrame))
		readErr := make(chan error, 1)
		go func() {
			_, _, err := c.ReadMessage()
			for err == nil {
				_, _, err = c.ReadMessage()
			}
			readErr <- err
		}()
		c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 10<<20))) // fails once the client closes
		codes <- closeCode(<-readErr)
	})
	env := newWatchEnv(t, []string{ws.url}, func(o *WatcherOptions) { o.Stream.ReadLimit = 1 << 20 })
	env.start(t)
	eventually(t, "a reconnect", func() bool { return env.w.Status().Reconnects == 1 })
	eventually(t, "connected", func() bool { return env.connected(t) == 1 })
	if st := env.w.Status(); !strings.Contains(st.LastError, "read limit") {
		t.Errorf("LastError %q, want the read limit named", st.LastError)
	}
	select {
	case code := <-codes:
		if code != websocket.CloseMessageTooBig {
			t.Errorf("server saw close code %d, want 1009", code)
		}
	case <-time.After(5 * time.Second):
		t.Error("the first connection's handler did not finish")
	}
}

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
			ws := startWSServer(t, func(_ int, c *websocket.Conn) {
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			})
			return []string{ws.url}, func(o *WatcherOptions) { o.Stream.SilenceTimeout, o.Stream.PongWait = time.Minute, time.Minute }
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

// TestWatcherInstanceEvents: the VR announcement every new client hears is
// flagged as a greeting; a restart's announcement on a live connection is
// not (the lead's restart detection relies on this).
func TestWatcherInstanceEvents(t *testing.T) {
	t.Parallel()
	s := startWatchSim(t, "")
	var mu sync.Mutex
	var got []InstanceEvent
	env := newWatchEnv(t, []string{simURL(s)}, func(o *WatcherOptions) {
		o.OnInstanceEvent = func(ev InstanceEvent) {
			mu.Lock()
			got = append(got, ev)
			mu.Unlock()
		}
	})
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	env.start(t)
	eventually(t, "the greeting", func() bool { return count() == 1 })
	s.Restart("2.0.0")
	eventually(t, "the restart's announcement", func() bool { return count() == 2 })
	mu.Lock()
	defer mu.Unlock()
	if got[0].Kind != spacetime.KindVRInitialized || !got[0].Greeting {
		t.Errorf("first event %+v, want a vr_initialized greeting", got[0])
	}
	if got[1].Kind != spacetime.KindVRInitialized || got[1].Greeting || got[1].Received.IsZero() {
		t.Errorf("second event %+v, want a vr_initialized that is not a greeting", got[1])
	}
}

// TestWatcherDesktopFallback: the warning of an instance that failed to
// start VR reaches OnInstanceEvent as desktop_fallback.
func TestWatcherDesktopFallback(t *testing.T) {
	t.Parallel()
	s := startWatchSim(t, `{"vr_mode":"desktop_fallback"}`)
	evs := make(chan InstanceEvent, 16)
	env := newWatchEnv(t, []string{simURL(s)}, func(o *WatcherOptions) {
		o.OnInstanceEvent = func(ev InstanceEvent) {
			select {
			case evs <- ev:
			default:
			}
		}
	})
	env.start(t)
	select {
	case ev := <-evs:
		if ev.Kind != spacetime.KindDesktopFallback || !ev.Greeting || !strings.Contains(ev.Message, "desktop") {
			t.Errorf("event %+v, want a desktop_fallback greeting", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no instance event")
	}
}

// TestWatcherUpdateRules: a reload while running judges the next frames
// against the new thresholds, drops the series of a disabled rule, and a
// bad config changes nothing.
func TestWatcherUpdateRules(t *testing.T) {
	t.Parallel()
	s := startWatchSim(t, "")
	env := newWatchEnv(t, []string{simURL(s)}, nil)
	env.start(t)
	eventually(t, "connected", func() bool { return env.connected(t) == 1 })

	bad := fastRules()
	bad.FPSMax = 80
	if err := env.w.UpdateRules(bad); err == nil || !strings.Contains(err.Error(), "FPSMax") {
		t.Errorf("UpdateRules(FPSMax below FPSMin) = %v, want an error naming FPSMax", err)
	}
	slow := fastRules()
	slow.MaxGap = 10 * time.Millisecond
	if err := env.w.UpdateRules(slow); err == nil || !strings.Contains(err.Error(), "TickInterval") {
		t.Errorf("UpdateRules(MaxGap below the tick) = %v, want an error naming TickInterval", err)
	}

	cfg := fastRules()
	cfg.FPSMin, cfg.FPSMax = 92, 0 // 90 FPS is now low; fps_high is off
	if err := env.w.UpdateRules(cfg); err != nil {
		t.Fatalf("UpdateRules: %v", err)
	}
	ev := env.sink.waitEvent(t, RuleFPSLow, RuleEventFiring)
	if ev.Threshold != 92 {
		t.Errorf("fps_low fired with threshold %v, want 92", ev.Threshold)
	}
	eventually(t, "fps_high series gone", func() bool {
		_, ok := env.value(t, "spacetime_rule_firing", "target", watchTarget, "rule", RuleFPSHigh)
		return !ok
	})
	if st := ruleState(env.w.Status(), RuleFPSHigh); st.Rule != "" {
		t.Errorf("Status lists disabled rule fps_high: %+v", st)
	}
	if len(env.w.RuleSnapshot()) == 0 || !strings.Contains(string(env.w.RuleSnapshot()), RuleFPSLow) {
		t.Errorf("RuleSnapshot = %s, want fps_low firing", env.w.RuleSnapshot())
	}
}

// TestWatcherRestoresRules: a rule firing before a restart stays firing
// (gauge 1, no second firing event), then resolves on fresh healthy data.
func TestWatcherRestoresRules(t *testing.T) {
	t.Parallel()
	e, err := NewRuleEngine(fastRules())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e.SetStream(StreamConnected, now, nil)
	for i := range 40 {
		e.Observe(Sample{At: now.Add(time.Duration(i) * 20 * time.Millisecond), FPS: 60, HasFPS: true}, nil)
	}
	snap, err := e.Snapshot()
	if err != nil || !strings.Contains(string(snap), RuleFPSLow) {
		t.Fatalf("Snapshot = %s, %v; want fps_low firing", snap, err)
	}

	s := startWatchSim(t, "")
	env := newWatchEnv(t, []string{simURL(s)}, func(o *WatcherOptions) { o.RestoreRules = snap })
	env.start(t)
	gauge := func() float64 {
		v, _ := env.value(t, "spacetime_rule_firing", "target", watchTarget, "rule", RuleFPSLow, "severity", "warning")
		return v
	}
	// Resolving takes 200ms of healthy data: the gauge is seen at 1 first.
	eventually(t, "the restored fps_low gauge at 1", func() bool { return gauge() == 1 })
	env.sink.waitEvent(t, RuleFPSLow, RuleEventResolved)
	if evs := env.sink.find(RuleFPSLow, RuleEventFiring); len(evs) > 0 {
		t.Errorf("a restored rule fired again: %v", evs)
	}
	if g := gauge(); g != 0 {
		t.Errorf("fps_low gauge = %v after resolving, want 0", g)
	}
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
// naming its field, without echoing a URL (it may carry a password).
func TestNewWatcherRejectsBadOptions(t *testing.T) {
	t.Parallel()
	badRules := DefaultRuleConfig()
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
		{"cap below initial", func(o *WatcherOptions) { o.BackoffInitial, o.BackoffMax = time.Minute, time.Second }, []string{"BackoffMax"}},
		{"tick too slow", func(o *WatcherOptions) { o.TickInterval = time.Minute }, []string{"TickInterval", "MaxGap"}},
		{"bad rules", func(o *WatcherOptions) { o.Rules = badRules }, []string{"FPSMax"}},
		{"bad snapshot", func(o *WatcherOptions) { o.RestoreRules = []byte("{") }, []string{"restore rule snapshot"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := WatcherOptions{Target: watchTarget, Stream: spacetime.StreamOptions{URLs: []string{"ws://127.0.0.1:8081/"}}}
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
