package alert

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/labels"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// silenceFor silences target's alert (every alert of target when alert is
// ""), for d from now.
func silenceFor(target, alert string, d time.Duration) Silence {
	ms := labels.Matchers{{Name: LabelTarget, Type: labels.MatchEqual, Value: target}}
	if alert != "" {
		ms = append(ms, labels.Matcher{Name: LabelAlert, Type: labels.MatchEqual, Value: alert})
	}
	return Silence{Matchers: ms, EndsAt: time.Now().Add(d), Comment: "known issue, fix deploying", CreatedBy: "ana"}
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
			if _, err := h.m.ExpireSilence(id); err != nil {
				h.t.Fatal(err)
			}
			synctest.Wait()
		}, 2 * time.Hour},
		{"ends by itself", func(*harness, string) {}, 20 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := startHarness(t, "", testSettings(), nil, nil)
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
		h := startHarness(t, "", testSettings(), nil, nil)
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
		h := startHarness(t, "", testSettings(), nil, nil)
		s := silenceFor("main", "", 30*time.Minute)
		s.Matchers = append(s.Matchers, labels.Matcher{Name: LabelAlert, Type: labels.MatchRegexp, Value: "fps_.*"})
		sil, err := h.m.AddSilence(s)
		if err != nil {
			t.Fatal(err)
		}
		h.handle(fire("main", "fps_low", SeverityWarning))
		sleepUntil(5 * time.Minute)
		h.stop()
		h = startHarness(t, h.dir, testSettings(), h.rec, nil)
		got := h.m.Silences()
		if len(got) != 1 || got[0].ID != sil.ID || got[0].Matchers.String() != `target=main, alert=~"fps_.*"` ||
			got[0].Comment != sil.Comment || !got[0].EndsAt.Equal(sil.EndsAt) || got[0].State != SilenceActive {
			t.Errorf("silences after restart = %+v, want %+v", got, sil)
		}
		h.handle(fire("main", "fps_critical", SeverityCritical)) // the regex came back compiled
		sleepUntil(10 * time.Minute)
		h.stop()
		sleepUntil(40 * time.Minute) // the silence ends while the daemon is down
		h = startHarness(t, h.dir, testSettings(), h.rec, nil)
		sleepUntil(time.Hour)
		want := []string{"40m0s: firing [main/fps_critical main/fps_low] resolved []"}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
	})
}

