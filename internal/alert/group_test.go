package alert

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// A burst within group_wait is one message, alerts sorted firing first,
// most severe first; nothing goes out before group_wait.
func TestGroupWaitBatchesABurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		h.handle(fire("main", "memory_high", SeverityWarning))
		sleep(5 * time.Second)
		h.handle(fire("main", "fps_critical", SeverityCritical), fire("main", "check_health", SeverityCritical))
		sleep(10 * time.Second)
		h.handle(fire("main", "session_info", SeverityInfo))

		sleepUntil(29 * time.Second)
		if n := h.rec.count(); n != 0 {
			t.Fatalf("%d messages before group_wait ended, want 0", n)
		}
		sleepUntil(31 * time.Second)
		msgs := h.rec.all()
		if len(msgs) != 1 {
			t.Fatalf("messages = %q, want 1", summarizeAll(msgs))
		}
		m := msgs[0]
		if m.at != 30*time.Second {
			t.Errorf("sent at %v, want 30s (group_wait after the first alert)", m.at)
		}
		var got []string
		for _, a := range m.msg.Alerts {
			got = append(got, fmt.Sprintf("%s/%s", a.State, a.Name))
		}
		want := []string{"firing/check_health", "firing/fps_critical", "firing/memory_high", "firing/session_info"}
		if !slices.Equal(got, want) {
			t.Errorf("alerts = %q, want %q", got, want)
		}
		if m.msg.Kind != KindAlerts || m.msg.GroupKey != `{target="main"}` || m.msg.GroupLabels["target"] != "main" || m.msg.Target != "main" {
			t.Errorf("kind %q, group key %q, labels %v, target %q", m.msg.Kind, m.msg.GroupKey, m.msg.GroupLabels, m.msg.Target)
		}
		if m.msg.ID == "" || !m.msg.CreatedAt.Equal(bubbleStart.Add(30*time.Second)) {
			t.Errorf("id %q, created at %v", m.msg.ID, m.msg.CreatedAt)
		}
		sleep(time.Hour)
		if n := h.rec.count(); n != 1 {
			t.Errorf("%d messages after an hour of unchanged alerts, want 1 (repeat is 4h)", n)
		}
	})
}

// reliability scenario 6: 200 breaches on one target. A burst within group_wait is
// one message with all 200. Spread over 59 s (the scenario's minute, kept
// off the flush instants) with the default 30 s group_wait it is two, as
// in Alertmanager: the first at 30 s with what arrived so far (no critical
// alert waits for the storm to end), the second one group_interval later,
// accounting for all 200. A group_wait covering the burst makes it one.
func TestStormOnOneTarget(t *testing.T) {
	cases := []struct {
		name       string
		groupWait  time.Duration
		spread     time.Duration
		wantCounts []int // alerts per message
	}{
		{"burst within group_wait", 30 * time.Second, 25 * time.Second, []int{200}},
		{"59s with group_wait 30s", 30 * time.Second, 59 * time.Second, []int{102, 200}},
		{"59s with group_wait 60s", 60 * time.Second, 59 * time.Second, []int{200}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := startHarness(t, "", settingsWith(func(s *Settings) { s.GroupWait = tc.groupWait }), nil, nil)
				step := tc.spread / 200
				for i := range 200 {
					sev := SeverityWarning
					if i%3 == 0 {
						sev = SeverityCritical
					}
					h.handle(fire("main", fmt.Sprintf("rule_%03d", i), sev))
					sleep(step)
				}
				sleep(10 * time.Minute)
				msgs := h.rec.all()
				var counts []int
				for _, m := range msgs {
					counts = append(counts, len(m.msg.Alerts))
				}
				if !slices.Equal(counts, tc.wantCounts) {
					t.Fatalf("alerts per message = %v, want %v (%q)", counts, tc.wantCounts, summarizeAll(msgs))
				}
				last := msgs[len(msgs)-1].msg
				seen := map[string]bool{}
				for i, a := range last.Alerts {
					seen[a.Name] = true
					if a.State != StateFiring {
						t.Errorf("alert %d %s is %s", i, a.Name, a.State)
					}
					if i > 0 && severityRank(last.Alerts[i-1].Severity) > severityRank(a.Severity) {
						t.Errorf("alert %d %s (%s) after a less severe one", i, a.Name, a.Severity)
					}
				}
				if len(seen) != 200 {
					t.Errorf("last message names %d distinct alerts, want 200", len(seen))
				}
				if len(h.m.Alerts()) != 200 {
					t.Errorf("Alerts() = %d, want 200", len(h.m.Alerts()))
				}
			})
		})
	}
}

