package monitor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// Helpers of the watcher tests: a fast simulated instance, fast watcher
// options, a recording sink and metric readers.

const watchTarget = "vr-1"

// startWatchSim starts a checklist sim on loopback whose stream is fast:
// an fps frame every 20 ms, tracking every 50 ms, a server ping every 100 ms.
// faults is a JSON patch applied before anyone connects ("" for none).
func startWatchSim(t *testing.T, faults string, mods ...func(*sim.Options)) *sim.Sim {
	t.Helper()
	opts := sim.Options{
		Profile:          sim.ProfileChecklist,
		APIAddress:       "127.0.0.1:0",
		TelemetryAddress: "127.0.0.1:0",
		ControlAddress:   "127.0.0.1:0",
		FPSInterval:      20 * time.Millisecond,
		TrackingInterval: 50 * time.Millisecond,
		PingInterval:     100 * time.Millisecond,
	}
	for _, m := range mods {
		m(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sim.Start(ctx, opts)
	if err != nil {
		t.Fatalf("sim.Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	// A steady 90 FPS, no jitter: exact values to compare.
	patchSim(t, s, `{"fps":90,"fps_jitter":0,"memory_mb":300}`)
	if faults != "" {
		patchSim(t, s, faults)
	}
	return s
}

func patchSim(t *testing.T, s *sim.Sim, faults string) {
	t.Helper()
	if err := s.PatchFaults([]byte(faults)); err != nil {
		t.Fatalf("PatchFaults(%s): %v", faults, err)
	}
}

func simURL(s *sim.Sim) string { return "ws://" + s.Info().Telemetry + "/" }

// refusedWatchURL is a ws:// URL on which nothing listens.
func refusedWatchURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "ws://" + addr + "/"
}

// fastRules fire and resolve within a few hundred milliseconds.
func fastRules() RuleConfig {
	c := testRules()
	c.FPSFor = 200 * time.Millisecond
	c.MemoryFor = 200 * time.Millisecond
	c.ResolveFor = 200 * time.Millisecond
	c.SmoothingWindow = 60 * time.Millisecond
	c.TelemetryDownFor = 300 * time.Millisecond
	c.MaxGap = time.Second
	return c
}

// watchEnv is a watcher under test with what it reports to.
type watchEnv struct {
	w    *Watcher
	reg  *prometheus.Registry
	m    *Metrics
	sink *recordingSink
}

// testWatcherOptions returns the options the daemon gives a watcher of
// target under the config's defaults (WatcherOptionsFrom), on urls: every
// watcher test starts from them and changes what it tests.
func testWatcherOptions(target string, urls ...string) WatcherOptions {
	tc := config.Default().Targets[0]
	tc.Name = target
	o := WatcherOptionsFrom(tc)
	o.Stream.URLs = urls
	return o
}

// newWatchEnv builds a watcher with fast options on urls; mod adjusts them.
func newWatchEnv(t *testing.T, urls []string, mod func(*WatcherOptions)) *watchEnv {
	t.Helper()
	reg := prometheus.NewRegistry()
	env := &watchEnv{reg: reg, m: NewMetrics(reg), sink: &recordingSink{}}
	opts := testWatcherOptions(watchTarget)
	opts.Stream = spacetime.StreamOptions{
		URLs:           urls,
		DialTimeout:    time.Second,
		PongWait:       time.Second,
		PingPeriod:     100 * time.Millisecond,
		SilenceTimeout: 300 * time.Millisecond,
		WriteTimeout:   500 * time.Millisecond,
	}
	opts.Rules = fastRules()
	opts.Metrics = env.m
	opts.Sink = env.sink
	opts.Logger = zap.NewNop()
	opts.BackoffInitial = 10 * time.Millisecond
	opts.BackoffMax = 200 * time.Millisecond
	opts.TickInterval = 20 * time.Millisecond
	if mod != nil {
		mod(&opts)
	}
	w, err := NewWatcher(opts)
	if err != nil {
		t.Fatalf("NewWatcher: %v", err)
	}
	env.w = w
	return env
}

// start runs the watcher until the test ends; cleanup cancels it and
// fails the test if Run does not return promptly or returns an error.
func (e *watchEnv) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.w.Run(ctx) }()
	eventually(t, "the watcher's series", func() bool {
		_, ok := e.value(t, "spacetime_telemetry_connected", "target", watchTarget)
		return ok
	})
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil after cancel", err)
			}
		case <-time.After(3 * time.Second):
			t.Errorf("Run did not return within 3s of cancel")
		}
	})
}

// eventually is testkit.Eventually for a condition with nothing to report,
// within 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 5*time.Second, what, func() (bool, string) { return cond(), "" })
}

// value reads one series of the registry: (value, true), or (0, false)
// when the series does not exist.
func (e *watchEnv) value(t *testing.T, name string, labels ...string) (float64, bool) {
	t.Helper()
	return gatherValue(t, e.reg, name, labels...)
}

// must reads a series that must exist.
func (e *watchEnv) must(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, ok := e.value(t, name, labels...)
	if !ok {
		t.Fatalf("series %s%v is absent", name, labels)
	}
	return v
}

func (e *watchEnv) connected(t *testing.T) float64 {
	t.Helper()
	return e.must(t, "spacetime_telemetry_connected", "target", watchTarget)
}

// gatherValue finds name{labels} (label name, value pairs; the target label
// is not implied) in reg.
func gatherValue(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labels) {
				switch {
				case m.Gauge != nil:
					return m.GetGauge().GetValue(), true
				case m.Counter != nil:
					return m.GetCounter().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == pairs[i] && lp.GetValue() == pairs[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// recordingSink records rule events.
type recordingSink struct {
	mu     sync.Mutex
	events []event.Event
}

func (s *recordingSink) Handle(ev event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Target != watchTarget {
		ev.Reason = "WRONG TARGET " + ev.Target + ": " + ev.Reason
	}
	s.events = append(s.events, ev)
}

// find returns the events of rule in state ("": any state).
func (s *recordingSink) find(rule string, state event.State) []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []event.Event
	for _, ev := range s.events {
		if ev.Name == rule && (state == "" || ev.State == state) {
			out = append(out, ev)
		}
	}
	return out
}

func (s *recordingSink) all() []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event.Event(nil), s.events...)
}

// waitEvent waits for the first event of rule in state.
func (s *recordingSink) waitEvent(t *testing.T, rule string, state event.State) event.Event {
	t.Helper()
	var got []event.Event
	eventually(t, fmt.Sprintf("a %s %s event", rule, state), func() bool {
		got = s.find(rule, state)
		return len(got) > 0
	})
	if strings.HasPrefix(got[0].Reason, "WRONG TARGET") {
		t.Errorf("event %v", got[0])
	}
	return got[0]
}

// streamFrames sends a JSON fps frame every 20 ms until the connection
// fails, answering pings meanwhile (gorilla does while a reader runs).
func streamFrames(c *websocket.Conn) {
	readErr := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				readErr <- err
				return
			}
		}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-readErr:
			return
		case <-tick.C:
			c.SetWriteDeadline(time.Now().Add(time.Second))
			if err := c.WriteMessage(websocket.TextMessage, []byte(wsFPSFrame)); err != nil {
				c.Close()
				<-readErr
				return
			}
		}
	}
}

const wsFPSFrame = `{"type":"event","event":"fps","timestamp":1765900000,"data":{"fps":90,"frame_time_ms":11.1,"memory_usage_mb":250}}`

// closeCode returns the close code of a read error, 0 if none.
func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}
