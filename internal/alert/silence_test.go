package alert

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func silenceFor(target, alert string, d time.Duration) Silence {
	return Silence{Target: target, Alert: alert, EndsAt: time.Now().Add(d), Comment: "known issue, fix deploying", CreatedBy: "ana"}
}

// A silenced alert is tracked but not notified; the others of the target
// are. When the silence ends and the alert still fires, it is notified.
func TestSilenceSuppressesThenReleases(t *testing.T) {
	cases := []struct {
		name   string
		end    func(h *harness, id string) // ends the silence at 20 m
		expiry time.Duration               // the silence's own length
	}{
		{"expired by ExpireSilence", func(h *harness, id string) {
			if err := h.m.ExpireSilence(id); err != nil {
				h.t.Fatal(err)
			}
			synctest.Wait()
		}, 2 * time.Hour},
		{"ends by itself", func(*harness, string) {}, 20 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := startHarness(t, "", DefaultSettings(), nil, nil)
				sil, err := h.m.AddSilence(silenceFor("main", "fps_low", tc.expiry))
				if err != nil {
					t.Fatal(err)
				}
				h.handle(fire("main", "fps_low", SeverityCritical), fire("main", "memory_high", SeverityWarning))
				sleepUntil(time.Minute)
				if a, _ := alertNamed(h.m, "main", "fps_low"); !a.Silenced || a.State != StateFiring {
					t.Errorf("silenced alert listed as %+v, want firing and silenced", a)
				}
				sleepUntil(20 * time.Minute)
				tc.end(h, sil.ID)
				sleepUntil(time.Hour)
				want := []string{
					"30s: firing [main/memory_high] resolved []",
					"20m0s: firing [main/fps_low main/memory_high] resolved []", // never notified: no second group_wait
				}
				if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
					t.Errorf("messages:\n got %q\nwant %q", got, want)
				}
			})
		})
	}
}

// A silence without an alert name mutes every alert of the target, and
// only of that target. An alert that heals while silenced is never heard of.
func TestSilenceWholeTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", DefaultSettings(), nil, nil)
		if _, err := h.m.AddSilence(silenceFor("main", "", time.Hour)); err != nil {
			t.Fatal(err)
		}
		h.handle(fire("main", "fps_low", SeverityCritical), fire("main", "check_health", SeverityCritical),
			fire("vr-2", "fps_low", SeverityCritical))
		sleepUntil(10 * time.Minute)
		h.handle(resolve("main", "fps_low", SeverityCritical), resolve("main", "check_health", SeverityCritical))
		sleepUntil(3 * time.Hour)
		want := []string{"30s: firing [vr-2/fps_low] resolved []"}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
	})
}

// A notified alert that gets silenced is not repeated; its resolution is
// still sent, so that Slack and Alertmanager do not show it firing forever.
func TestSilenceAfterNotification(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", settingsWith(func(s *Settings) { s.RepeatInterval = time.Hour }), nil, nil)
		h.handle(fire("main", "fps_low", SeverityWarning))
		sleepUntil(time.Minute)
		if _, err := h.m.AddSilence(silenceFor("main", "fps_low", 5*time.Hour)); err != nil {
			t.Fatal(err)
		}
		sleepUntil(3 * time.Hour)
		h.handle(resolve("main", "fps_low", SeverityWarning))
		sleepUntil(4 * time.Hour)
		want := []string{
			"30s: firing [main/fps_low] resolved []",
			"3h0m30s: firing [] resolved [main/fps_low]",
		}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
	})
}

// Silences are stored: a new Manager on the same store has them and
// applies them; one that ended while the daemon was down releases its
// alerts after the start.
func TestSilencesSurviveRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", DefaultSettings(), nil, nil)
		sil, err := h.m.AddSilence(silenceFor("main", "fps_low", 30*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		h.handle(fire("main", "fps_low", SeverityWarning))
		sleepUntil(5 * time.Minute)
		h.stop()
		sleepUntil(40 * time.Minute) // the silence ends while the daemon is down
		h = startHarness(t, h.dir, DefaultSettings(), h.rec, nil)
		if got := h.m.Silences(); len(got) != 1 || got[0].ID != sil.ID || got[0].Comment != sil.Comment || !got[0].EndsAt.Equal(sil.EndsAt) {
			t.Errorf("silences after restart = %+v, want %+v", got, sil)
		}
		sleepUntil(time.Hour)
		want := []string{"40m0s: firing [main/fps_low] resolved []"}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
	})
}