// reliability scenario 6: 200 breaches over 20 targets within 60 s, then
// all resolved. Grouped by target that would be 20 groups due within
// seconds of each other: more than storm_fold_groups (3), so they fold
// into one summary message when the first is due, and their later
// changes into one more at group_interval. Every alert is notified firing
// and resolved exactly once in all; the summary names every target with
// its alert count. With folding off (0) the same storm is 20+ messages.
func TestStormOnTwentyTargets(t *testing.T) {
	storm := func(h *harness) {
		for i := range 200 { // one every 300 ms: the last at 59.7 s
			h.handle(fire(fmt.Sprintf("vr-%02d", i%20), fmt.Sprintf("rule_%02d", i/20), SeverityWarning))
			sleep(300 * time.Millisecond)
		}
		sleepUntil(time.Hour)
		for i := range 200 { // all resolve within 60 s too
			h.handle(resolve(fmt.Sprintf("vr-%02d", i%20), fmt.Sprintf("rule_%02d", i/20), SeverityWarning))
			sleep(300 * time.Millisecond)
		}
		sleepUntil(2 * time.Hour)
	}
	t.Run("folded", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := startHarness(t, "", testSettings(), nil, nil)
			storm(h)
			msgs := h.rec.all()
			if len(msgs) > 5 {
				t.Fatalf("%d messages, want at most 5: %q", len(msgs), summarizeAll(msgs))
			}
			firing, resolved := map[string]bool{}, map[string]int{}
			for _, m := range msgs {
				for _, a := range m.msg.Alerts {
					if a.State == StateResolved {
						resolved[a.Target+"/"+a.Name]++
					} else {
						firing[a.Target+"/"+a.Name] = true // still-firing alerts ride along in a group's later message
					}
				}
			}
			if len(firing) != 200 || len(resolved) != 200 {
				t.Errorf("%d alerts notified firing and %d resolved, want all 200 each", len(firing), len(resolved))
			}
			for name, n := range resolved {
				if n != 1 {
					t.Errorf("%s notified resolved %d times, want once", name, n)
				}
			}
			first := msgs[0].msg
			summary := first.GroupLabels[LabelStorm]
			if len(first.GroupLabels) != 1 || !strings.HasPrefix(summary, "20 groups, ") ||
				!strings.Contains(summary, "vr-00 (") || !strings.Contains(summary, "vr-19 (") {
				t.Errorf("first message's group labels %v, want one %s label listing the 20 targets and their counts", first.GroupLabels, LabelStorm)
			}
			if first.Target != "" {
				t.Errorf("storm summary placed on target %q, want none (it spans 20)", first.Target)
			}
			if got := h.m.Alerts(); len(got) != 0 {
				t.Errorf("%d alerts tracked after all resolved and notified, want none", len(got))
			}
			t.Logf("%d messages: %q", len(msgs), messageShapes(msgs))
		})
	})
	t.Run("folding off", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := startHarness(t, "", settingsWith(func(s *Settings) { s.StormFoldGroups = 0 }), nil, nil)
			storm(h)
			if n := h.rec.count(); n < 40 {
				t.Errorf("%d messages with folding off, want one per target per change (at least 40)", n)
			}
			for _, m := range h.rec.all() {
				if m.msg.Target == "" {
					t.Errorf("message %s not placed on one target with folding off", summarize(m))
				}
			}
		})
	})
}

