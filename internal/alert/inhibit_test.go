package alert

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/labels"
)

// check and rule build firing events with the labels inhibition matches on.
func check(target, name, cause string, sev Severity) event.Event {
	ev := fire(target, name, sev)
	ev.Kind, ev.Cause = event.KindCheck, cause
	return ev
}

func rule(target, name string, sev Severity) event.Event {
	ev := fire(target, name, sev)
	ev.Kind = event.KindRule
	return ev
}

func condition(target, name string, sev Severity) event.Event {
	ev := fire(target, name, sev)
	ev.Kind = event.KindCondition
	return ev
}

// notifiedNames lists every alert each message names, "firing:name" or
// "resolved:name", in order.
func notifiedNames(rs []recorded) []string {
	var out []string
	for _, r := range rs {
		for _, a := range r.msg.Alerts {
			out = append(out, fmt.Sprintf("%s:%s", a.State, a.Name))
		}
	}
	return out
}

// TestInhibitionOneCauseOneAlert: an unreachable instance and the six
// checks it makes fail are one notification naming one alert, firing and
// then resolved; the others are listed as inhibited, with their cause.
func TestInhibitionOneCauseOneAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		evs := []event.Event{check("main", "check_instance_up", "connection_refused", SeverityCritical)}
		others := []string{"check_health", "check_status", "check_telemetry", "check_scene", "check_auth", "check_whitelist"}
		for _, name := range others {
			evs = append(evs, check("main", name, "instance_down", SeverityWarning))
		}
		h.handle(evs...)
		sleep(time.Minute)
		for _, name := range others {
			a, ok := alertNamed(h.m, "main", name)
			if !ok || !a.Inhibited || a.InhibitedBy != "check_instance_up" || a.InhibitRule != "instance unreachable" {
				t.Errorf("%s: %+v, want inhibited by check_instance_up", name, a)
			}
			if v := testutil.ToFloat64(h.m.metrics.firing.WithLabelValues("main", name, "warning")); v != 0 {
				t.Errorf("spacetime_alerts_firing{%s} = %v, want 0 while inhibited", name, v)
			}
		}
		var resolved []event.Event
		for _, e := range evs {
			resolved = append(resolved, resolve(e.Target, e.Name, e.Severity))
		}
		h.handle(resolved...)
		sleep(10 * time.Minute)
		if got, want := notifiedNames(h.rec.all()), []string{"firing:check_instance_up", "resolved:check_instance_up"}; !slices.Equal(got, want) {
			t.Errorf("notified %q, want %q", got, want)
		}
	})
}

// TestInhibitionStep walks the built-in dependencies one step at a time,
// with what is inhibited after each.
func TestInhibitionStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		inhibited := func() []string {
			var out []string
			for _, a := range h.m.Alerts() {
				if a.Inhibited {
					out = append(out, a.Name+"<"+a.InhibitedBy)
				}
			}
			slices.Sort(out)
			return out
		}
		steps := []struct {
			name string
			evs  []event.Event
			want []string
		}{
			{"a stream that flows is its own signal: fps_low stands alone",
				[]event.Event{rule("main", "fps_low", SeverityWarning)}, nil},
			{"the stream goes down: it explains fps_low",
				[]event.Event{rule("main", "telemetry_down", SeverityWarning)}, []string{"fps_low<telemetry_down"}},
			{"the instance is unreachable: it explains telemetry_down, which still explains fps_low",
				[]event.Event{check("main", "check_instance_up", "connection_refused", SeverityCritical)},
				[]string{"fps_low<telemetry_down", "telemetry_down<check_instance_up"}},
			{"another target's cause explains nothing here",
				[]event.Event{check("other", "check_health", "instance_down", SeverityWarning)},
				[]string{"fps_low<telemetry_down", "telemetry_down<check_instance_up"}},
			{"a refused token explains the checks that needed it, not the others",
				[]event.Event{condition("other", "token_rejected", SeverityWarning), check("other", "check_auth", "token_rejected", SeverityWarning)},
				[]string{"check_auth<token_rejected", "fps_low<telemetry_down", "telemetry_down<check_instance_up"}},
			{"memory from /performance is its own signal while the stream is down",
				[]event.Event{func() event.Event {
					e := rule("main", "memory_high", SeverityWarning)
					e.Source = "performance"
					return e
				}()},
				[]string{"check_auth<token_rejected", "fps_low<telemetry_down", "telemetry_down<check_instance_up"}},
			{"memory from the stream is explained by the stream being down",
				[]event.Event{rule("main", "memory_growth", SeverityWarning)},
				[]string{"check_auth<token_rejected", "fps_low<telemetry_down", "memory_growth<telemetry_down", "telemetry_down<check_instance_up"}},
		}
		for i, s := range steps {
			h.handle(s.evs...)
			if got := inhibited(); !slices.Equal(got, s.want) {
				t.Fatalf("step %d (%s): inhibited %q, want %q", i, s.name, got, s.want)
			}
		}
	})
}

