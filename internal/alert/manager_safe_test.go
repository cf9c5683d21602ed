package alert

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestSafeMode: in safe mode an alert firing when the first poll ends may
// have been announced before the state was lost, so it is taken without a
// message, as is one whose condition began by then but fires later. One
// that begins after the first poll is notified, and so are the daemon's
// own alerts throughout; the taken alert's resolution goes out.
func TestSafeMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", settingsWith(func(s *Settings) { s.GracePeriod = 0 }), nil, nil)
		h.m.SafeMode()
		h.m.RaiseInternal(AlertStateRecovered, SeverityWarning, "state lost", true)
		h.handle(fire("main", "fps_low", SeverityWarning))
		began := time.Now()
		sleep(10 * time.Second)
		h.m.EndSafeMode(time.Now())
		sleep(10 * time.Second)
		late := fire("main", "memory_high", SeverityWarning) // its condition began before the end
		late.Since = began
		h.handle(late, fire("other", "fps_low", SeverityWarning))
		sleep(time.Minute)
		for _, name := range []string{"fps_low", "memory_high"} {
			if a, _ := alertNamed(h.m, "main", name); a.State != StateFiring {
				t.Errorf("%s, taken in safe mode, is %s, want firing", name, a.State)
			}
		}
		h.handle(resolve("main", "fps_low", SeverityWarning))
		sleep(10 * time.Minute)
		want := []string{
			"30s: firing [spacetime-watch/StateRecovered] resolved []",
			"50s: firing [other/fps_low] resolved []",
			"1m50s: firing [] resolved [main/fps_low]",
		}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
	})
}
