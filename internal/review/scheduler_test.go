package review

import (
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestCheckOffsets(t *testing.T) {
	tests := []struct {
		name    string
		offsets []time.Duration
		want    string // "" for no error
	}{
		{"defaults", config.Default().Defaults.Reviews.Offsets, ""},
		{"demo minutes", []time.Duration{2 * time.Minute, 5 * time.Minute}, ""},
		{"empty", nil, "no review offsets"},
		{"zero", []time.Duration{0}, "offsets[0] is 0s: offsets must be positive"},
		{"descending", []time.Duration{4 * time.Hour, time.Hour}, "offsets[1] (1h0m0s) is not after offsets[0] (4h0m0s)"},
		{"same name", []time.Duration{1500 * time.Millisecond, 1700 * time.Millisecond}, "same name as another, second-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkOffsets(tt.offsets)
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("checkOffsets = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestScheduleDecide(t *testing.T) {
	t0 := testkit.BaseTime(t).Add(30 * time.Second) // off the minute
	sc := schedule{offsets: config.Default().Defaults.Reviews.Offsets, horizon: 48 * time.Hour, settle: time.Minute}
	cur := slot{dep: store.Deployment{ID: "d", StartedAt: t0}}
	next := slot{dep: cur.dep, until: t0.Add(2 * time.Hour)} // superseded at +2h
	mk := func(s markerState) *marker { return &marker{State: s} }
	tests := []struct {
		name   string
		c      slot
		i      int
		m      *marker
		now    time.Duration // since t0
		want   step
		wantAt time.Duration // ready, since t0
	}{
		// hour-1 is due at +1h (10:00:30 + 1h); its window's last minute
		// ends at 11:00:00 and settles a minute later, at +1h0m30s.
		{"before due", cur, 0, nil, 59 * time.Minute, stepWait, time.Hour + 30*time.Second},
		{"due, data not settled", cur, 0, nil, time.Hour + 10*time.Second, stepWait, time.Hour + 30*time.Second},
		{"ready", cur, 0, nil, time.Hour + 30*time.Second, stepDeliver, time.Hour + 30*time.Second},
		{"days late", cur, 0, nil, 30 * time.Hour, stepDeliver, time.Hour + 30*time.Second},
		{"delivered", cur, 0, mk(stateDelivered), 2 * time.Hour, stepDone, time.Hour + 30*time.Second},
		{"delivering: again", cur, 0, mk(stateDelivering), 2 * time.Hour, stepDeliver, time.Hour + 30*time.Second},
		{"delivering, wall stepped back", cur, 0, mk(stateDelivering), 0, stepDeliver, time.Hour + 30*time.Second},
		{"superseded before due", next, 1, nil, 5 * time.Hour, stepSupersede, 4*time.Hour + 30*time.Second},
		{"due before the next deployment", next, 0, nil, 3 * time.Hour, stepDeliver, time.Hour + 30*time.Second},
		{"superseded, recorded", next, 1, mk(stateSuperseded), 5 * time.Hour, stepDone, 4*time.Hour + 30*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, got := sc.decide(tt.c, tt.i, tt.m, t0.Add(tt.now))
			if got != tt.want || s.ready.Sub(t0) != tt.wantAt || s.name != OffsetName(sc.offsets[tt.i]) {
				t.Errorf("decide = %v, ready +%s, %s; want %v, ready +%s", got, s.ready.Sub(t0), s.name, tt.want, tt.wantAt)
			}
		})
	}
}

func TestScheduleCandidates(t *testing.T) {
	t0 := testkit.BaseTime(t)
	sc := schedule{offsets: config.Default().Defaults.Reviews.Offsets, horizon: 48 * time.Hour}
	deps := []store.Deployment{ // newest first, as the store returns them
		{ID: "c", StartedAt: t0.Add(50 * time.Hour)},
		{ID: "b", StartedAt: t0.Add(10 * time.Hour)},
		{ID: "a", StartedAt: t0},
	}
	got := sc.candidates(deps, t0.Add(52*time.Hour))
	if len(got) != 2 || got[0].dep.ID != "b" || got[1].dep.ID != "c" {
		t.Fatalf("candidates = %+v, want b then c (a is past the horizon)", got)
	}
	if !got[0].until.Equal(t0.Add(50*time.Hour)) || !got[1].until.IsZero() {
		t.Errorf("until = %s, %s; want c's start for b, none for c", got[0].until, got[1].until)
	}
}
