package testkit

import (
	"strconv"
	"testing"
	"time"
)

// TestUnshiftDates: the dates of a shifted run (written YYYY-MM-DD or as a
// Slack date token's Unix seconds) read as the unshifted run's, with
// nothing else touched; without a shift the text is unchanged.
func TestUnshiftDates(t *testing.T) {
	for _, shift := range []string{"-3", "3"} {
		t.Run(shift, func(t *testing.T) {
			t.Setenv(BaseShiftEnv, shift)
			at := BaseTime(t).Add(26 * time.Hour)
			text := "due " + at.Format("2006-01-02 15:04 UTC") + `, "at": "` + at.Format(time.RFC3339) + `", 1234-5 kept, ` +
				"<!date^" + strconv.FormatInt(at.Unix(), 10) + "^{date_short_pretty}|x>"
			want := `due 2026-11-28 12:00 UTC, "at": "2026-11-28T12:00:00Z", 1234-5 kept, <!date^1795867200^{date_short_pretty}|x>`
			if got := string(UnshiftDates(t, []byte(text))); got != want {
				t.Errorf("UnshiftDates(%q) = %q, want %q", text, got, want)
			}
		})
	}
	t.Setenv(BaseShiftEnv, "")
	if got := string(UnshiftDates(t, []byte("2029-11-27"))); got != "2029-11-27" {
		t.Errorf("without a shift: %q", got)
	}
}
