package review

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestServiceWallClockSteps is reliability scenario 13: the wall clock
// steps by an hour, back or forward, while the runtime clock runs on. No
// review is repeated and none skipped; a step forward over a due time
// makes that review due at once, late by the wall clock's account.
func TestServiceWallClockSteps(t *testing.T) {
	type step struct {
		at time.Duration // wall time since the deployment
		by time.Duration
	}
	tests := []struct {
		name  string
		steps []step
		late  map[string]time.Duration // by review; absent: on time
	}{
		{
			name:  "back 1h after hour-1",
			steps: []step{{90 * time.Minute, -time.Hour}},
		},
		{
			name:  "back 1h after hour-24 fell due",
			steps: []step{{24*time.Hour + 30*time.Minute, -time.Hour}},
		},
		{
			name:  "forward 1h over hour-4",
			steps: []step{{3*time.Hour + 30*time.Minute, time.Hour}},
			late:  map[string]time.Duration{"hour-4": 30 * time.Minute},
		},
		{
			name:  "forward over hour-4, then back",
			steps: []step{{3*time.Hour + 30*time.Minute, time.Hour}, {4*time.Hour + 45*time.Minute, -time.Hour}},
			late:  map[string]time.Duration{"hour-4": 30 * time.Minute},
		},
		{
			name:  "back before hour-1, then forward",
			steps: []step{{50 * time.Minute, -time.Hour}, {-5 * time.Minute, time.Hour}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				wall := &svcWall{}
				out := &svcDeliverer{wall: wall}
				h := svcStart(t, "", wall, out, nil)
				t0 := h.deploy("3.0.0").StartedAt
				for _, s := range tt.steps {
					h.runUntil(t0, s.at)
					wall.Step(s.by)
					synctest.Wait()
				}
				h.runUntil(t0, 25*time.Hour)

				if names := out.names(); names != "hour-1 hour-4 hour-24" {
					t.Fatalf("delivered %q, want hour-1 hour-4 hour-24 once each", names)
				}
				for name, g := range svcByName(t, out.all()) {
					// The step is noticed at the next tick, a second later.
					want := tt.late[name]
					if g.r.Late != (want > 0) || g.r.LateBy < want || g.r.LateBy > want+time.Second {
						t.Errorf("%s, want late by %s", svcFmt(g, t0), want)
					}
					if g.at.Before(g.r.DueAt) {
						t.Errorf("%s: delivered before its due time on the wall clock", svcFmt(g, t0))
					}
				}
			})
		})
	}
}
