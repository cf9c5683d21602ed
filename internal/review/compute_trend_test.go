package review

import (
	"strings"
	"testing"
	"time"
)

// The trend items project a slope to a limit only from enough data
// (Thresholds.TrendMinSpan, 15 minutes) and only while the series is still
// moving toward the limit (towardLimit; for memory also crossed).

// onDemand computes the hour-4 review over ms at now, as `spacetime-watch
// review` does before the review is due.
func onDemand(ms []Minute, now time.Duration) Review {
	return Compute(Input{StartedAt: testStart, Offset: 4 * time.Hour, Kind: KindHour4, Now: testStart.Add(now), Minutes: ms})
}

// projects tells whether an item states a time to a limit.
func projects(it Item) bool {
	text := it.Figure + " | " + it.Note
	return strings.Contains(text, " in ") && (strings.Contains(text, "400 MB in") || strings.Contains(text, "projected below"))
}

// TestTrendJitterNoProjection: two minutes of jitter right after a
// deployment started (FPS 91 then 89, memory 210 then 214) make steep
// slopes; the review shows no trend and projects nothing.
func TestTrendJitterNoProjection(t *testing.T) {
	ms := hourOf(2, func(i int, m *Minute) {
		fps(m, 60, 60, 91-2*float64(i), 88)
		mem(m, 210+4*float64(i), 215+4*float64(i))
	})
	r := onDemand(ms, 2*time.Minute+10*time.Second)
	for _, name := range []string{"fps_trend", "memory_trend", "memory_stable"} {
		it := itemOf(t, r, name)
		if projects(it) || strings.Contains(it.Figure, "/h") || strings.Contains(it.Figure, "/min") {
			t.Errorf("%s from 2 minutes: %q (%s), want no slope and no projection", name, it.Figure, it.Note)
		}
		if !strings.Contains(it.Figure, "no trend from 2 minutes of data") {
			t.Errorf("%s: figure %q does not say how little data there is", name, it.Figure)
		}
	}
	if it := itemOf(t, r, "fps_trend"); it.Verdict != Warn || it.Note != "a trend needs at least 15m of data" {
		t.Errorf("fps_trend: %+v, want a warning that names the 15 minutes", it)
	}
	if it := itemOf(t, r, "memory_stable"); it.Verdict != Pass {
		t.Errorf("memory_stable under the ceiling: %s", it.Verdict)
	}
	// 14 minutes are still too few; 15 are enough.
	for n, want := range map[int]bool{14: false, 15: true} {
		ms := hourOf(n, func(i int, m *Minute) { fps(m, 60, 60, 95-0.3*float64(i), 88) })
		if got := projects(itemOf(t, onDemand(ms, time.Duration(n)*time.Minute+10*time.Second), "fps_trend")); got != want {
			t.Errorf("a steady decline over %d minutes: projected %v, want %v", n, got, want)
		}
	}
}

// TestTrendSteadyDeclineProjects: 20 minutes of steady decline project
// the time to the limit: FPS from 95 at 0.3 FPS/min is at 89 and leaves
// the band in about 13 minutes; memory from 250 at 5 MB/min reaches
// 400 MB in about 10 minutes.
func TestTrendSteadyDeclineProjects(t *testing.T) {
	ms := hourOf(20, func(i int, m *Minute) {
		fps(m, 60, 60, 95-0.3*float64(i), 88)
		mem(m, 250+5*float64(i), 251+5*float64(i))
	})
	r := onDemand(ms, 20*time.Minute+10*time.Second)
	if it := itemOf(t, r, "fps_trend"); it.Verdict != Warn || !strings.Contains(it.Note, "falling: projected below 85 FPS in 13m") {
		t.Errorf("fps_trend: %s %q (%s), want a warning projecting 85 FPS in 13m", it.Verdict, it.Figure, it.Note)
	}
	if it := itemOf(t, r, "memory_trend"); it.Verdict != Fail || !strings.Contains(it.Figure, "400 MB in 10m30s") {
		t.Errorf("memory_trend: %s %q (%s), want a failure projecting 400 MB in 10m30s", it.Verdict, it.Figure, it.Note)
	}
	if it := itemOf(t, r, "memory_stable"); it.Verdict != Warn || !strings.Contains(it.Note, "400 MB in 10m30s") {
		t.Errorf("memory_stable: %s %q (%s)", it.Verdict, it.Figure, it.Note)
	}
}

