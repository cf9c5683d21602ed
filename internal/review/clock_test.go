package review

import (
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestNextTick(t *testing.T) {
	base := testkit.BaseTime(t)
	at := func(d time.Duration) time.Time { return base.Add(d) }
	tests := []struct {
		name  string
		now   time.Duration
		ready time.Time
		want  time.Duration
	}{
		{"mid-minute", 30 * time.Second, time.Time{}, time.Minute + time.Second},
		{"on the tick", time.Second, time.Time{}, time.Minute + time.Second},
		{"between boundary and delay", 500 * time.Millisecond, time.Time{}, time.Second},
		{"ready first", 10 * time.Second, at(20 * time.Second), 20 * time.Second},
		{"ready later", 10 * time.Second, at(5 * time.Minute), time.Minute + time.Second},
		{"ready past", 10 * time.Second, at(5 * time.Second), time.Minute + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextTick(at(tt.now), time.Minute, time.Second, tt.ready); !got.Equal(at(tt.want)) {
				t.Errorf("nextTick = +%s, want +%s", got.Sub(base), tt.want)
			}
		})
	}
}

func TestSleepForIsBounded(t *testing.T) {
	now := testkit.BaseTime(t)
	tests := []struct {
		name string
		next time.Time
		want time.Duration
	}{
		{"ahead", now.Add(20 * time.Second), 20 * time.Second},
		{"far ahead: a wall step back", now.Add(time.Hour), time.Minute},
		{"behind: a wall step forward", now.Add(-time.Hour), time.Millisecond},
	}
	for _, tt := range tests {
		if got := sleepFor(now, tt.next, time.Minute); got != tt.want {
			t.Errorf("%s: sleepFor = %s, want %s", tt.name, got, tt.want)
		}
	}
}