// A silence starting later mutes from its start.
func TestSilenceStartsLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", DefaultSettings(), nil, nil)
		s := silenceFor("main", "fps_low", 2*time.Hour)
		s.StartsAt = time.Now().Add(time.Hour)
		if _, err := h.m.AddSilence(s); err != nil {
			t.Fatal(err)
		}
		if n := h.m.silences.activeCount(time.Now()); n != 0 {
			t.Errorf("%d active silences before the start, want 0", n)
		}
		sleepUntil(time.Hour + time.Minute)
		h.handle(fire("main", "fps_low", SeverityWarning))
		sleepUntil(time.Hour + 30*time.Minute)
		if n := h.rec.count(); n != 0 {
			t.Errorf("%d messages for an alert under a started silence", n)
		}
	})
}

// newIdleManager is a Manager with a fixed clock, no store and no Run:
// enough for the synchronous API.
func newIdleManager(t *testing.T, now time.Time) *Manager {
	t.Helper()
	m, err := NewManager(ManagerOptions{Out: &recorder{}, Settings: DefaultSettings(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSilenceValidation(t *testing.T) {
	now := bubbleStart
	valid := Silence{Target: "main", EndsAt: now.Add(time.Hour), Comment: "deploying"}
	cases := []struct {
		name string
		edit func(*Silence)
		want string // "" for valid
	}{
		{"valid", func(*Silence) {}, ""},
		{"no target", func(s *Silence) { s.Target = "" }, "silence: target is required"},
		{"no comment", func(s *Silence) { s.Comment = "  " }, "silence: comment is required"},
		{"two-line comment", func(s *Silence) { s.Comment = "a\nb" }, "silence: comment must be one line"},
		{"long target", func(s *Silence) { s.Target = strings.Repeat("x", 600) }, "silence: target is 600 bytes long, more than 512"},
		{"id given", func(s *Silence) { s.ID = "abc" }, "silence: id is assigned by the daemon; to change a silence, expire it and add a new one"},
		{"no end", func(s *Silence) { s.EndsAt = time.Time{} }, "silence: ends_at is required (e.g. --for 2h)"},
		{"end in the past", func(s *Silence) { s.EndsAt = now.Add(-time.Minute) }, "silence: ends_at 1999-12-31T23:59:00Z is not in the future"},
		{"end before start", func(s *Silence) { s.StartsAt = now.Add(2 * time.Hour) },
			"silence: ends_at 2000-01-01T01:00:00Z is not after starts_at 2000-01-01T02:00:00Z"},
		{"several problems", func(s *Silence) { s.Target, s.Comment = "", "" }, "silence: target is required\ncomment is required"},
	}
	m := newIdleManager(t, now)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := valid
			tc.edit(&s)
			got, err := m.AddSilence(s)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("AddSilence: %v", err)
			case tc.want == "":
				if got.ID == "" || !got.StartsAt.Equal(now) {
					t.Errorf("added %+v: want an ID and StartsAt now", got)
				}
			case err == nil || err.Error() != tc.want:
				t.Errorf("AddSilence error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
	if n := len(m.Silences()); n != 1 {
		t.Errorf("%d silences stored, want 1 (only the valid one)", n)
	}
}

func TestExpireSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", DefaultSettings(), nil, nil)
		sil, err := h.m.AddSilence(silenceFor("main", "", time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := h.m.ExpireSilence("nope"); !errors.Is(err, ErrSilenceNotFound) {
			t.Errorf("expire unknown: %v, want ErrSilenceNotFound", err)
		}
		sleep(time.Minute)
		if err := h.m.ExpireSilence(sil.ID); err != nil {
			t.Fatal(err)
		}
		if err := h.m.ExpireSilence(sil.ID); err == nil || !strings.Contains(err.Error(), "already ended") {
			t.Errorf("expire twice: %v, want already ended", err)
		}
		got := h.m.Silences()
		if len(got) != 1 || !got[0].EndsAt.Equal(bubbleStart.Add(time.Minute)) || got[0].Active(time.Now()) {
			t.Errorf("after expiry: %+v, want ended at 1m and listed", got)
		}
		sleep(25 * time.Hour)
		if got := h.m.Silences(); len(got) != 0 {
			t.Errorf("a day after expiry: %+v, want none listed", got)
		}
	})
}
