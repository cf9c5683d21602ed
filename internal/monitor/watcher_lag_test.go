package monitor

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestWatcherFrameLag: each stamped frame observes the time from its stamp
// (the instance's clock) to its rule evaluation (the watcher's clock) in
// spacetime_telemetry_frame_lag_seconds; a frame without a stamp (binary
// 0x01) observes nothing. The two clocks are frozen 30 ms apart, so every
// observation is exactly 30 ms whatever the machine's load.
func TestWatcherFrameLag(t *testing.T) {
	t.Parallel()
	stamp := testkit.BaseTime(t)
	const lag = 30 * time.Millisecond
	t.Run("stamped", func(t *testing.T) {
		t.Parallel()
		env := startLagEnv(t, sim.EncodingJSON, stamp, lag, nil)
		h := gatherHistogram(t, env, "spacetime_telemetry_frame_lag_seconds")
		if h.GetSampleCount() == 0 {
			t.Fatal("no lag observed for stamped frames")
		}
		for _, b := range h.GetBucket() {
			want := uint64(0)
			if b.GetUpperBound() >= lag.Seconds() {
				want = h.GetSampleCount()
			}
			if b.GetCumulativeCount() != want {
				t.Errorf("bucket le=%v holds %d of %d, want %d: every lag is %s", b.GetUpperBound(), b.GetCumulativeCount(), h.GetSampleCount(), want, lag)
			}
		}
		if got, want := h.GetSampleSum(), float64(h.GetSampleCount())*lag.Seconds(); got < want*0.999 || got > want*1.001 {
			t.Errorf("sum %v over %d frames, want %v", got, h.GetSampleCount(), want)
		}
		if n := testutil.CollectAndCount(env.m.TelemetryFrameLag); n != 1 {
			t.Errorf("%d lag series, want 1 (no target label)", n)
		}
	})
	t.Run("unstamped", func(t *testing.T) {
		t.Parallel()
		// Binary fps packets only (no tracking frames): of the stamped
		// frames, only vr_initialized, once per connection.
		env := startLagEnv(t, sim.EncodingBinary, stamp, lag, func(o *sim.Options) { o.TrackingInterval = time.Hour })
		h := gatherHistogram(t, env, "spacetime_telemetry_frame_lag_seconds")
		if conns := 1 + env.w.Status().Reconnects; h.GetSampleCount() > conns {
			t.Errorf("%d lag observations over %d connection(s), want at most one each: unstamped fps packets were observed", h.GetSampleCount(), conns)
		}
	})
}

// startLagEnv starts a sim stamping frames in milliseconds at the frozen
// time stamp and a watcher whose clock reads stamp+lag, and waits for
// three fps frames.
func startLagEnv(t *testing.T, encoding string, stamp time.Time, lag time.Duration, mod func(*sim.Options)) *watchEnv {
	t.Helper()
	s := startWatchSim(t, `{"telemetry_timestamp":"ms","telemetry_encoding":"`+encoding+`"}`, func(o *sim.Options) {
		o.Now = func() time.Time { return stamp }
		if mod != nil {
			mod(o)
		}
	})
	env := newWatchEnv(t, []string{simURL(s)}, func(o *WatcherOptions) {
		o.Now = func() time.Time { return stamp.Add(lag) }
	})
	env.start(t)
	eventually(t, "frames counted", func() bool {
		n, _ := env.value(t, "spacetime_telemetry_frames_total", "target", watchTarget)
		return n >= 3
	})
	return env
}

// gatherHistogram returns the one histogram named name.
func gatherHistogram(t *testing.T, env *watchEnv, name string) *dto.Histogram {
	t.Helper()
	mfs, err := env.reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetHistogram()
		}
	}
	t.Fatalf("no single histogram %s", name)
	return nil
}
