package review

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestServiceDowntime is reliability scenario 11: the daemon is down from
// 3h50 to 4h10 and from 23h55 to 24h20. The hour-4 and hour-24 reviews
// are each delivered once, right after the restart, late by the delay;
// the hour-1 review is never repeated.
func TestServiceDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wall := &svcWall{}
		out := &svcDeliverer{wall: wall}
		h := svcStart(t, "", wall, out, nil)
		t0 := h.deploy("2.0.0").StartedAt

		h.runUntil(t0, 3*time.Hour+50*time.Minute)
		h.stop()
		time.Sleep(20 * time.Minute)
		h = h.restart(nil)
		h.runUntil(t0, 23*time.Hour+55*time.Minute)
		h.stop()
		time.Sleep(25 * time.Minute)
		h = h.restart(nil)
		h.runUntil(t0, 25*time.Hour)

		if names := out.names(); names != "hour-1 hour-4 hour-24" {
			t.Fatalf("delivered %q, want hour-1 hour-4 hour-24 once each", names)
		}
		got := svcByName(t, out.all())
		tests := []struct {
			review string
			at     time.Duration // since t0
			late   time.Duration // 0: on time
		}{
			{"hour-1", time.Hour, 0},
			{"hour-4", 4*time.Hour + 10*time.Minute, 10 * time.Minute},
			{"hour-24", 24*time.Hour + 20*time.Minute, 20 * time.Minute},
		}
		for _, tt := range tests {
			g := got[tt.review]
			if at := g.at.Sub(t0); at != tt.at {
				t.Errorf("%s delivered at +%s, want +%s (%s)", tt.review, at, tt.at, svcFmt(g, t0))
			}
			if g.r.Late != (tt.late > 0) || g.r.LateBy != tt.late {
				t.Errorf("%s: late %t by %s, want late by %s", tt.review, g.r.Late, g.r.LateBy, tt.late)
			}
		}
		// Computed over the data that exists: the outage's minutes are missing.
		if c := got["hour-4"].r.Coverage; c >= 1 || c < 0.9 {
			t.Errorf("hour-4 coverage %.3f, want the window less the 10 minutes down", c)
		}
		// Each review's delivery started once: no marker says otherwise.
		markers, _, err := loadMarkers(h.st, got["hour-1"].r.DeploymentID)
		if err != nil {
			t.Fatal(err)
		}
		for name, m := range markers {
			if m.State != stateDelivered || m.Attempts != 1 {
				t.Errorf("marker %s: %s after %d attempts, want delivered after 1", name, m.State, m.Attempts)
			}
		}
	})
}
