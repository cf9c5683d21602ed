package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
)

func TestSettingsValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Settings)
		want string // "" for valid
	}{
		{"defaults", func(*Settings) {}, ""},
		{"no grouping, no wait, no grace", func(s *Settings) { s.GroupBy, s.GroupWait, s.GracePeriod = nil, 0, 0 }, ""},
		{"unknown label", func(s *Settings) { s.GroupBy = []string{"target", "instance"} },
			`alert settings: group_by[1]: "instance" is not a label; use target, alert or severity`},
		{"label twice", func(s *Settings) { s.GroupBy = []string{"target", "target"} },
			`alert settings: group_by[1]: "target" is listed twice`},
		{"zero group_interval", func(s *Settings) { s.GroupInterval = 0 },
			"alert settings: group_interval: must be positive, not 0s"},
		{"negatives", func(s *Settings) { s.GroupWait, s.GracePeriod, s.MinRenotify = -time.Second, -time.Minute, -time.Hour },
			"alert settings: group_wait: must not be negative, not -1s\ngrace_period: must not be negative, not -1m0s\nmin_renotify: must not be negative, not -1h0m0s"},
		{"zero value", func(s *Settings) { *s = Settings{} },
			"alert settings: group_interval: must be positive, not 0s\nrepeat_interval: must be positive, not 0s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			tc.edit(&s)
			err := s.Validate()
			if (tc.want == "" && err != nil) || (tc.want != "" && (err == nil || err.Error() != tc.want)) {
				t.Errorf("Validate:\n got %v\nwant %q", err, tc.want)
			}
		})
	}
}

func TestNewManagerNeedsAnEnqueuer(t *testing.T) {
	_, err := NewManager(ManagerOptions{Settings: testSettings()})
	if err == nil || !strings.Contains(err.Error(), "ManagerOptions.Out is nil") {
		t.Errorf("NewManager without Out: %v", err)
	}
}

// A bad reload keeps the running settings; a good one regroups.
func TestUpdateSettings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		bad := testSettings()
		bad.GroupBy = []string{"rule"}
		if err := h.m.UpdateSettings(bad); err == nil {
			t.Fatal("UpdateSettings accepted group_by [rule]")
		}
		h.handle(fire("main", "fps_low", SeverityWarning), fire("vr-2", "fps_low", SeverityWarning))
		sleep(time.Minute)
		if n := h.rec.count(); n != 2 {
			t.Fatalf("%d messages under group_by [target], want 2", n)
		}
		good := testSettings()
		good.GroupBy = []string{"alert"}
		if err := h.m.UpdateSettings(good); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.handle(fire("main", "memory_high", SeverityWarning), fire("vr-2", "memory_high", SeverityWarning))
		sleep(time.Minute)
		last := h.rec.last(t)
		if h.rec.count() != 3 || last.msg.GroupKey != `{alert="memory_high"}` || len(last.msg.Alerts) != 2 {
			t.Errorf("after regrouping by alert: %q", summarizeAll(h.rec.all()))
		}
	})
}

// A failed enqueue (the store is full) is retried; the alert is not
// marked notified until the message is durable.
func TestEnqueueFailureIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{fails: 2}
		h := startHarness(t, "", testSettings(), rec, nil)
		h.handle(fire("main", "fps_low", SeverityWarning))
		sleepUntil(45 * time.Second)
		if a, _ := alertNamed(h.m, "main", "fps_low"); a.State != StatePending {
			t.Errorf("after a failed enqueue the alert is %s, want pending", a.State)
		}
		sleepUntil(time.Hour)
		want := []string{"50s: firing [main/fps_low] resolved []"}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
		if got := testutil.ToFloat64(h.m.metrics.errors.WithLabelValues(opEnqueue)); got != 2 {
			t.Errorf("enqueue errors = %v, want 2", got)
		}
	})
}

func TestRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		if err := h.m.Run(context.Background()); err == nil {
			t.Error("second Run returned nil")
		}
	})
}

