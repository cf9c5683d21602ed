package review

import (
	"math"
	"slices"
	"testing"
	"unicode/utf8"
)

func TestSparkline(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name   string
		values []float64
		lo, hi float64
		want   string
	}{
		{"every level", []float64{0, 1, 2, 3, 4, 5, 6, 7}, 0, 7, "▁▂▃▄▅▆▇█"},
		{"rounded to the nearest level", []float64{0.49, 0.51, 6.6}, 0, 7, "▁▂█"},
		{"clamped", []float64{-10, 100}, 0, 7, "▁█"},
		{"gaps are spaces", []float64{7, nan, 7}, 0, 7, "█ █"},
		{"flat scale draws mid height", []float64{3, 3}, 5, 5, "▄▄"},
		{"empty", nil, 0, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sparkline(tc.values, tc.lo, tc.hi); got != tc.want {
				t.Errorf("Sparkline(%v, %v, %v) = %q, want %q", tc.values, tc.lo, tc.hi, got, tc.want)
			}
		})
	}
}

func TestDownsample(t *testing.T) {
	nan := math.NaN()
	in := []float64{1, 3, 5, 7, nan, nan, 2, nan}
	if got := downsample(in, 4, meanOf); !equalNaN(got, []float64{2, 6, nan, 2}) {
		t.Errorf("mean: %v", got)
	}
	if got := downsample(in, 4, maxOf); !equalNaN(got, []float64{3, 7, nan, 2}) {
		t.Errorf("max: %v", got)
	}
	if got := downsample(in, 10, maxOf); !equalNaN(got, in) {
		t.Errorf("fewer values than the width are kept: %v", got)
	}
	// 1440 minutes into 24: an hour each.
	day := make([]float64, 1440)
	for i := range day {
		day[i] = float64(i / 60)
	}
	got := downsample(day, 24, meanOf)
	if len(got) != 24 || got[0] != 0 || got[23] != 23 {
		t.Errorf("a day in 24: %v", got)
	}
	// An uneven split covers every value once.
	if got := downsample(make([]float64, 61), 24, meanOf); len(got) != 24 {
		t.Errorf("61 values into %d", len(got))
	}
}

func equalNaN(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) })
}

// TestReviewSparklines: at most 24 characters; a dip and a leak show;
// a clean run is flat; a window without telemetry has none.
func TestReviewSparklines(t *testing.T) {
	clean, degraded := timelines(t)
	for i := range 3 {
		for _, r := range []Review{reviewAt(clean, i, Thresholds{}), reviewAt(degraded, i, Thresholds{})} {
			for _, s := range []string{r.FPSSparkline, r.MemorySparkline} {
				if n := utf8.RuneCountInString(s); n == 0 || n > sparkWidth {
					t.Errorf("%s: sparkline %q has %d characters", r.Name, s, n)
				}
			}
		}
		r := reviewAt(clean, i, Thresholds{})
		if distinct(r.FPSSparkline) != 1 || distinct(r.MemorySparkline) != 1 {
			t.Errorf("clean %s: noise shows: %q %q", r.Name, r.FPSSparkline, r.MemorySparkline)
		}
	}
	r := reviewAt(degraded, 1, Thresholds{})
	if distinct(r.FPSSparkline) < 2 {
		t.Errorf("the FPS dips do not show: %q", r.FPSSparkline)
	}
	if mem := []rune(r.MemorySparkline); mem[len(mem)-1] <= mem[0] {
		t.Errorf("the leak does not show: %q", r.MemorySparkline)
	}
	none := computeOver(KindHour1, hourOf(60, func(i int, m *Minute) { m.OwnRequests = 1 }))
	if none.FPSSparkline != "" || none.MemorySparkline != "" {
		t.Errorf("no telemetry, sparklines %q %q", none.FPSSparkline, none.MemorySparkline)
	}
}

func distinct(s string) int {
	seen := map[rune]bool{}
	for _, r := range s {
		seen[r] = true
	}
	return len(seen)
}
