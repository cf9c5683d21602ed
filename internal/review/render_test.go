package review

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// lateReview is the degraded hour-4 review delivered 20 minutes late.
func lateReview(t *testing.T) Review {
	t.Helper()
	_, degraded := timelines(t)
	r := reviewAt(degraded, 1, Thresholds{})
	r.ComputedAt = r.DueAt.Add(20 * time.Minute)
	r.Late, r.LateBy = true, 20*time.Minute
	return r
}

// partialReview is the clean hour-4 review asked for on demand at +2h30m.
func partialReview(t *testing.T) Review {
	t.Helper()
	clean, _ := timelines(t)
	return Compute(Input{
		Target: "vr-1", DeploymentID: "d-vr-1-0930", Version: "v2.4.1", StartedAt: timelineStart,
		Offset: 4 * time.Hour, Kind: KindHour4, Now: timelineStart.Add(150 * time.Minute), Minutes: clean,
	})
}

// TestRenderGolden snapshots the Markdown report and the Slack/console
// text of a late review and of a partial one.
func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    func(*testing.T) Review
	}{{"degraded-hour-4-late", lateReview}, {"clean-hour-4-partial", partialReview}} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r(t)
			golden(t, tc.name+".md", []byte(Markdown(r)))
			golden(t, tc.name+".txt", []byte(Text(r)))
		})
	}
}

// TestRenderMarkers: the title carries the verdict, LATE with the delay
// and PARTIAL with the coverage; every item has its line.
func TestRenderMarkers(t *testing.T) {
	late := lateReview(t)
	title := Title(late)
	for _, want := range []string{"❌", "hour-4", "vr-1", "v2.4.1", "FAIL", "LATE: delivered 20m late"} {
		if !strings.Contains(title, want) {
			t.Errorf("title %q lacks %q", title, want)
		}
	}
	if strings.Contains(title, "PARTIAL") || strings.Contains(title, "\n") {
		t.Errorf("title %q", title)
	}
	text := Text(late)
	if !strings.HasPrefix(text, title+"\n") || !strings.HasSuffix(text, "\n") {
		t.Errorf("text does not start with the title:\n%s", text)
	}
	for _, it := range late.Items {
		if !strings.Contains(text, verdictEmoji(it.Verdict)+" "+it.Title+": "+it.Figure) {
			t.Errorf("text lacks the line of %s", it.Name)
		}
		if !strings.Contains(Markdown(late), "| "+it.Title+" | "+verdictEmoji(it.Verdict)+" "+string(it.Verdict)+" |") {
			t.Errorf("markdown lacks the row of %s", it.Name)
		}
	}
	for _, s := range []string{late.FPSSparkline, late.MemorySparkline} {
		if !strings.Contains(text, "  "+s+"\n") || !strings.Contains(Markdown(late), "`"+s+"`") {
			t.Errorf("sparkline %q missing", s)
		}
	}
	if strings.ContainsAny(text, "*`") {
		t.Errorf("the text, printed as it is by the console and the CLI, carries markup:\n%s", text)
	}

	p := partialReview(t)
	if title := Title(p); !strings.Contains(title, "✅") || !strings.Contains(title, "PARTIAL: 62.5% of the window") || strings.Contains(title, "LATE") {
		t.Errorf("partial title %q", title)
	}
	if !strings.Contains(Text(p), "Computed before its due time") {
		t.Errorf("partial text:\n%s", Text(p))
	}
}

// TestMarkdownCells: a | in a value cannot break the table.
func TestMarkdownCells(t *testing.T) {
	r := Review{Name: "hour-1", Target: "a|b", Verdict: Warn, Items: []Item{{Name: "x", Title: "X", Verdict: Warn, Figure: "1 | 2", Note: "line\nbreak"}}}
	md := Markdown(r)
	if !strings.Contains(md, `| X | ⚠️ warn | 1 \| 2 | line break |`) || !strings.Contains(md, `Target: a\|b`) {
		t.Errorf("markdown:\n%s", md)
	}
	if !strings.Contains(md, "version —") {
		t.Errorf("no version shows as a dash:\n%s", md)
	}
}

// TestJSONStableAndRoundTrip: the same review gives the same bytes; the
// fields come in a fixed order with durations in seconds; decoding gives
// the review back.
func TestJSONStableAndRoundTrip(t *testing.T) {
	r := lateReview(t)
	a, err := JSON(r)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := JSON(r)
	if !bytes.Equal(a, b) {
		t.Fatal("two encodings differ")
	}
	keys := []string{`"target"`, `"deployment_id"`, `"version"`, `"deployment_started_at"`, `"review"`, `"offset_seconds": 14400`,
		`"due_at"`, `"computed_at"`, `"late": true`, `"late_by_seconds": 1200`, `"partial": false`, `"coverage": 1`,
		`"verdict": "fail"`, `"items"`, `"fps_sparkline"`, `"memory_sparkline"`}
	last := -1
	for _, k := range keys {
		i := bytes.Index(a, []byte(k))
		if i < 0 || i < last {
			t.Fatalf("%s missing or out of order in\n%s", k, a)
		}
		last = i
	}
	var back Review
	if err := json.Unmarshal(a, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, r)
	}
	// json.Marshal uses the same encoding (the API and the files agree).
	if m, _ := json.Marshal(r); !bytes.Contains(m, []byte(`"late_by_seconds":1200`)) {
		t.Errorf("json.Marshal: %s", m)
	}
	// No items encodes as [], not null.
	if e, _ := JSON(Review{}); !bytes.Contains(e, []byte(`"items": []`)) {
		t.Errorf("empty review: %s", e)
	}
	if err := json.Unmarshal([]byte(`{"offset_seconds": "x"}`), &back); err == nil || !strings.Contains(err.Error(), "review: decode JSON") {
		t.Errorf("bad JSON: %v", err)
	}
}