// Handle is safe from many goroutines at once (run with -race).
func TestHandleConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 25 {
					h.m.Handle(fire(fmt.Sprintf("vr-%d", g), fmt.Sprintf("rule_%02d", i), SeverityWarning))
					_ = h.m.Alerts()
				}
			})
		}
		wg.Wait()
		synctest.Wait()
		if n := len(h.m.Alerts()); n != 200 {
			t.Errorf("Alerts() = %d, want 200", n)
		}
	})
}

// Alerts lists every tracked alert with its state: notified, waiting for
// group_wait, held by grace, silenced; an event without a name is dropped.
func TestAlertsListing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		deps := &deployments{}
		deps.set("new", &Deployment{ID: "d2", Version: "3.0.0", StartedAt: bubbleStart.Add(time.Minute)})
		h := startHarness(t, "", testSettings(), nil, deps)
		h.handle(fire("main", "fps_low", SeverityCritical))
		sleepUntil(time.Minute)
		if _, err := h.m.AddSilence(silenceFor("quiet", "", time.Hour)); err != nil {
			t.Fatal(err)
		}
		h.handle(fire("main", "memory_high", SeverityWarning), fire("new", "fps_low", SeverityWarning),
			fire("quiet", "fps_low", SeverityWarning), fire("", "nameless", SeverityWarning))
		var got []string
		for _, a := range h.m.Alerts() {
			got = append(got, fmt.Sprintf("%s/%s %s held=%v silenced=%v", a.Target, a.Name, a.State, a.Held, a.Silenced))
		}
		want := []string{
			"main/fps_low firing held=false silenced=false",
			"quiet/fps_low firing held=false silenced=true",
			"main/memory_high pending held=false silenced=false",
			"new/fps_low pending held=true silenced=false",
		}
		if !slices.Equal(got, want) {
			t.Errorf("Alerts():\n got %q\nwant %q", got, want)
		}
		a, _ := alertNamed(h.m, "main", "fps_low")
		if a.Summary != "fps_low on main: fps_low breached on main" || a.Observed != "42" || a.Expected != ">= 85" ||
			a.Fingerprint != fingerprint("main", "fps_low") || len(a.Fingerprint) != 16 {
			t.Errorf("annotations: %+v", a)
		}
	})
}

// spacetime_alerts_firing is the alert after silences and grace: 1 when
// it may be notified, 0 when held or silenced, absent when resolved.
func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		deps := &deployments{}
		deps.set("new", &Deployment{ID: "d2", Version: "3.0.0", StartedAt: bubbleStart})
		h := startHarness(t, "", testSettings(), nil, deps)
		if _, err := h.m.AddSilence(silenceFor("quiet", "", time.Hour)); err != nil {
			t.Fatal(err)
		}
		later := silenceFor("main", "", 3*time.Hour)
		later.StartsAt = time.Now().Add(2 * time.Hour)
		if _, err := h.m.AddSilence(later); err != nil {
			t.Fatal(err)
		}
		h.handle(fire("main", "fps_low", SeverityCritical), fire("main", "memory_high", SeverityWarning),
			fire("new", "fps_low", SeverityWarning), fire("quiet", "fps_low", SeverityWarning))
		sleepUntil(time.Minute)
		h.handle(resolve("main", "memory_high", SeverityWarning))

		want := `
# HELP spacetime_alerts_firing 1 while the alert fires after silences and deployment grace, 0 while it fires but is silenced or held by the grace; absent when it does not fire.
# TYPE spacetime_alerts_firing gauge
spacetime_alerts_firing{alert="fps_low",severity="critical",target="main"} 1
spacetime_alerts_firing{alert="fps_low",severity="warning",target="new"} 0
spacetime_alerts_firing{alert="fps_low",severity="warning",target="quiet"} 0
# HELP spacetime_watch_silences_active Number of silences muting alerts now.
# TYPE spacetime_watch_silences_active gauge
spacetime_watch_silences_active 1
# HELP spacetime_watch_alert_errors_total Failures of the alert manager, by operation: enqueue (a notification could not be queued; retried) and persist (the alert state could not be written; retried).
# TYPE spacetime_watch_alert_errors_total counter
spacetime_watch_alert_errors_total{op="enqueue"} 0
spacetime_watch_alert_errors_total{op="persist"} 0
`
		if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want)); err != nil {
			t.Error(err)
		}
		// The grace ends, the first silence ends, and the later one starts.
		sleepUntil(2*time.Hour + time.Minute)
		want = `
# HELP spacetime_alerts_firing 1 while the alert fires after silences and deployment grace, 0 while it fires but is silenced or held by the grace; absent when it does not fire.
# TYPE spacetime_alerts_firing gauge
spacetime_alerts_firing{alert="fps_low",severity="critical",target="main"} 0
spacetime_alerts_firing{alert="fps_low",severity="warning",target="new"} 1
spacetime_alerts_firing{alert="fps_low",severity="warning",target="quiet"} 1
# HELP spacetime_watch_silences_active Number of silences muting alerts now.
# TYPE spacetime_watch_silences_active gauge
spacetime_watch_silences_active 1
`
		if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want), "spacetime_alerts_firing", "spacetime_watch_silences_active"); err != nil {
			t.Error(err)
		}
		problems, err := testutil.GatherAndLint(h.reg)
		if err != nil || len(problems) > 0 {
			t.Errorf("lint: %v %+v", err, problems)
		}
	})
}