// At most storm_fold_groups groups due together notify on their own; one
// more folds them all into one message.
func TestStormFoldThreshold(t *testing.T) {
	for _, targets := range []int{3, 4} {
		t.Run(fmt.Sprint(targets, " targets"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := startHarness(t, "", testSettings(), nil, nil)
				for i := range targets {
					h.handle(fire(fmt.Sprintf("vr-%d", i), "fps_low", SeverityWarning))
					sleep(9 * time.Second) // all due within one group_wait of the first
				}
				sleepUntil(time.Hour)
				want := targets
				if targets > testSettings().StormFoldGroups {
					want = 1
				}
				if got := summarizeAll(h.rec.all()); len(got) != want {
					t.Errorf("%d targets: %d messages %q, want %d", targets, len(got), got, want)
				}
			})
		})
	}
}

// messageShapes renders each message as "at: N alerts (labels)".
func messageShapes(rs []recorded) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%v: %d firing, %d resolved, %v", r.at, len(r.msg.Firing()), len(r.msg.Resolved()), r.msg.GroupKey)
	}
	return out
}

// After a group notified, changes wait for group_interval; the still
// firing alerts ride along; after a quiet spell a change waits group_wait.
func TestGroupIntervalPacesChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		h.handle(fire("main", "fps_low", SeverityWarning))
		sleepUntil(time.Minute)
		h.handle(fire("main", "memory_high", SeverityWarning))
		sleepUntil(20 * time.Minute)
		h.handle(fire("main", "check_health", SeverityCritical))
		sleepUntil(30 * time.Minute)

		want := []string{
			"30s: firing [main/fps_low] resolved []",
			"5m30s: firing [main/fps_low main/memory_high] resolved []",
			"20m30s: firing [main/check_health main/fps_low main/memory_high] resolved []",
		}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
	})
}

// A still-firing alert is never re-notified more often than MinRenotify,
// even when group_interval is shorter: a change then carries only the
// alerts not notified within MinRenotify.
func TestMinRenotifyFloorInChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", settingsWith(func(s *Settings) { s.GroupInterval = time.Minute }), nil, nil)
		h.handle(fire("main", "fps_low", SeverityWarning))
		sleepUntil(40 * time.Second)
		h.handle(fire("main", "memory_high", SeverityWarning))
		sleepUntil(10 * time.Minute)
		h.handle(fire("main", "check_health", SeverityWarning))
		sleepUntil(11 * time.Minute)
		want := []string{
			"30s: firing [main/fps_low] resolved []",
			"1m30s: firing [main/memory_high] resolved []",
			"10m30s: firing [main/check_health main/fps_low main/memory_high] resolved []",
		}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
	})
}

// An unchanged, still-firing group is re-sent every repeat_interval, and
// never more often than MinRenotify.
func TestRepeatInterval(t *testing.T) {
	cases := []struct {
		name   string
		repeat time.Duration
		want   []time.Duration
	}{
		{"default 4h", 4 * time.Hour, []time.Duration{30 * time.Second, 4*time.Hour + 30*time.Second, 8*time.Hour + 30*time.Second}},
		{"1m is floored to 5m", time.Minute, []time.Duration{30 * time.Second, 5*time.Minute + 30*time.Second, 10*time.Minute + 30*time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := startHarness(t, "", settingsWith(func(s *Settings) { s.RepeatInterval = tc.repeat }), nil, nil)
				h.handle(fire("main", "fps_low", SeverityWarning))
				sleepUntil(tc.want[len(tc.want)-1] + time.Second)
				var got []time.Duration
				for _, r := range h.rec.all() {
					got = append(got, r.at)
					if len(r.msg.Alerts) != 1 || r.msg.Alerts[0].State != StateFiring {
						t.Errorf("%v: %s", r.at, summarize(r))
					}
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("sent at %v, want %v", got, tc.want)
				}
			})
		})
	}
}

