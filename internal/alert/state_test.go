package alert

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
)

// reliability scenario 1: the API is down for 12 minutes and the daemon restarts
// (SIGTERM) at minute 7. Exactly one firing message, none after the
// restart (the monitor reports the condition again when it re-checks), and
// exactly one resolved message after the first successful poll.
func TestRestartDuringOutage(t *testing.T) {
	cases := []struct {
		name   string
		replay bool // the monitor reports the outage again after the restart
	}{
		{"monitor replays the firing state", true},
		{"monitor restores its own state silently", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := startHarness(t, "", testSettings(), nil, nil)
				h.handle(fire("main", "check_health", SeverityCritical))
				sleepUntil(7 * time.Minute)
				before := storedAlert(t, h.st, "main", "check_health")
				if !before.Notified || !before.Firing {
					t.Fatalf("stored state before the restart = %+v, want firing and notified", before)
				}

				h = h.restart(testSettings())
				if tc.replay {
					sleep(5 * time.Second)
					h.handle(fire("main", "check_health", SeverityCritical))
				}
				if a, ok := alertNamed(h.m, "main", "check_health"); !ok || a.State != StateFiring {
					t.Errorf("after the restart the alert is %+v, want firing", a)
				}
				sleepUntil(12 * time.Minute)
				h.handle(resolve("main", "check_health", SeverityCritical))
				sleepUntil(time.Hour)

				want := []string{
					"30s: firing [main/check_health] resolved []",
					"12m30s: firing [] resolved [main/check_health]",
				}
				if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
					t.Errorf("messages:\n got %q\nwant %q", got, want)
				}
				if b, ok, err := h.st.GetMeta(metaKeyState); err != nil || !ok || strings.Contains(string(b), "check_health") {
					t.Errorf("stored state after the resolution = %s (ok %v, err %v), want no alert", b, ok, err)
				}
			})
		})
	}
}

// An alert that healed while the daemon was down gets its resolved
// message after the start, once the monitor re-checked.
func TestResolvedAfterRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		h.handle(fire("main", "fps_low", SeverityWarning))
		sleepUntil(time.Minute)
		h = h.restart(testSettings())
		sleepUntil(30 * time.Minute) // down, then up: nothing to say yet
		h.handle(resolve("main", "fps_low", SeverityWarning))
		sleepUntil(time.Hour)
		want := []string{
			"30s: firing [main/fps_low] resolved []",
			"30m30s: firing [] resolved [main/fps_low]",
		}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
	})
}

// A restart during group_wait loses nothing: the change is stored and
// notified after the start, once.
func TestRestartDuringGroupWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		h.handle(fire("main", "fps_low", SeverityWarning))
		sleepUntil(10 * time.Second)
		h = h.restart(testSettings())
		sleepUntil(time.Hour)
		want := []string{"30s: firing [main/fps_low] resolved []"}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
	})
}

// Events queued when Run stops are applied and stored, not lost.
func TestShutdownKeepsQueuedEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		h.handle(fire("main", "fps_low", SeverityWarning))
		sleepUntil(time.Minute)
		h.m.Handle(resolve("main", "fps_low", SeverityWarning)) // no Wait: Run may stop first
		h = h.restart(testSettings())
		sleepUntil(time.Hour)
		want := []string{
			"30s: firing [main/fps_low] resolved []",
			"5m30s: firing [] resolved [main/fps_low]",
		}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
	})
}

// Deployment grace: warnings are held for grace_period after the
// deployment started and notified only if still firing when it ends;
// critical alerts are not held (group_wait still applies).
func TestDeploymentGrace(t *testing.T) {
	cases := []struct {
		name     string
		started  time.Duration // deployment start relative to the bubble's start
		severity Severity
		resolve  time.Duration // when the condition ends; 0: never
		want     []string
	}{
		{"warning held, released at grace end", 0, SeverityWarning, 0,
			[]string{"5m0s: firing [main/fps_low] resolved []"}},
		{"warning healed within grace", 0, SeverityWarning, 3 * time.Minute, nil},
		{"info held too", 0, SeverityInfo, 0,
			[]string{"5m0s: firing [main/fps_low] resolved []"}},
		{"critical not held", 0, SeverityCritical, 0,
			[]string{"1m30s: firing [main/fps_low] resolved []"}},
		{"old deployment", -time.Hour, SeverityWarning, 0,
			[]string{"1m30s: firing [main/fps_low] resolved []"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				deps := &deployments{}
				deps.set("main", &Deployment{ID: "d1", Version: "2.0.0", StartedAt: bubbleStart.Add(tc.started)})
				h := startHarness(t, "", testSettings(), nil, deps)
				sleepUntil(time.Minute)
				h.handle(fire("main", "fps_low", tc.severity))
				a, _ := alertNamed(h.m, "main", "fps_low")
				wantHeld := tc.started == 0 && tc.severity != SeverityCritical
				if a.Held != wantHeld || (wantHeld && a.State != StatePending) {
					t.Errorf("right after firing: held %v, state %s; want held %v", a.Held, a.State, wantHeld)
				}
				if tc.resolve > 0 {
					sleepUntil(tc.resolve)
					h.handle(resolve("main", "fps_low", tc.severity))
				}
				sleepUntil(time.Hour)
				if got := summarizeAll(h.rec.all()); !slices.Equal(got, tc.want) {
					t.Errorf("messages:\n got %q\nwant %q", got, tc.want)
				}
			})
		})
	}
}