// Internal alerts go through the same lifecycle, on target spacetime-watch.
func TestRaiseInternal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		h.m.RaiseInternal("NotificationsFailing", SeverityCritical, "sink oncall: 403 invalid_token", true)
		sleepUntil(time.Minute)
		h.m.RaiseInternal("NotificationsFailing", SeverityCritical, "", false)
		sleepUntil(time.Hour)
		want := []string{
			"30s: firing [spacetime-watch/NotificationsFailing] resolved []",
			"5m30s: firing [] resolved [spacetime-watch/NotificationsFailing]",
		}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
		if s := h.rec.all()[0].msg.Alerts[0].Summary; s != "NotificationsFailing on spacetime-watch: sink oncall: 403 invalid_token" {
			t.Errorf("summary = %q", s)
		}
	})
}

// The JSON of a message, as the outbox stores it and the sinks read it,
// is fixed by testdata/manager_message.golden.json (ID aside, which is
// random). Set UPDATE_GOLDEN=1 to rewrite it after a deliberate change.
func TestMessageGolden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		deps := &deployments{}
		deps.set("main", &Deployment{ID: "d-7", Version: "1.4.2", StartedAt: bubbleStart.Add(-2 * time.Hour)})
		s := testSettings()
		s.RunbookURL = "https://runbooks.example.com/spacetime/{{.Alert}}"
		s.DashboardURL = "http://grafana.example.com/d/spacetime-watch?var-target={{urlquery .Target}}"
		h := startHarness(t, "", s, nil, deps)
		h.handle(event.Event{Target: "main", Name: "fps_low", Severity: SeverityWarning, State: event.StateFiring,
			At: time.Now(), Since: time.Now().Add(-time.Minute), Reason: "FPS 42 below 85 for 1m\n(smoothed)",
			Observed: "42", Expected: ">= 85"})
		h.handle(fire("main", "check_health", SeverityCritical))
		sleepUntil(time.Minute)
		h.handle(resolve("main", "fps_low", SeverityWarning))
		sleepUntil(10 * time.Minute)
		msgs := h.rec.all()
		if len(msgs) != 2 {
			t.Fatalf("messages = %q, want 2", summarizeAll(msgs))
		}
		var got bytes.Buffer
		for _, r := range msgs {
			if r.msg.ID == "" {
				t.Error("message without ID")
			}
			r.msg.ID = "<random>"
			b, err := json.MarshalIndent(r.msg, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got.Write(b)
			got.WriteByte('\n')
		}
		path := filepath.Join("testdata", "manager_message.golden.json")
		if os.Getenv("UPDATE_GOLDEN") != "" {
			if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("messages differ from %s:\n%s", path, got.String())
		}
	})
}
