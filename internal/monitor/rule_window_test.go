package monitor

import (
	"math"
	"testing"
	"time"
)

// TestSmootherGrowsWithTheRate: the smoother's mean is that of the samples
// within the span, whatever its room, and its room follows the rate: 16
// places for a 5-s window at 2 Hz, 64 at 10 Hz, never more than
// smootherCap (when it keeps the newest smootherCap samples).
func TestSmootherGrowsWithTheRate(t *testing.T) {
	t.Parallel()
	const span = 5 * time.Second
	var s smoother
	var c time.Duration
	var all []struct {
		at time.Duration
		v  float64
	}
	feed := func(n int, every time.Duration, keep int) {
		t.Helper()
		for i := range n {
			v := float64(i%7) + float64(len(all))/1000
			all = append(all, struct {
				at time.Duration
				v  float64
			}{c, v})
			got := s.add(c, span, v)
			sum, k := 0.0, 0
			for j := len(all) - 1; j >= 0 && c-all[j].at < span && k < keep; j-- {
				sum += all[j].v
				k++
			}
			if want := sum / float64(k); math.Abs(got-want) > 1e-9 {
				t.Fatalf("sample %d at %s: mean %v, want %v over the last %d", len(all), c, got, want, k)
			}
			c += every
		}
	}

	feed(60, 500*time.Millisecond, smootherCap)
	if len(s.at) != 16 {
		t.Errorf("room %d at 2 Hz, want 16", len(s.at))
	}
	feed(200, 100*time.Millisecond, smootherCap)
	if len(s.at) != 64 {
		t.Errorf("room %d at 10 Hz, want 64", len(s.at))
	}
	feed(600, time.Millisecond, smootherCap) // 1 kHz: more than the cap within the span
	if len(s.at) != smootherCap || s.n != smootherCap {
		t.Errorf("room %d holding %d at 1 kHz, want both %d", len(s.at), s.n, smootherCap)
	}
	s.reset() // an outage: the samples before it are forgotten
	all = all[:0]
	feed(10, time.Second, smootherCap)
}
