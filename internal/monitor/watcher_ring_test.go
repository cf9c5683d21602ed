package monitor

import (
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestSampleRingKeepsItsSpan: the ring keeps the samples of the last span
// and no more, in order, and its room follows the rate (at most twice the
// samples within the span) instead of the limit: a 2 Hz stream over a
// 2-minute span holds 241 samples in 256 places, not 9,000.
func TestSampleRingKeepsItsSpan(t *testing.T) {
	t.Parallel()
	at := testkit.BaseTime(t)
	r := sampleRing{span: (2 * time.Minute).Nanoseconds(), limit: config.WatcherRingSize}
	feed := func(n int, every time.Duration, fps float64) {
		for range n {
			r.push(&Sample{At: at, FPS: fps, HasFPS: true})
			at = at.Add(every)
		}
	}

	feed(20*60*2, 500*time.Millisecond, 90) // 20 minutes at 2 Hz
	newest := at.Add(-500 * time.Millisecond)
	all := r.since(0)
	if len(all) != 241 || !all[0].At.Equal(newest.Add(-2*time.Minute)) || !all[240].At.Equal(newest) {
		t.Fatalf("after 20 minutes at 2 Hz: %d samples from %v to %v; want 241 from %v to %v",
			len(all), all[0].At, all[len(all)-1].At, newest.Add(-2*time.Minute), newest)
	}
	if len(r.buf) != 256 {
		t.Errorf("room for %d samples, want 256 (241 within the span)", len(r.buf))
	}
	for i := 1; i < len(all); i++ {
		if all[i].At.Sub(all[i-1].At) != 500*time.Millisecond {
			t.Fatalf("samples %d and %d out of order: %v, %v", i-1, i, all[i-1].At, all[i].At)
		}
	}

	feed(60*10, 100*time.Millisecond, 60) // a minute at 10 Hz: the ring grows
	if got := r.since(at.Add(-time.Minute).UnixNano()); len(got) != 600 || got[0].FPS != 60 {
		t.Errorf("the last minute at 10 Hz: %d samples, the first %v FPS; want 600 of 60 FPS", len(got), got[0].FPS)
	}
	if got := len(r.since(0)); got != 600+120 {
		t.Errorf("%d samples in the span, want 720 (a minute at 10 Hz, a minute at 2 Hz)", got)
	}

	small := sampleRing{span: time.Hour.Nanoseconds(), limit: 50}
	for range 70 {
		small.push(&Sample{At: at, MemoryMB: 300, HasMemory: true})
		at = at.Add(time.Second)
	}
	if got := small.since(0); len(got) != 50 || len(small.buf) != 50 || !got[49].At.Equal(at.Add(-time.Second)) {
		t.Errorf("a span longer than the limit: %d samples in %d places; want the newest 50 in 50", len(got), len(small.buf))
	}
}