// A held alert stays held across a restart: the grace's end is stored.
func TestGraceSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		deps := &deployments{}
		deps.set("main", &Deployment{ID: "d1", Version: "2.0.0", StartedAt: bubbleStart})
		h := startHarness(t, "", testSettings(), nil, deps)
		h.handle(fire("main", "fps_low", SeverityWarning))
		sleepUntil(2 * time.Minute)
		h = h.restart(testSettings())
		if a, _ := alertNamed(h.m, "main", "fps_low"); !a.Held {
			t.Errorf("after the restart: %+v, want held", a)
		}
		sleepUntil(time.Hour)
		want := []string{"5m0s: firing [main/fps_low] resolved []"}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
	})
}

// A firing alert that gets worse (warning → critical) is announced again
// at once, not at the next repeat; one that is held leaves the grace.
func TestSeverityRise(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		h.handle(fire("main", "memory_high", SeverityWarning))
		sleepUntil(10 * time.Minute)
		h.handle(fire("main", "memory_high", SeverityCritical))
		sleepUntil(time.Hour)
		want := []string{
			"30s: firing [main/memory_high] resolved []",
			"10m30s: firing [main/memory_high] resolved []",
		}
		got := h.rec.all()
		if !slices.Equal(summarizeAll(got), want) {
			t.Fatalf("messages:\n got %q\nwant %q", summarizeAll(got), want)
		}
		if s := got[1].msg.Alerts[0].Severity; s != SeverityCritical {
			t.Errorf("second message severity %s, want critical", s)
		}
	})
}

// The stored state's format is fixed by testdata: a state written by this
// version is read back by the next.
func TestStateFixture(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		seedFixture(t, dir, metaKeyState, "manager_state_v1.json")
		h := startHarness(t, dir, testSettings(), nil, nil)
		got := h.m.Alerts()
		if len(got) != 2 {
			t.Fatalf("Alerts() = %+v, want 2", got)
		}
		if a := got[0]; a.Name != "check_health" || a.State != StateFiring || a.Deployment == nil || a.Deployment.Version != "1.4.2" ||
			!a.StartsAt.Equal(bubbleStart.Add(-10*time.Minute)) { // the fixture's starts_at
			t.Errorf("first alert = %+v", a)
		}
		if a := got[1]; a.Name != "fps_low" || a.State != StateResolved {
			t.Errorf("second alert = %+v", a)
		}
		sleepUntil(time.Hour)
		// The resolution of fps_low was pending, due a group_interval after
		// main's last message; check_health was notified (no
		// re-announcement), and its repeat is hours away.
		want := []string{"3m0s: firing [] resolved [main/fps_low]"}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
	})
}

// An unreadable state document does not stop the daemon: it is kept
// aside, the manager starts empty and raises AlertStateUnreadable.
func TestDamagedState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		seedMeta(t, dir, metaKeyState, []byte(`{"v":1,"alerts":[{"target":`))
		h := startHarness(t, dir, testSettings(), nil, nil)
		sleepUntil(time.Minute)
		msgs := h.rec.all()
		if len(msgs) != 1 || len(msgs[0].msg.Alerts) != 1 ||
			msgs[0].msg.Alerts[0].Name != "AlertStateUnreadable" || msgs[0].msg.Target != InternalTarget {
			t.Fatalf("messages = %q, want one AlertStateUnreadable on %s", summarizeAll(msgs), InternalTarget)
		}
		if b, ok, err := h.st.GetMeta(metaKeyDamaged); err != nil || !ok || string(b) != `{"v":1,"alerts":[{"target":` {
			t.Errorf("damaged copy = %q, %v, %v", b, ok, err)
		}
	})
}

// seedFixture stores testdata/name under key in the store in dir: a state
// written by an earlier version.
func seedFixture(t *testing.T, dir, key, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	seedMeta(t, dir, key, b)
}

func seedMeta(t *testing.T, dir, key string, b []byte) {
	t.Helper()
	st, err := store.Open(dir, storetest.Options(store.Options{NoSync: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.PutMeta(key, b); err != nil {
		t.Fatal(err)
	}
}

// storedAlert reads one alert's record from the store.
func storedAlert(t *testing.T, st *store.Store, target, name string) alertRecord {
	t.Helper()
	b, ok, err := st.GetMeta(metaKeyState)
	if err != nil || !ok {
		t.Fatalf("alert state in the store: ok %v, err %v", ok, err)
	}
	var doc stateDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range doc.Alerts {
		if r.Target == target && r.Name == name {
			return r
		}
	}
	t.Fatalf("no stored alert %s/%s in %s", target, name, b)
	return alertRecord{}
}
