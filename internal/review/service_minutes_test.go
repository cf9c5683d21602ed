package review

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestMinutesAddsTheOpenOnes: Minutes returns the stored minutes and then
// those the Recorder still holds, the current one included, so the status
// page's charts reach now; it changes nothing (the next flush still
// stores every minute once).
func TestMinutesAddsTheOpenOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wall := &svcWall{}
		h := svcStart(t, "", wall, &svcDeliverer{}, nil)
		h.runFor(5 * time.Minute)
		h.rec.ObserveSamples(svcHealthy(wall.Now())) // the current minute, open
		now := wall.Now()
		got, err := h.svc.Minutes("vr", now.Add(-time.Hour), now.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < 5 {
			t.Fatalf("%d minutes, want the 5 stored and the open one", len(got))
		}
		last := got[len(got)-1]
		if !last.At.Equal(now.UTC().Truncate(time.Minute)) || last.FPSSamples == 0 || last.FPSMean != 90 {
			t.Errorf("last minute %s with %d FPS samples, mean %v; want the current minute at 90", last.At, last.FPSSamples, last.FPSMean)
		}
		for i := 1; i < len(got); i++ {
			if !got[i].At.After(got[i-1].At) {
				t.Errorf("minutes not strictly ascending at %d: %s then %s", i, got[i-1].At, got[i].At)
			}
		}
		if open := h.rec.Open(); len(open) == 0 {
			t.Error("Minutes flushed the Recorder: it must only read it")
		}
		if _, err := h.svc.Minutes("nope", now.Add(-time.Hour), now); !errors.Is(err, ErrNotFound) {
			t.Errorf("Minutes of an unknown target: %v, want ErrNotFound", err)
		}
	})
}
