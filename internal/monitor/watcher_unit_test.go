package monitor

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// Tests of Run's goroutine's steps, driven directly with a settable clock:
// the parts whose timing would be slow or loose over real sockets.

// stepClock is a settable clock.
type stepClock struct{ t time.Time }

func (c *stepClock) now() time.Time { return c.t }

// newStepWatcher returns a watcher as Run's goroutine has it after begin,
// with default options and a settable clock.
func newStepWatcher(t *testing.T, mod func(*WatcherOptions)) (*Watcher, *stepClock) {
	t.Helper()
	clock := &stepClock{t: testkit.BaseTime(t)}
	opts := testWatcherOptions(watchTarget, "ws://127.0.0.1:8081/")
	opts.Metrics = NewMetrics(prometheus.NewRegistry())
	opts.Now = clock.now
	if mod != nil {
		mod(&opts)
	}
	w, err := NewWatcher(opts)
	if err != nil {
		t.Fatal(err)
	}
	w.begin(clock.now())
	return w, clock
}

// fpsFrame hands the watcher an fps frame received now.
func fpsFrame(w *Watcher, now time.Time, fps float64) {
	w.handleFrame(&spacetime.Frame{Kind: spacetime.KindFPS, Received: now, FPS: fps, Fields: spacetime.FieldFPS})
}

// TestWatcherBackoffSchedule is reliability scenario 9 with the default
// options: over a ten-minute outage the watcher dials at most 20 times, no
// delay exceeds the 60 s cap (so recovery is seen within cap + one dial),
// and a connection that delivered data for 30 s brings the delay back to
// about 1 s, while one that dropped sooner keeps backing off.
func TestWatcherBackoffSchedule(t *testing.T) {
	t.Parallel()
	w, clock := newStepWatcher(t, nil)
	refused := &spacetime.DialError{Attempts: []spacetime.DialAttempt{{URL: "ws://127.0.0.1:8081/", Err: errors.New("connection refused")}}}

	dials, elapsed := 1, time.Duration(0)
	for elapsed < 10*time.Minute {
		d := w.ended(refused, false, clock.now())
		if d > config.Default().Defaults.Telemetry.BackoffMax {
			t.Fatalf("delay %s over the 60s cap", d)
		}
		elapsed += d
		clock.t = clock.t.Add(d)
		dials++
	}
	if dials > 20 {
		t.Errorf("%d dials in a 10-minute outage, want at most 20", dials)
	}
	if st := w.Status(); st.FailedDials != dials-1 || st.State != StreamDisconnected || st.NextDial.IsZero() {
		t.Errorf("Status = %+v", st)
	}

	for _, tc := range []struct {
		name      string
		delivered time.Duration
		wantReset bool
	}{
		{"a connection that delivered for 30s resets the backoff", 30 * time.Second, true},
		{"a connection that dropped after 5s does not", 5 * time.Second, false},
	} {
		w.connected("ws://127.0.0.1:8081/", clock.now())
		fpsFrame(w, clock.now(), 90)
		clock.t = clock.t.Add(tc.delivered)
		d := w.ended(errors.New("server closed the stream"), true, clock.now())
		if reset := d <= config.Default().Defaults.Telemetry.BackoffInitial; reset != tc.wantReset {
			t.Errorf("%s: next delay %s", tc.name, d)
		}
		clock.t = clock.t.Add(d)
	}
}

// TestWatcherWindowSkipsEarlierConnections: check 10 never judges samples
// from before an outage, and the ring keeps the newest samples in order.
func TestWatcherWindowSkipsEarlierConnections(t *testing.T) {
	t.Parallel()
	w, clock := newStepWatcher(t, func(o *WatcherOptions) { o.RingSize = 50 })
	frames := func(n int, fps float64) {
		for range n {
			fpsFrame(w, clock.now(), fps)
			clock.t = clock.t.Add(100 * time.Millisecond)
		}
	}
	window := func(d time.Duration) windowReply {
		reply := make(chan windowReply, 1)
		w.serve(watcherRequest{samples: reply, window: d})
		return <-reply
	}

	w.connected("ws://127.0.0.1:8081/", clock.now())
	frames(30, 90)
	if rep := window(2 * time.Second); !rep.live || len(rep.samples) != 20 {
		t.Fatalf("window of 2s at 10 samples/s: live %v, %d samples, want 20", rep.live, len(rep.samples))
	}
	w.ended(errors.New("server closed the stream"), true, clock.now())
	if rep := window(time.Minute); rep.live || rep.samples != nil {
		t.Errorf("window while down: live %v, %d samples; want none", rep.live, len(rep.samples))
	}

	clock.t = clock.t.Add(time.Second)
	w.connected("ws://127.0.0.1:8081/", clock.now())
	frames(70, 60) // more than the ring holds
	rep := window(time.Minute)
	if len(rep.samples) != 50 {
		t.Fatalf("%d samples, want the ring's 50", len(rep.samples))
	}
	for i, s := range rep.samples {
		if s.FPS != 60 {
			t.Fatalf("sample %d: %v FPS from the earlier connection", i, s.FPS)
		}
		if i > 0 && s.At.Sub(rep.samples[i-1].At) != 100*time.Millisecond {
			t.Fatalf("samples %d and %d out of order: %v, %v", i-1, i, rep.samples[i-1].At, s.At)
		}
	}
	if last := rep.samples[len(rep.samples)-1].At; !last.Equal(clock.now().Add(-100 * time.Millisecond)) {
		t.Errorf("newest sample at %v, want %v", last, clock.now().Add(-100*time.Millisecond))
	}
}

// TestUntilTick: a watcher's next tick is at the next multiple of its
// interval since tickAnchor, never now and never later than one interval,
// so every watcher of a daemon ticks at the same instants; a now before
// the anchor (a test clock) keeps the same rule.
func TestUntilTick(t *testing.T) {
	for _, tc := range []struct {
		now   time.Time
		every time.Duration
		want  time.Duration
	}{
		{tickAnchor, time.Second, time.Second},
		{tickAnchor.Add(time.Nanosecond), time.Second, time.Second - time.Nanosecond},
		{tickAnchor.Add(300 * time.Millisecond), time.Second, 700 * time.Millisecond},
		{tickAnchor.Add(5*time.Second + 999*time.Millisecond), time.Second, time.Millisecond},
		{tickAnchor.Add(25 * time.Millisecond), 20 * time.Millisecond, 15 * time.Millisecond},
		{tickAnchor.Add(-300 * time.Millisecond), time.Second, 300 * time.Millisecond},
		{tickAnchor.Add(-2 * time.Second), time.Second, time.Second},
	} {
		got := untilTick(tc.now, tc.every)
		if got != tc.want {
			t.Errorf("untilTick(anchor%+v, %s) = %s, want %s", tc.now.Sub(tickAnchor), tc.every, got, tc.want)
		}
		if at := tc.now.Add(got).Sub(tickAnchor); at%tc.every != 0 {
			t.Errorf("from anchor%+v the next tick, anchor%+v, is not on a multiple of %s", tc.now.Sub(tickAnchor), at, tc.every)
		}
	}
}
