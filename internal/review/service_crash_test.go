package review

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestServiceCrashWhileDelivering cuts the service between the Deliverer's
// success and the "delivered" mark: after the restart the review goes out
// once more (the documented duplicate), marked late, and never again.
func TestServiceCrashWhileDelivering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wall := &svcWall{}
		out := &svcDeliverer{wall: wall, crashAfter: 1}
		h := svcStart(t, "", wall, out, nil)
		d := h.deploy("4.0.0")
		h.runUntil(d.StartedAt, time.Hour)
		select {
		case <-h.exited:
		default:
			t.Fatal("the service did not crash in the Deliverer")
		}
		if m, _, _ := loadMarkers(h.st, d.ID); m["hour-1"] == nil || m["hour-1"].State != stateDelivering {
			t.Fatalf("marker after the crash = %+v, want delivering", m["hour-1"])
		}
		time.Sleep(5 * time.Minute) // down for 5 minutes
		h = h.restart(nil)
		h.runUntil(d.StartedAt, 5*time.Hour)

		got := out.all()
		if names := out.names(); names != "hour-1 hour-1 hour-4" {
			t.Fatalf("delivered %q, want hour-1 twice (before and after the crash), then hour-4", names)
		}
		if again := got[1]; !again.r.Late || again.r.LateBy != 5*time.Minute {
			t.Errorf("redelivery: %s, want late by 5m", svcFmt(again, d.StartedAt))
		}
		m, _, err := loadMarkers(h.st, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if hm := m["hour-1"]; hm.State != stateDelivered || hm.Attempts != 2 {
			t.Errorf("hour-1 marker: %s after %d attempts, want delivered after 2", hm.State, hm.Attempts)
		}
		if _, err := readReviewFileT(h.dir, d.ID, "hour-1"); err != nil {
			t.Errorf("hour-1 files after the redelivery: %v", err)
		}
	})
}

// TestServiceDeliveryFailureRetries: a Deliverer that fails (the outbox's
// disk is full) gets the review again on the next tick, once it works,
// and the later reviews wait for it.
func TestServiceDeliveryFailureRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wall := &svcWall{}
		out := &svcDeliverer{wall: wall, fails: 3}
		h := svcStart(t, "", wall, out, nil)
		d := h.deploy("5.0.0")
		h.runUntil(d.StartedAt, 5*time.Hour)

		got := svcByName(t, out.all())
		if len(got) != 2 {
			t.Fatalf("delivered %q, want hour-1 and hour-4", out.names())
		}
		// Failed when ready at 1h, then at the ticks at 1h0m1s and 1h1m1s;
		// delivered at 1h2m1s, past the 2-minute slack.
		if g := got["hour-1"]; g.at.Sub(d.StartedAt) != time.Hour+2*time.Minute+time.Second || !g.r.Late {
			t.Errorf("%s, want at +1h2m1s after three failures, late", svcFmt(g, d.StartedAt))
		}
		if g := got["hour-4"]; g.r.Late {
			t.Errorf("%s, want on time", svcFmt(g, d.StartedAt))
		}
		if v := testutilCounter(t, h, "spacetime_watch_review_errors_total", "deliver"); v != 3 {
			t.Errorf("deliver errors = %v, want 3", v)
		}
	})
}

// TestServiceUnreadableMarker: a marker that does not parse counts as
// "delivering": the review goes out (perhaps again) rather than never.
func TestServiceUnreadableMarker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wall := &svcWall{}
		out := &svcDeliverer{wall: wall}
		h := svcStart(t, "", wall, out, nil)
		d := h.deploy("9.0.0")
		if err := h.st.PutReviewMarker(d.ID, "hour-1", []byte("{not json")); err != nil {
			t.Fatal(err)
		}
		h.runUntil(d.StartedAt, 2*time.Hour)
		if names := out.names(); names != "hour-1" {
			t.Errorf("delivered %q, want hour-1", names)
		}
		if m, _, _ := loadMarkers(h.st, d.ID); m["hour-1"] == nil || m["hour-1"].State != stateDelivered {
			t.Errorf("marker = %+v, want delivered", m["hour-1"])
		}
	})
}

func TestServiceRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wall := &svcWall{}
		h := svcStart(t, "", wall, &svcDeliverer{wall: wall}, nil)
		if err := h.svc.Run(t.Context()); err == nil {
			t.Error("a second Run returned nil")
		}
	})
}