// TestInhibitionRelease: when the cause resolves and an alert it explained
// keeps firing, that alert is notified, after InhibitRelease; one that
// resolves within it is never notified.
func TestInhibitionRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		h.handle(check("main", "check_instance_up", "connection_refused", SeverityCritical),
			rule("main", "telemetry_down", SeverityWarning), check("main", "check_scene", "instance_down", SeverityWarning))
		sleep(time.Minute)
		h.handle(resolve("main", "check_instance_up", SeverityCritical))
		sleep(time.Minute) // telemetry comes back within the release time
		h.handle(resolve("main", "telemetry_down", SeverityWarning))
		sleep(10 * time.Minute) // check_scene still fails: a cause of its own
		got := notifiedNames(h.rec.all())
		// The group's next message (group_interval) carries both changes.
		want := []string{"firing:check_instance_up", "firing:check_scene", "resolved:check_instance_up"}
		if !slices.Equal(got, want) {
			t.Errorf("notified %q, want %q", got, want)
		}
		if a, _ := alertNamed(h.m, "main", "check_scene"); a.Inhibited || a.State != StateFiring {
			t.Errorf("check_scene after release: %+v", a)
		}
	})
}

// TestInhibitionSurvivesRestart: an inhibited alert is not announced by a
// restarted manager before its cause is known again.
func TestInhibitionSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		h.handle(check("main", "check_instance_up", "connection_refused", SeverityCritical),
			check("main", "check_health", "instance_down", SeverityWarning))
		sleep(time.Minute)
		h = h.restart(testSettings())
		sleep(10 * time.Minute)
		if got, want := notifiedNames(h.rec.all()), []string{"firing:check_instance_up"}; !slices.Equal(got, want) {
			t.Errorf("notified %q, want %q", got, want)
		}
		if a, _ := alertNamed(h.m, "main", "check_health"); !a.Inhibited {
			t.Errorf("check_health after restart: %+v, want inhibited", a)
		}
	})
}

