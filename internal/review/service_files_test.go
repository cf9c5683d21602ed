package review

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// readReviewFileT reads a delivered review's JSON report back.
func readReviewFileT(dir, deploymentID, review string) (Review, error) {
	b, err := os.ReadFile(filepath.Join(dir, ReviewsDir, FileBase(deploymentID, review)+".json"))
	if err != nil {
		return Review{}, err
	}
	var r Review
	return r, json.Unmarshal(b, &r)
}

func testutilCounter(t *testing.T, h *svcHarness, name, label string) float64 {
	t.Helper()
	switch name {
	case "spacetime_watch_review_errors_total":
		return testutil.ToFloat64(h.svc.metrics.errors.WithLabelValues(label))
	case "spacetime_watch_reviews_delivered_total":
		return testutil.ToFloat64(h.svc.metrics.delivered.WithLabelValues(label))
	}
	t.Fatalf("no counter %s", name)
	return 0
}

// reviewSeries is the expected exposition of the two review gauges.
func reviewSeries(rows ...string) string {
	var b strings.Builder
	b.WriteString("# HELP spacetime_review_timestamp_seconds Unix time at which the last delivered post-deployment review was computed.\n")
	b.WriteString("# TYPE spacetime_review_timestamp_seconds gauge\n")
	for _, r := range rows {
		var review string
		var verdict, ts float64
		fmt.Sscanf(r, "%s %g %g", &review, &verdict, &ts)
		fmt.Fprintf(&b, "spacetime_review_timestamp_seconds{review=%q,target=\"vr\"} %g\n", review, ts)
	}
	b.WriteString("# HELP spacetime_review_verdict Verdict of the last delivered post-deployment review: 1 pass, 0.5 warn, 0 fail; absent until the review exists.\n")
	b.WriteString("# TYPE spacetime_review_verdict gauge\n")
	for _, r := range rows {
		var review string
		var verdict, ts float64
		fmt.Sscanf(r, "%s %g %g", &review, &verdict, &ts)
		fmt.Fprintf(&b, "spacetime_review_verdict{review=%q,target=\"vr\"} %g\n", review, verdict)
	}
	return b.String()
}

// TestServiceFilesAndMetrics: a delivered review is written as
// reviews/<deployment>-<review>.md and .json (the JSON parses back to the
// delivered review), its series appear then and not before, survive a
// restart, pass the linter, and go with ForgetTarget.
func TestServiceFilesAndMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wall := &svcWall{}
		out := &svcDeliverer{wall: wall}
		h := svcStart(t, "", wall, out, nil)
		d := h.deploy("6.0.0")
		gauges := []string{"spacetime_review_verdict", "spacetime_review_timestamp_seconds"}

		h.runUntil(d.StartedAt, 59*time.Minute)
		if err := testutil.GatherAndCompare(h.reg, strings.NewReader(""), gauges...); err != nil {
			t.Errorf("before the first review: %v", err)
		}
		h.runUntil(d.StartedAt, 2*time.Hour)
		got := out.all()
		if len(got) != 1 {
			t.Fatalf("delivered %q, want hour-1", out.names())
		}
		want := got[0].r
		ts := float64(want.ComputedAt.Unix())
		if err := testutil.GatherAndCompare(h.reg, strings.NewReader(reviewSeries(fmt.Sprintf("hour-1 %g %g", want.Verdict.Value(), ts))), gauges...); err != nil {
			t.Errorf("after hour-1: %v", err)
		}
		if problems, err := testutil.GatherAndLint(h.reg); err != nil || len(problems) > 0 {
			t.Errorf("lint: %v %v", problems, err)
		}

		base := filepath.Join(h.dir, ReviewsDir, d.ID+"-hour-1")
		md, err := os.ReadFile(base + ".md")
		if err != nil || string(md) != string(Markdown(want)) {
			t.Errorf("%s.md = %q, %v; want the Markdown of the delivered review", base, md, err)
		}
		back, err := readReviewFileT(h.dir, d.ID, "hour-1")
		if err != nil {
			t.Fatalf("%s.json: %v", base, err)
		}
		want.Offset, want.LateBy = 0, 0 // not in the JSON
		if !reflect.DeepEqual(back.Items, want.Items) || back.Verdict != want.Verdict || !back.DueAt.Equal(want.DueAt) ||
			!back.ComputedAt.Equal(want.ComputedAt) || back.DeploymentID != d.ID || back.Name != "hour-1" {
			t.Errorf("%s.json parses to %+v, want %+v", base, back, want)
		}
		if entries, _ := os.ReadDir(filepath.Join(h.dir, ReviewsDir)); len(entries) != 2 {
			t.Errorf("reviews dir holds %d entries, want the two reports and no temporary file", len(entries))
		}
		list, err := h.svc.Reviews("vr", "")
		if err != nil || len(list) != 1 || list[0].Name != "hour-1" || list[0].Offset != time.Hour {
			t.Errorf("Reviews = %+v, %v; want hour-1", list, err)
		}

		// A restart restores the series before any new review.
		h = h.restart(nil)
		if err := testutil.GatherAndCompare(h.reg, strings.NewReader(reviewSeries(fmt.Sprintf("hour-1 %g %g", want.Verdict.Value(), ts))), gauges...); err != nil {
			t.Errorf("after a restart: %v", err)
		}
		h.svc.ForgetTarget("vr")
		if n := testutil.CollectAndCount(h.reg, gauges...); n != 0 {
			t.Errorf("%d of the target's series left after ForgetTarget", n)
		}
		// The counters are the daemon's: 2 lateness values, 5 stages.
		if n := testutil.CollectAndCount(h.reg); n != 2+len(errorStages) {
			t.Errorf("%d series after ForgetTarget, want the daemon's %d counters only", n, 2+len(errorStages))
		}
	})
}
