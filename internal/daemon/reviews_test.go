package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/review"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestReviewDeliveredMessage: a delivered review's message has the
// review's headline as its title, without a gap where an unknown version
// would go ("review of godot : fail" was the old title), and the body
// below it, which does not repeat the headline.
func TestReviewDeliveredMessage(t *testing.T) {
	start := testkit.BaseTime(t)
	for _, tc := range []struct {
		name    string
		r       review.Review
		title   string
		absents []string
	}{
		{"no version", review.Review{Target: "godot", Name: "hour-1", Verdict: review.Fail},
			"❌ Review hour-1 of godot: FAIL", []string{" :", "()"}},
		{"version, late", review.Review{Target: "main", Version: "1.2.4", Name: "hour-4", Verdict: review.Warn, Late: true, LateBy: 20 * time.Minute},
			"⚠️ Review hour-4 of main (1.2.4): WARN · LATE: delivered 20m late", []string{" :"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			r.DeploymentID, r.StartedAt, r.DueAt, r.ComputedAt = "d-1", start, start.Add(time.Hour), start.Add(time.Hour)
			r.Items = []review.Item{{Name: "api_responsive", Title: "API responsive", Verdict: r.Verdict, Figure: "90.0% of 10 checks passed"}}
			var got []alert.Message
			d := reviewDeliverer{out: alert.EnqueuerFunc(func(m alert.Message) error { got = append(got, m); return nil })}
			if err := d.Deliver(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%d messages, want 1", len(got))
			}
			m := got[0]
			if m.Title != tc.title {
				t.Errorf("title %q, want %q", m.Title, tc.title)
			}
			for _, a := range tc.absents {
				if strings.Contains(m.Title, a) {
					t.Errorf("title %q contains %q", m.Title, a)
				}
			}
			if m.Kind != alert.KindText || m.Target != r.Target || m.Deployment == nil || m.Deployment.ID != "d-1" {
				t.Errorf("message %+v", m)
			}
			if strings.Contains(m.Text, "Review "+r.Name) || !strings.Contains(m.Text, "API responsive: 90.0% of 10 checks passed") {
				t.Errorf("text repeats the title or lacks the items:\n%s", m.Text)
			}
		})
	}
}