// TestBuiltinInhibitionMatrix holds the built-in rules to the dependencies
// issue 9 names, one statement a row: the cause fires first, then the
// alert, which is inhibited by the cause or not.
func TestBuiltinInhibitionMatrix(t *testing.T) {
	fromPerformance := func(e event.Event) event.Event { e.Source = "performance"; return e }
	fromTelemetry := func(e event.Event) event.Event { e.Source = "telemetry"; return e }
	instanceDown := check("main", "check_instance_up", "connection_refused", SeverityCritical)
	telemetryDown := rule("main", "telemetry_down", SeverityWarning)
	rows := []struct {
		name         string
		cause, alert event.Event
		inhibited    bool
	}{
		{"unreachable instance: every other check", instanceDown, check("main", "check_health", "instance_down", SeverityWarning), true},
		{"unreachable instance: a check failing for its own cause too", instanceDown, check("main", "check_whitelist", "", SeverityWarning), true},
		{"unreachable instance: the stream being down", instanceDown, telemetryDown, true},
		{"unreachable instance: not FPS from a stream that still flows", instanceDown, rule("main", "fps_low", SeverityWarning), false},
		{"unreachable instance: not memory from a stream that still flows", instanceDown, fromTelemetry(rule("main", "memory_high", SeverityWarning)), false},
		{"unreachable instance: memory unwatched", instanceDown, condition("main", "memory_unwatched", SeverityWarning), true},
		{"unreachable instance: nothing on another target", check("other", "check_instance_up", "connection_refused", SeverityCritical), check("main", "check_health", "instance_down", SeverityWarning), false},
		{"expired token: the checks it failed", condition("main", "token_expired", SeverityCritical), check("main", "check_auth", "token_expired", SeverityWarning), true},
		{"refused token: the checks it failed", condition("main", "token_rejected", SeverityWarning), check("main", "check_scene", "token_rejected", SeverityWarning), true},
		{"refused token: not a check failing for another cause", condition("main", "token_rejected", SeverityWarning), check("main", "check_health", "endpoint_absent", SeverityWarning), false},
		{"refused (/performance) token: memory unwatched", condition("main", "token_rejected", SeverityWarning), condition("main", "memory_unwatched", SeverityWarning), true},
		{"/performance refusing its own token: memory unwatched", check("main", "check_performance", "performance_token_rejected", SeverityWarning), condition("main", "memory_unwatched", SeverityWarning), true},
		{"/performance failing otherwise: not memory unwatched", check("main", "check_performance", "endpoint_absent", SeverityWarning), condition("main", "memory_unwatched", SeverityWarning), false},
		{"stream down: the FPS rules", telemetryDown, rule("main", "fps_critical", SeverityCritical), true},
		{"stream silent: the telemetry check", rule("main", "telemetry_silent", SeverityWarning), check("main", "check_telemetry", "", SeverityWarning), true},
		{"stream down: the thresholds check", telemetryDown, check("main", "check_thresholds", "", SeverityWarning), true},
		{"stream down: memory from the stream", telemetryDown, fromTelemetry(rule("main", "memory_growth", SeverityWarning)), true},
		{"stream down: not memory from /performance", telemetryDown, fromPerformance(rule("main", "memory_high", SeverityWarning)), false},
		{"stream down: memory unwatched", telemetryDown, condition("main", "memory_unwatched", SeverityWarning), true},
		{"stream down: not the API checks", telemetryDown, check("main", "check_scene", "", SeverityWarning), false},
		{"FPS low explains nothing", rule("main", "fps_low", SeverityWarning), condition("main", "memory_unwatched", SeverityWarning), false},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := startHarness(t, "", testSettings(), nil, nil)
				h.handle(row.cause)
				h.handle(row.alert)
				a, ok := alertNamed(h.m, row.alert.Target, row.alert.Name)
				if !ok {
					t.Fatalf("%s not tracked", row.alert.Name)
				}
				if a.Inhibited != row.inhibited || (row.inhibited && a.InhibitedBy != row.cause.Name) {
					t.Errorf("%s while %s fires: inhibited %v by %q, want %v", row.alert.Name, row.cause.Name, a.Inhibited, a.InhibitedBy, row.inhibited)
				}
			})
		})
	}
}

// TestUserInhibitRule: a rule of the user's (alerting.inhibit_rules)
// inhibits as the built-in ones do, under its own name, and releases its
// target only after InhibitRelease.
func TestUserInhibitRule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testSettings()
		s.GroupBy = []string{LabelAlert, LabelTarget} // each alert its own group: its own group_wait
		const release = 3 * time.Minute
		s.InhibitRelease = release
		s.InhibitRules = append(s.InhibitRules, InhibitRule{
			Name:   "inhibit_rules[0]",
			Source: labels.Matchers{mustMatcher(LabelAlert, labels.MatchEqual, "check_scene")},
			Target: labels.Matchers{mustMatcher(LabelAlert, labels.MatchRegexp, "fps_.*")},
		})
		h := startHarness(t, "", s, nil, nil)
		h.handle(check("main", "check_scene", "wrong_scene", SeverityWarning), rule("main", "fps_low", SeverityWarning),
			rule("other", "fps_low", SeverityWarning)) // another target's: not explained
		sleep(time.Minute)
		a, _ := alertNamed(h.m, "main", "fps_low")
		if !a.Inhibited || a.InhibitedBy != "check_scene" || a.InhibitRule != "inhibit_rules[0]" {
			t.Fatalf("fps_low on main: %+v, want inhibited by check_scene under inhibit_rules[0]", a)
		}
		if other, _ := alertNamed(h.m, "other", "fps_low"); other.Inhibited {
			t.Fatalf("fps_low on other: %+v, want not inhibited", other)
		}
		h.handle(resolve("main", "check_scene", SeverityWarning))
		sleep(release - time.Second)
		notifiedMain := func() (n int) {
			for _, r := range h.rec.all() {
				for _, al := range r.msg.Alerts {
					if al.Target == "main" && al.Name == "fps_low" {
						n++
					}
				}
			}
			return n
		}
		if a, _ := alertNamed(h.m, "main", "fps_low"); a.Inhibited || notifiedMain() != 0 {
			t.Fatalf("within inhibit_release: %+v, notified %d times; want released, not yet notified", a, notifiedMain())
		}
		sleep(time.Second + s.GroupWait + time.Second)
		if n := notifiedMain(); n != 1 {
			t.Errorf("fps_low on main notified %d times after inhibit_release and group_wait, want 1 (all: %q)", n, notifiedNames(h.rec.all()))
		}
	})
}