// A silence starting later mutes from its start.
func TestSilenceStartsLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
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
	m, err := NewManager(ManagerOptions{Out: &recorder{}, Settings: testSettings(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSilenceValidation(t *testing.T) {
	now := bubbleStart
	// Built by hand, not by labels.ParseMatcher: AddSilence compiles the regex.
	valid := Silence{Matchers: labels.Matchers{{Name: LabelAlert, Type: labels.MatchRegexp, Value: "fps_.*"}}, EndsAt: now.Add(time.Hour), Comment: "deploying"}
	alertIs := func(v string) labels.Matchers {
		return labels.Matchers{{Name: LabelAlert, Type: labels.MatchEqual, Value: v}}
	}
	cases := []struct {
		name string
		edit func(*Silence)
		want string // "" for valid
	}{
		{"valid", func(*Silence) {}, ""},
		{"no matchers", func(s *Silence) { s.Matchers = nil }, "silence: matchers: at least one is required, e.g. alert=fps_low or target=main"},
		{"unknown label", func(s *Silence) {
			s.Matchers = labels.Matchers{{Name: "alertname", Type: labels.MatchEqual, Value: "x"}}
		},
			`silence: matchers[0]: unknown label "alertname": matchers take alert, severity, target, kind, cause or source`},
		{"unknown match type", func(s *Silence) { s.Matchers = labels.Matchers{{Name: LabelAlert, Type: "==", Value: "x"}} },
			`silence: matchers[0]: unknown match type "==": want =, !=, =~ or !~`},
		{"bad regex", func(s *Silence) {
			s.Matchers = labels.Matchers{{Name: LabelAlert, Type: labels.MatchNotRegexp, Value: "("}}
		},
			"silence: matchers[0]: bad regex \"(\": missing closing ): `(`"},
		{"long value", func(s *Silence) { s.Matchers = alertIs(strings.Repeat("x", 600)) }, "silence: matchers[0] value is 600 bytes long, more than 512"},
		{"two-line value", func(s *Silence) { s.Matchers = alertIs("a\nb") }, "silence: matchers[0] value must be one line"},
		{"too many matchers", func(s *Silence) { s.Matchers = slices.Repeat(alertIs("fps_low"), 17) }, "silence: matchers: 17 given, at most 16"},
		{"no comment", func(s *Silence) { s.Comment = "  " }, "silence: comment is required"},
		{"two-line comment", func(s *Silence) { s.Comment = "a\nb" }, "silence: comment must be one line"},
		{"id given", func(s *Silence) { s.ID = "abc" }, "silence: id is assigned by the daemon; to change a silence, expire it and add a new one"},
		{"no end", func(s *Silence) { s.EndsAt = time.Time{} }, "silence: ends_at is required (e.g. --for 2h)"},
		{"end in the past", func(s *Silence) { s.EndsAt = now.Add(-time.Minute) }, "silence: ends_at 1999-12-31T23:59:00Z is not in the future"},
		{"end before start", func(s *Silence) { s.StartsAt = now.Add(2 * time.Hour) },
			"silence: ends_at 2000-01-01T01:00:00Z is not after starts_at 2000-01-01T02:00:00Z"},
		{"several problems", func(s *Silence) { s.Matchers, s.Comment = nil, "" },
			"silence: matchers: at least one is required, e.g. alert=fps_low or target=main\ncomment is required"},
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
				if got.ID == "" || !got.StartsAt.Equal(now) || got.State != SilenceActive {
					t.Errorf("added %+v: want an ID, StartsAt now and active", got)
				}
				if !got.Matches(Labels{Target: "main", Alert: "fps_low", Severity: SeverityWarning}) {
					t.Errorf("added %s does not match fps_low: its regex was not compiled", got.Matchers)
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

// A silence is pending until it starts, active until it ends, then
// expired, and listed for a day after; on the manager's clock, boundaries
// included.
func TestSilenceStates(t *testing.T) {
	base := testkit.BaseTime(t)
	now := base
	m, err := NewManager(ManagerOptions{Out: &recorder{}, Settings: testSettings(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	later := silenceFor("main", "fps_low", 0)
	later.StartsAt, later.EndsAt = base.Add(time.Hour), base.Add(3*time.Hour)
	later, err = m.AddSilence(later)
	if err != nil || later.State != SilencePending {
		t.Fatalf("AddSilence(starting in 1h) = %+v, %v; want pending", later, err)
	}
	current := silenceFor("vr-2", "", 0)
	current.EndsAt = base.Add(30 * time.Minute)
	current, err = m.AddSilence(current)
	if err != nil || current.State != SilenceActive {
		t.Fatalf("AddSilence(now) = %+v, %v; want active", current, err)
	}
	steps := []struct {
		at     time.Duration
		want   []string // "ID state", by start
		active int      // spacetime_watch_silences_active
	}{
		{0, []string{current.ID + " active", later.ID + " pending"}, 1},
		{30*time.Minute - time.Nanosecond, []string{current.ID + " active", later.ID + " pending"}, 1},
		{30 * time.Minute, []string{current.ID + " expired", later.ID + " pending"}, 0},
		{time.Hour, []string{current.ID + " expired", later.ID + " active"}, 1},
		{3 * time.Hour, []string{current.ID + " expired", later.ID + " expired"}, 0},
		{24*time.Hour + 30*time.Minute, []string{current.ID + " expired", later.ID + " expired"}, 0},
		{24*time.Hour + 31*time.Minute, []string{later.ID + " expired"}, 0},
		{28 * time.Hour, nil, 0},
	}
	for _, st := range steps {
		now = base.Add(st.at)
		var got []string
		for _, s := range m.Silences() {
			got = append(got, s.ID+" "+string(s.State))
		}
		if !slices.Equal(got, st.want) {
			t.Errorf("at +%s: Silences() = %q, want %q", st.at, got, st.want)
		}
		if n := m.silences.activeCount(now); n != st.active {
			t.Errorf("at +%s: %d active, want %d", st.at, n, st.active)
		}
	}
}

// labels.Matchers select the alerts muted: every one must match.
func TestSilenceMatchersMute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		var ms labels.Matchers
		for _, s := range []string{`alert=~"fps_.*"`, "target!=canary"} {
			m, err := labels.ParseMatcher(s)
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		if _, err := h.m.AddSilence(Silence{Matchers: ms, EndsAt: time.Now().Add(time.Hour), Comment: "GPU driver rollout"}); err != nil {
			t.Fatal(err)
		}
		h.handle(fire("main", "fps_low", SeverityWarning), fire("main", "fps_critical", SeverityCritical),
			fire("canary", "fps_low", SeverityWarning), fire("main", "memory_high", SeverityWarning))
		sleepUntil(time.Minute)
		want := []string{
			"30s: firing [canary/fps_low] resolved []",
			"30s: firing [main/memory_high] resolved []",
		}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, want) {
			t.Errorf("messages:\n got %q\nwant %q", got, want)
		}
	})
}

// A silence is expired by its ID or by a prefix of it, in any case; a
// prefix of several live silences is refused, naming them.
func TestExpireSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarness(t, "", testSettings(), nil, nil)
		sil, err := h.m.AddSilence(silenceFor("main", "", time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.m.ExpireSilence("nope"); !errors.Is(err, ErrSilenceNotFound) {
			t.Errorf("expire unknown: %v, want ErrSilenceNotFound", err)
		}
		sleep(time.Minute)
		got, err := h.m.ExpireSilence(strings.ToLower(sil.ID[:6]))
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != sil.ID || got.State != SilenceExpired || !got.EndsAt.Equal(bubbleStart.Add(time.Minute)) {
			t.Errorf("expired %+v, want %s ended at 1m", got, sil.ID)
		}
		if _, err := h.m.ExpireSilence(sil.ID); !errors.Is(err, ErrSilenceEnded) {
			t.Errorf("expire twice: %v, want ErrSilenceEnded", err)
		}
		list := h.m.Silences()
		if len(list) != 1 || list[0].State != SilenceExpired || list[0].Active(time.Now()) {
			t.Errorf("after expiry: %+v, want listed as expired", list)
		}
		sleep(25 * time.Hour)
		if got := h.m.Silences(); len(got) != 0 {
			t.Errorf("a day after expiry: %+v, want none listed", got)
		}
	})
}

// findSilence resolves IDs and prefixes, preferring live silences.
func TestExpireSilencePrefix(t *testing.T) {
	now := bubbleStart
	sil := func(id string, ends time.Duration, target string) Silence {
		return Silence{ID: id, Matchers: labels.Matchers{{Name: LabelTarget, Type: labels.MatchEqual, Value: target}}, StartsAt: now.Add(-2 * time.Hour), EndsAt: now.Add(ends)}
	}
	list := []Silence{sil("ABCD1", time.Hour, "main"), sil("ABCE2", -time.Hour, "vr-2"), sil("ABZZ9", time.Hour, "canary"), sil("XY", time.Hour, "main"), sil("XYZ", time.Hour, "vr-2")}
	cases := []struct{ ref, want, err string }{
		{ref: "ABCD1", want: "ABCD1"},
		{ref: "abcd", want: "ABCD1"},
		{ref: "ABC", want: "ABCD1"}, // ABCE2 has ended
		{ref: "XY", want: "XY"},     // an exact ID wins over a longer one
		{ref: "ab", err: `silence "ab": ambiguous ID prefix: 2 silences start with it: ABCD1 (target=main); ABZZ9 (target=canary); give more of the ID`},
		{ref: "ABCE", err: "silence ABCE2: already ended at 1999-12-31T23:00:00Z"},
		{ref: "Q", err: `silence "Q": silence not found`},
		{ref: "ABCD12", err: `silence "ABCD12": silence not found`},
	}
	for _, tc := range cases {
		got, _, err := expireSilence(slices.Clone(list), tc.ref, now)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("expire %q: error %v, want %s", tc.ref, err, tc.err)
		case tc.err == "" && (err != nil || got.ID != tc.want || !got.EndsAt.Equal(now)):
			t.Errorf("expire %q = %+v, %v; want %s ended now", tc.ref, got, err, tc.want)
		}
	}
}

// Silences stored by the version before matchers (a target and an
// optional alert name) load as target= and alert= matchers, mute as they
// did, and are written back in the new shape.
func TestSilencesV1Fixture(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		seedFixture(t, dir, metaKeySilences, "silences_v1.json")
		h := startHarness(t, dir, testSettings(), nil, nil)
		var got []string
		for _, s := range h.m.Silences() {
			got = append(got, fmt.Sprintf("%s %s [%s] until %s", s.ID, s.State, s.Matchers, s.EndsAt.Format(time.TimeOnly)))
		}
		want := []string{
			"QZ7M3N4K2VXW5Y6T7U8R9S2P3A active [target=main, alert=fps_low] until 02:00:00",
			"B4LJ7H2G6F5D3S2A7Q6W5E4R3T active [target=vr-2] until 00:30:00",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Silences() = %q\nwant %q", got, want)
		}
		h.handle(fire("main", "fps_low", SeverityWarning), fire("main", "memory_high", SeverityWarning), fire("vr-2", "check_health", SeverityCritical))
		sleepUntil(time.Hour)
		wantMsgs := []string{
			"30s: firing [main/memory_high] resolved []",
			"30m0s: firing [vr-2/check_health] resolved []", // its silence ended
		}
		if got := summarizeAll(h.rec.all()); !slices.Equal(got, wantMsgs) {
			t.Errorf("messages:\n got %q\nwant %q", got, wantMsgs)
		}

		// The next change writes the list in the new shape, which a restart reads.
		if _, err := h.m.ExpireSilence("QZ7M"); err != nil {
			t.Fatal(err)
		}
		stored, _, err := h.st.GetMeta(metaKeySilences)
		if err != nil || !strings.Contains(string(stored), `"v":2`) || !strings.Contains(string(stored), `"matchers":["target=main","alert=fps_low"]`) {
			t.Errorf("stored after a change: %s, %v; want version 2 with matchers", stored, err)
		}
		h.stop()
		h = startHarness(t, dir, testSettings(), h.rec, nil)
		if n := len(h.m.Silences()); n != 2 {
			t.Errorf("%d silences after a restart, want 2", n)
		}
	})
}