// A resolution is a change: sent at the group's next slot, with EndsAt,
// unless send_resolved is off. An alert that resolves before anyone was
// told is never notified.
func TestResolvedNotifications(t *testing.T) {
	cases := []struct {
		name         string
		sendResolved bool
		want         []string
	}{
		{"send_resolved", true, []string{
			"30s: firing [main/fps_low main/memory_high] resolved []",
			"5m30s: firing [main/memory_high] resolved [main/fps_low]",
			"20m30s: firing [] resolved [main/memory_high]",
		}},
		{"send_resolved false", false, []string{
			"30s: firing [main/fps_low main/memory_high] resolved []",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := startHarness(t, "", settingsWith(func(s *Settings) { s.SendResolved = tc.sendResolved }), nil, nil)
				h.handle(fire("main", "fps_low", SeverityWarning), fire("main", "memory_high", SeverityWarning))
				sleepUntil(time.Minute)
				h.handle(fire("vr-2", "blip", SeverityCritical))
				sleepUntil(time.Minute + 10*time.Second)
				h.handle(resolve("vr-2", "blip", SeverityCritical)) // never told: never notified
				sleepUntil(2 * time.Minute)
				h.handle(resolve("main", "fps_low", SeverityWarning))
				if a, ok := alertNamed(h.m, "main", "fps_low"); tc.sendResolved && (!ok || a.State != StateResolved) {
					t.Errorf("before its resolution is sent, fps_low is %+v, want tracked as resolved", a)
				}
				sleepUntil(20 * time.Minute)
				h.handle(resolve("main", "memory_high", SeverityWarning))
				sleepUntil(time.Hour)

				if got := summarizeAll(h.rec.all()); !slices.Equal(got, tc.want) {
					t.Errorf("messages:\n got %q\nwant %q", got, tc.want)
				}
				for _, r := range h.rec.all() {
					for _, a := range r.msg.Alerts {
						if a.State == StateResolved && !a.EndsAt.Equal(bubbleStart.Add(2*time.Minute)) && !a.EndsAt.Equal(bubbleStart.Add(20*time.Minute)) {
							t.Errorf("resolved %s ends at %v", a.Name, a.EndsAt)
						}
						if a.State == StateFiring && !a.EndsAt.IsZero() {
							t.Errorf("firing %s has EndsAt %v", a.Name, a.EndsAt)
						}
					}
				}
				if got := h.m.Alerts(); len(got) != 0 {
					t.Errorf("Alerts() after everything resolved = %+v, want none", got)
				}
			})
		})
	}
}

// reliability scenario 7: a condition flapping every 30 s for an hour. However the
// flushes fall, the manager sends at most one message per group_interval,
// the alert's notifications alternate firing, resolved, firing (never the
// same state twice in a row: no re-announcement of a firing alert), and
// the last one says resolved once the flapping stops.
func TestFlappingIsBounded(t *testing.T) {
	for _, groupWait := range []time.Duration{10 * time.Second, 30 * time.Second} {
		t.Run(fmt.Sprintf("group_wait %s", groupWait), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := testSettings()
				s.GroupWait = groupWait
				h := startHarness(t, "", s, nil, nil)
				for i := range 120 {
					if i%2 == 0 {
						h.handle(fire("main", "fps_low", SeverityWarning))
					} else {
						h.handle(resolve("main", "fps_low", SeverityWarning))
					}
					sleep(30 * time.Second)
				}
				sleep(time.Hour)
				msgs := h.rec.all()
				t.Logf("%d messages: %q", len(msgs), summarizeAll(msgs))
				if max := 1 + int(time.Hour/s.GroupInterval); len(msgs) > max+1 {
					t.Errorf("%d messages for one flapping alert in an hour, want at most %d", len(msgs), max+1)
				}
				var states []State
				for i, r := range msgs {
					if len(r.msg.Alerts) != 1 {
						t.Fatalf("message %d holds %d alerts, want 1", i, len(r.msg.Alerts))
					}
					states = append(states, r.msg.Alerts[0].State)
					if i > 0 && r.at-msgs[i-1].at < s.GroupInterval {
						t.Errorf("messages %d and %d only %v apart, less than group_interval", i-1, i, r.at-msgs[i-1].at)
					}
					if i > 0 && states[i] == states[i-1] {
						t.Errorf("messages %d and %d both say %s", i-1, i, states[i])
					}
				}
				if len(states) == 0 || states[0] != StateFiring || states[len(states)-1] != StateResolved {
					t.Errorf("states %v: want firing first and resolved last", states)
				}
			})
		})
	}
}

