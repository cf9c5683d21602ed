package review

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestServiceTimeline25h runs a deployment's first 25 hours: each review
// is delivered once, at its due time, on time, over the minutes the
// Recorder fed.
func TestServiceTimeline25h(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wall := &svcWall{}
		out := &svcDeliverer{wall: wall}
		time.Sleep(30 * time.Second) // a deployment off the minute
		h := svcStart(t, "", wall, out, nil)
		d := h.deploy("1.2.3")
		t0 := d.StartedAt

		h.runFor(25 * time.Hour)

		got := out.all()
		if names := out.names(); names != "hour-1 hour-4 hour-24" {
			t.Fatalf("delivered %q, want hour-1 hour-4 hour-24 once each", names)
		}
		for i, off := range []time.Duration{time.Hour, 4 * time.Hour, 24 * time.Hour} {
			g := got[i]
			due := t0.Add(off)
			if g.r.DeploymentID != d.ID || g.r.Version != "1.2.3" || !g.r.DueAt.Equal(due) || g.r.Offset != off {
				t.Errorf("%s: deployment %s version %s due %s offset %s; want %s %s %s %s",
					g.r.Name, g.r.DeploymentID, g.r.Version, g.r.DueAt, g.r.Offset, d.ID, "1.2.3", due, off)
			}
			// The Recorder settles at once here, so the review is ready when due.
			if !g.at.Equal(due) {
				t.Errorf("%s delivered at +%s, want +%s", g.r.Name, g.at.Sub(t0), off)
			}
			if g.r.Late || g.r.LateBy != 0 || !g.r.ComputedAt.Equal(g.at) {
				t.Errorf("%s: late %t by %s, computed at %s; want on time, computed on delivery", g.r.Name, g.r.Late, g.r.LateBy, g.r.ComputedAt)
			}
			if g.r.Partial || g.r.Coverage < 0.99 {
				t.Errorf("%s: partial %t, coverage %.3f; want the whole window", g.r.Name, g.r.Partial, g.r.Coverage)
			}
		}
	})
}
