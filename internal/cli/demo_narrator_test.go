package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestNarratorReadsTheConsole: the narrator stamps each console message
// with the story time, wraps it under the stamp keeping its indentation,
// and counts the alerts of a group message one by one, and a review by
// its title, for the summary.
func TestNarratorReadsTheConsole(t *testing.T) {
	real := testkit.NewClock(t)
	story := clock.NewScaled(testkit.BaseTime(t), 60, real.Now)
	var b bytes.Buffer
	n := newNarrator(&b, story, 60)
	real.Advance(65 * time.Second) // 1h05m of story
	_, _ = n.Write([]byte("ALERTS target=demo: 2 firing\n" +
		"  FIRING fps_low [warning] on demo: FPS 60.1 below 85 for 1m0s\n" +
		"    likely cause, next step: more scene load than the frame budget holds\n" +
		"  FIRING check_thresholds [warning] on demo: FPS out of band\n"))
	_, _ = n.Write([]byte("NOTE on demo (deployment 1.0.0): ❌ Review hour-1 of demo: FAIL\n  ✅ API responsive\n"))
	want := `T+1:05  ALERTS target=demo: 2 firing
          FIRING fps_low [warning] on demo: FPS 60.1 below
          85 for 1m0s
            likely cause, next step: more scene load than
            the frame budget holds
          FIRING check_thresholds [warning] on demo: FPS out
          of band
T+1:05  NOTE on demo (deployment 1.0.0): ❌ Review hour-1 of
        demo: FAIL
          ✅ API responsive
`
	if got := b.String(); got != want {
		t.Errorf("narration:\n%s\nwant:\n%s", got, want)
	}
	n.summary(false, nil)
	for _, line := range []string{
		"The demo was stopped at T+1:05.",
		"  Alerts fired     2: fps_low, check_thresholds",
		"  Alerts resolved  none",
		"  Reviews          1: hour-1",
	} {
		if !strings.Contains(b.String(), line+"\n") {
			t.Errorf("the summary lacks %q:\n%s", line, b.String())
		}
	}
}