// An alert that flaps faster than group_interval, firing at each flush,
// is one episode: one firing message, one resolved when it stops.
func TestFlappingBetweenFlushesIsOneEpisode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testSettings()
		s.GroupWait = 10 * time.Second
		h := startHarness(t, "", s, nil, nil)
		// Firing, with a 5 s dip every minute, for an hour: each dip is
		// over before its resolution could be sent (group_wait), so the
		// flushes always find the alert firing.
		h.handle(fire("main", "fps_low", SeverityWarning))
		for range 60 {
			sleep(30 * time.Second)
			h.handle(resolve("main", "fps_low", SeverityWarning))
			sleep(5 * time.Second)
			h.handle(fire("main", "fps_low", SeverityWarning))
			sleep(25 * time.Second)
		}
		h.handle(resolve("main", "fps_low", SeverityWarning))
		sleep(time.Hour)
		want := []string{
			"10s: firing [main/fps_low] resolved []",
			"1h0m10s: firing [] resolved [main/fps_low]",
		}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
	})
}

// group_by decides the groups, and the key names them as Alertmanager does.
func TestGroupBy(t *testing.T) {
	cases := []struct {
		groupBy []string
		want    []string // group keys of the messages, in order
	}{
		{[]string{"target"}, []string{`{target="main"}`, `{target="vr-2"}`}},
		{[]string{"alert"}, []string{`{alert="fps_low"}`, `{alert="memory_high"}`}},
		{[]string{"target", "severity"}, []string{`{severity="critical",target="main"}`, `{severity="warning",target="main"}`, `{severity="warning",target="vr-2"}`}},
		{nil, []string{`{}`}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.groupBy), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := startHarness(t, "", settingsWith(func(s *Settings) { s.GroupBy = tc.groupBy }), nil, nil)
				h.handle(
					fire("main", "fps_low", SeverityCritical),
					fire("main", "memory_high", SeverityWarning),
					fire("vr-2", "fps_low", SeverityWarning),
				)
				sleep(time.Minute)
				var got []string
				total := 0
				for _, r := range h.rec.all() {
					got = append(got, r.msg.GroupKey)
					total += len(r.msg.Alerts)
				}
				slices.Sort(got)
				if !slices.Equal(got, tc.want) || total != 3 {
					t.Errorf("group keys %q with %d alerts, want %q with 3", got, total, tc.want)
				}
			})
		})
	}
}

// A message for several targets has no Target; one for one target carries
// the target's current deployment.
func TestMessagePlacement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		deps := &deployments{}
		deps.set("main", &Deployment{ID: "d-7", Version: "1.4.2", StartedAt: bubbleStart.Add(-time.Hour)})
		h := startHarness(t, "", settingsWith(func(s *Settings) { s.GroupBy = []string{"alert"} }), nil, deps)
		h.handle(fire("main", "fps_low", SeverityCritical), fire("vr-2", "fps_low", SeverityCritical),
			fire("main", "memory_high", SeverityCritical))
		sleep(time.Minute)
		for _, r := range h.rec.all() {
			switch r.msg.GroupKey {
			case `{alert="fps_low"}`:
				if r.msg.Target != "" || r.msg.Deployment != nil {
					t.Errorf("two-target message placed on %q / %+v", r.msg.Target, r.msg.Deployment)
				}
			case `{alert="memory_high"}`:
				if r.msg.Target != "main" || r.msg.Deployment == nil || r.msg.Deployment.Version != "1.4.2" {
					t.Errorf("one-target message placed on %q / %+v", r.msg.Target, r.msg.Deployment)
				}
				if d := r.msg.Alerts[0].Deployment; d == nil || d.ID != "d-7" {
					t.Errorf("alert deployment = %+v", d)
				}
			default:
				t.Errorf("unexpected group %s", r.msg.GroupKey)
			}
		}
	})
}
