package console

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// t0 is the messages' "built at" time, 10:35:23 on the suite's base date,
// and dep their deployment; TestMain sets both.
var (
	t0  time.Time
	dep *alert.Deployment
)

// TestMain sets t0 and dep from the suite's base date.
func TestMain(m *testing.M) {
	base := testkit.MainBase()
	t0 = base.Add(35*time.Minute + 23*time.Second)
	dep = &alert.Deployment{ID: "demo-1", Version: "1.0.0", StartedAt: t0.Add(-3 * time.Minute)}
	os.Exit(m.Run())
}

func fpsFiring() alert.Alert {
	return alert.Alert{
		Fingerprint: "fp-fps", Target: "demo", Name: "fps_low", Severity: alert.SeverityWarning, State: alert.StateFiring,
		StartsAt: t0.Add(-10 * time.Second), Summary: "FPS below 85 on demo", Reason: "FPS 60.3 below 85 for 10s",
		Observed: "60.3", Expected: "≥ 85", Deployment: dep,
	}
}

func fpsResolved() alert.Alert {
	a := fpsFiring()
	a.State, a.EndsAt = alert.StateResolved, t0.Add(30*time.Second)
	a.Reason, a.Observed = "FPS 90.1 back at or above 88 for 10s", "90.1"
	return a
}

func message(alerts ...alert.Alert) alert.Message {
	return alert.Message{ID: "msg-1", Kind: alert.KindAlerts, GroupKey: `{target="demo"}`,
		GroupLabels: map[string]string{"target": "demo"}, Alerts: alerts, Target: "demo", CreatedAt: t0}
}

// TestRenderGolden pins the console's text for each kind of message.
func TestRenderGolden(t *testing.T) {
	withLinks := fpsFiring()
	withLinks.RunbookURL = "https://runbooks.example.com/spacetime/fps_low"
	withLinks.DashboardURL = "http://grafana.example.com/d/spacetime-watch?var-target=demo"
	withHint := fpsFiring()
	withHint.Hint = "more scene load than the frame budget holds:\ncompare with the previous deployment"
	withHint.RunbookURL = withLinks.RunbookURL
	resolvedHint := fpsResolved()
	resolvedHint.Hint = "a hint is for a firing alert: never printed once resolved"
	critical := alert.Alert{Target: "demo", Name: "check_health", Severity: alert.SeverityCritical, State: alert.StateFiring,
		StartsAt: t0.Add(-time.Minute), Reason: "GET /health: connection refused\n(instance down or its HTTP API disabled)"}
	memory := alert.Alert{Target: "demo", Name: "memory_high", Severity: alert.SeverityWarning, State: alert.StateResolved,
		StartsAt: t0.Add(-26 * time.Hour), EndsAt: t0.Add(-5 * time.Minute), Reason: "memory 350.0 MB back at or below 380 MB for 10s"}
	bare := alert.Alert{Name: "token_expired", Severity: alert.SeverityCritical, State: alert.StateFiring}
	summaryOnly := alert.Alert{Target: "demo", Name: "fps_low", Severity: alert.SeverityWarning, State: alert.StateFiring, Summary: "FPS below 85 on demo"}

	cases := []struct {
		name string
		msg  alert.Message
	}{
		{"firing", message(fpsFiring())},
		{"resolved", func() alert.Message { m := message(fpsResolved()); m.CreatedAt = t0.Add(time.Minute); return m }()},
		{"firing_with_links", message(withLinks)},
		{"firing_with_hint", message(withHint)},
		{"resolved_with_hint", message(resolvedHint)},
		{"group", message(critical, withLinks, memory)},
		{"bare_alert", alert.Message{Kind: alert.KindAlerts, Alerts: []alert.Alert{bare}}},
		{"summary_only", message(summaryOnly)},
		{"empty_group", message()},
		{"test", alert.Message{ID: "msg-7", Kind: alert.KindTest, Title: "spacetime-watch test notification",
			Text: "Sent by `spacetime-watch notify test`: no action needed.", Target: "demo", CreatedAt: t0}},
		{"test_untitled", alert.Message{ID: "msg-8", Kind: alert.KindTest, CreatedAt: t0}},
		{"text", alert.Message{ID: "msg-9", Kind: alert.KindText, Title: "Review of deployment 1.0.0 at +1h",
			Text: "FPS p5 88.2 (≥ 85): ok\nmemory 312 MB (≤ 400): ok\n", Target: "demo", Deployment: dep, CreatedAt: t0}},
		{"text_one_line", alert.Message{ID: "msg-10", Kind: alert.KindText, Text: "spacetime-watch restarted", CreatedAt: t0}},
		{"unknown_kind", alert.Message{ID: "msg-11", Kind: "digest", Title: "daily digest", CreatedAt: t0}},
	}
	var all bytes.Buffer
	for _, tc := range cases {
		got := Render(tc.msg, "console")
		if !strings.HasSuffix(got, "\n") {
			t.Errorf("%s: not newline-terminated: %q", tc.name, got)
		}
		all.WriteString("== " + tc.name + "\n" + got)
	}
	testkit.CheckGolden(t, filepath.Join("testdata", "render.golden"), testkit.UnshiftDates(t, all.Bytes()), *update)
}

// TestNotifyWrites: Notify writes exactly Render's text and reports
// delivery.
func TestNotifyWrites(t *testing.T) {
	var buf bytes.Buffer
	n := New(&buf, "console")
	if n.Name() != "console" {
		t.Errorf("Name = %q", n.Name())
	}
	retry, err := n.Notify(t.Context(), message(fpsFiring()))
	if retry || err != nil {
		t.Fatalf("Notify = %v, %v", retry, err)
	}
	want := "ALERT FIRING fps_low [warning] on demo: FPS 60.3 below 85 for 10s (observed 60.3, expected ≥ 85; since 10:35:13, deployment 1.0.0 started 3m ago)\n"
	if buf.String() != want {
		t.Errorf("wrote %q, want %q", buf.String(), want)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestNotifyWriteFailure: the only failure, a writer error, is transient.
func TestNotifyWriteFailure(t *testing.T) {
	retry, err := New(failingWriter{}, "console").Notify(t.Context(), message(fpsFiring()))
	var de *alert.DeliveryError
	if !retry || !errors.As(err, &de) || de.Sink != "console" || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("Notify = %v, %v; want retry with a DeliveryError naming the sink and the cause", retry, err)
	}
}

// lineWriter records each Write call separately.
type lineWriter struct {
	mu     sync.Mutex
	writes []string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// TestNotifyOneWritePerMessage: concurrent messages never interleave on
// the writer: each is one Write.
func TestNotifyOneWritePerMessage(t *testing.T) {
	w := &lineWriter{}
	n := New(w, "console")
	msg := message(fpsFiring(), fpsResolved())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := n.Notify(t.Context(), msg); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	want := Render(msg, "console")
	if len(w.writes) != 8 {
		t.Fatalf("%d writes, want 8", len(w.writes))
	}
	for _, got := range w.writes {
		if got != want {
			t.Errorf("write %q, want %q", got, want)
		}
	}
}

func TestHuman(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {45 * time.Second, "45s"}, {3 * time.Minute, "3m"}, {200 * time.Second, "3m20s"},
		{65 * time.Minute, "1h5m"}, {2 * time.Hour, "2h"}, {51 * time.Hour, "2d3h"}, {48 * time.Hour, "2d"},
		{1499 * time.Millisecond, "1s"},
	}
	for _, tc := range cases {
		if got := human(tc.d); got != tc.want {
			t.Errorf("human(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