// TestTrendRecoveredMemoryNoProjection: memory that is no longer moving
// toward 400 MB is not projected to reach it, however the line through
// its climb slopes. (A sharp fall is a change of course that recentTrend
// fits on its own; the crossing rule is what keeps a climb past 400 MB
// from being projected after memory came back.)
func TestTrendRecoveredMemoryNoProjection(t *testing.T) {
	tests := []struct {
		name string
		at   func(i int) float64 // memory in minute i of 60
		note string              // memory_trend's note, if any
	}{
		{"crossed 400 MB and came back under", func(i int) float64 {
			switch {
			case i < 40:
				return 200
			case i < 57:
				return 200 + 14*float64(i-39) // 424 MB at minute 56
			}
			return 380
		}, "peaked at"},
		{"fell back without reaching 400 MB", func(i int) float64 {
			switch {
			case i < 15:
				return 200
			case i < 57:
				return 200 + 4*float64(i-14) // 368 MB at minute 56
			}
			return 250 // for 3 minutes
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms := hourOf(60, func(i int, m *Minute) { mem(m, tc.at(i), tc.at(i)) })
			r := onDemand(ms, 60*time.Minute+10*time.Second)
			for _, name := range []string{"memory_trend", "memory_stable"} {
				// A rate since a change of course may show, if it is the fall.
				if it := itemOf(t, r, name); projects(it) || strings.Contains(it.Figure, "; +") {
					t.Errorf("%s: %s %q (%s), want no projection and no rising rate", name, it.Verdict, it.Figure, it.Note)
				}
			}
			if it := itemOf(t, r, "memory_trend"); !strings.Contains(it.Note, tc.note) || it.Verdict == Fail {
				t.Errorf("memory_trend: %s %q (%s), want no failure and a note with %q", it.Verdict, it.Figure, it.Note, tc.note)
			}
		})
	}
	// Above the ceiling now: the figure says where memory is, from the
	// last minute, not from the line.
	ms := hourOf(60, func(i int, m *Minute) { v := 200 + 4*float64(i); mem(m, v, v) }) // 436 MB at the end
	if it := itemOf(t, onDemand(ms, time.Hour+10*time.Second), "memory_trend"); !strings.Contains(it.Figure, "at 436 MB, above 400 MB") {
		t.Errorf("memory_trend above the ceiling: %q", it.Figure)
	}
}

// TestTrendRecoveredFPSNoProjection: FPS that fell and is back up, or is
// already below the band, is not projected to leave it.
func TestTrendRecoveredFPSNoProjection(t *testing.T) {
	for name, at := range map[string]func(i int) float64{
		"back up after a decline": func(i int) float64 {
			if i < 25 {
				return 94 - 0.3*float64(i) // 86.8 at minute 24
			}
			return 93
		},
		"already below the band": func(i int) float64 { return 95 - 0.4*float64(i) }, // 83.4 at minute 29
	} {
		ms := hourOf(30, func(i int, m *Minute) { fps(m, 60, 60, at(i), 80) })
		if it := itemOf(t, onDemand(ms, 30*time.Minute+10*time.Second), "fps_trend"); projects(it) {
			t.Errorf("%s: %s %q (%s), want no projection", name, it.Verdict, it.Figure, it.Note)
		}
	}
}

// TestTowardLimit walks the rule a projection must pass.
func TestTowardLimit(t *testing.T) {
	fitOf := func(ys ...float64) ([]point, line) {
		pts := make([]point, len(ys))
		for i, y := range ys {
			pts[i] = point{float64(i) + 0.5, y}
		}
		return pts, linearFit(pts)
	}
	tests := []struct {
		name       string
		ys         []float64
		limit, dir float64
		want       bool
	}{
		{"rising to a ceiling", []float64{200, 210, 220, 230, 240}, 400, +1, true},
		{"rising, with noise", []float64{200, 214, 216, 233, 238}, 400, +1, true},
		{"falling from a ceiling", []float64{240, 230, 220, 210, 200}, 400, +1, false},
		{"flat", []float64{200, 200, 200, 200}, 400, +1, false},
		{"at the ceiling", []float64{370, 380, 390, 400}, 400, +1, false},
		{"fell back below the midpoint", []float64{200, 250, 300, 350, 210}, 400, +1, false},
		{"kept more than half", []float64{200, 250, 300, 350, 340}, 400, +1, true},
		{"falling to a floor", []float64{95, 94, 93, 92}, 85, -1, true},
		{"below the floor", []float64{88, 87, 86, 84}, 85, -1, false},
		{"back up from a fall", []float64{95, 92, 89, 86, 94}, 85, -1, false},
	}
	for _, tc := range tests {
		pts, l := fitOf(tc.ys...)
		if got := towardLimit(pts, l, float64(len(pts)), tc.limit, tc.dir); got != tc.want {
			t.Errorf("%s: towardLimit = %v, want %v (slope %.2f)", tc.name, got, tc.want, l.Slope)
		}
	}
	if towardLimit(nil, line{}, 0, 400, +1) {
		t.Error("no points: toward the limit")
	}
}
