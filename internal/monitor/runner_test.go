package monitor

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// openTestStore opens a store on the test's clock (time.Now inside a
// synctest bubble is the bubble's fake clock).
func openTestStore(t testing.TB, now func() time.Time) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir(), storetest.Options(store.Options{NoSync: true, Now: now}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// eventRecorder is an event.Sink that keeps every event.
type eventRecorder struct {
	mu     sync.Mutex
	events []event.Event
}

func (r *eventRecorder) Handle(ev event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *eventRecorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.events))
	for _, ev := range r.events {
		out = append(out, ev.Name+" "+string(ev.State))
	}
	return out
}

func result(c config.CheckName, s CheckStatus) CheckResult {
	return CheckResult{Check: c, Status: s, Reason: string(c) + " " + string(s), Duration: time.Millisecond} // it ran
}

// TestCheckHysteresisStepByStep feeds one check's results one at a time and
// checks the state after each step: failure_threshold 2, success_threshold 2.
func TestCheckHysteresisStepByStep(t *testing.T) {
	steps := []struct {
		in        CheckStatus
		want      int // transition
		failing   bool
		explained string
	}{
		{CheckFail, 0, false, "one failure is not enough"},
		{CheckPass, 0, false, "a pass resets the failure count"},
		{CheckFail, 0, false, "the count starts again"},
		{CheckSkipped, 0, false, "a skipped result changes nothing"},
		{CheckFail, +1, true, "second consecutive failure: failing"},
		{CheckFail, 0, true, "still failing: no new event"},
		{CheckPass, 0, true, "one pass is not enough to recover"},
		{CheckFail, 0, true, "a failure resets the pass count"},
		{CheckPass, 0, true, "first pass again"},
		{CheckPass, -1, false, "second consecutive pass: recovered"},
		{CheckPass, 0, false, "stays recovered"},
	}
	var h checkHysteresis
	at := testkit.BaseTime(t)
	for i, s := range steps {
		got := h.step(result(config.CheckHealth, s.in), 2, 2, at.Add(time.Duration(i)*5*time.Minute))
		if got != s.want || h.failing != s.failing {
			t.Fatalf("step %d (%s: %s): transition %d failing %v, want %d %v", i, s.in, s.explained, got, h.failing, s.want, s.failing)
		}
	}
}

// TestTokenConditions: checks failing because of the token raise one
// condition each round derives (token_expired: restart the instance;
// token_rejected: the fix for the configured token source) besides their
// own alerts, which carry the cause so the alerting layer can inhibit them.
// Each condition resolves under its own name and with its own account.
func TestTokenConditions(t *testing.T) {
	cases := []struct {
		cause, condition string
		severity         Severity
		wantReason       string
		wantHint         string
	}{
		{CauseTokenExpired, ConditionTokenExpired, SeverityCritical, "token expired: check auth was refused (HTTP 401)", "restart the instance"},
		{CauseTokenRejected, ConditionTokenRejected, SeverityWarning, "refused the API token (check auth: auth refused the token with HTTP 401)", "put the instance's current token in /etc/spacetime/token"},
	}
	for _, tc := range cases {
		t.Run(tc.condition, func(t *testing.T) {
			at := testkit.BaseTime(t)
			st := openTestStore(t, func() time.Time { return at })
			rec := &eventRecorder{}
			settings := runnerSettings{failureThreshold: 2, successThreshold: 1, tokenHint: tokenHint(&config.Target{TokenFile: "/etc/spacetime/token"})}
			r := newTargetRunner("main", settings, runnerDeps{}, NewMetrics(prometheus.NewRegistry()), st, rec, zap.NewNop(), func() time.Time { return at })
			failing := func(c config.CheckName) CheckResult {
				return CheckResult{Check: c, Status: CheckFail, Cause: tc.cause, Observed: "HTTP 401", Reason: string(c) + " refused the token with HTTP 401"}
			}
			up := result(config.CheckInstanceUp, CheckPass)
			r.apply([]CheckResult{up, failing(config.CheckAuth), failing(config.CheckScene)}, at)
			r.apply([]CheckResult{up, failing(config.CheckAuth), failing(config.CheckScene)}, at.Add(5*time.Minute))
			r.apply([]CheckResult{up, result(config.CheckAuth, CheckPass), result(config.CheckScene, CheckPass)}, at.Add(10*time.Minute))

			byName := map[string][]event.Event{}
			for _, ev := range rec.events {
				byName[ev.Name] = append(byName[ev.Name], ev)
			}
			cond := byName[tc.condition]
			if len(cond) != 2 || cond[0].State != event.StateFiring || cond[1].State != event.StateResolved {
				t.Fatalf("%s events = %v, want firing then resolved", tc.condition, cond)
			}
			if cond[0].Severity != tc.severity || cond[0].Kind != event.KindCondition || cond[0].Cause != tc.cause ||
				!strings.Contains(cond[0].Reason, tc.wantReason) || !strings.Contains(cond[0].Hint, tc.wantHint) {
				t.Errorf("firing %s = %+v", tc.condition, cond[0])
			}
			if !strings.Contains(cond[1].Reason, "accepts the token") {
				t.Errorf("resolved %s says %q, want its own account", tc.condition, cond[1].Reason)
			}
			for _, check := range []string{"check_auth", "check_scene"} {
				evs := byName[check]
				if len(evs) != 2 || evs[0].Kind != event.KindCheck || evs[0].Cause != tc.cause || evs[1].State != event.StateResolved {
					t.Errorf("%s events = %+v, want firing with cause %s, then resolved", check, evs, tc.cause)
				}
			}
			if other := tokenConditions[0].name; other != tc.condition && len(byName[other]) > 0 {
				t.Errorf("%s raised too: %v", other, byName[other])
			}
		})
	}
}

// TestTokenConditionSkippedWhileDown: a round in which the instance did
// not answer says nothing about the token: a firing condition stays.
func TestTokenConditionSkippedWhileDown(t *testing.T) {
	expired := CheckResult{Check: config.CheckAuth, Status: CheckFail, Cause: CauseTokenExpired}
	if r := conditionResult(tokenConditions[0], []CheckResult{result(config.CheckInstanceUp, CheckFail), {Check: config.CheckAuth, Status: CheckFail, Cause: CauseInstanceDown}}); r.Status != CheckSkipped {
		t.Errorf("instance down: %s, want skipped", r.Status)
	}
	if r := conditionResult(tokenConditions[0], []CheckResult{result(config.CheckInstanceUp, CheckPass), expired}); r.Status != CheckFail {
		t.Errorf("expired: %s, want fail", r.Status)
	}
}

// TestRunnerApplyMetricsAndEvents: a round's results become metrics (a
// skipped check has no success series), history, and events after the
// thresholds; the check state survives a new runner on the same store.
func TestRunnerApplyMetricsAndEvents(t *testing.T) {
	at := testkit.BaseTime(t)
	st := openTestStore(t, func() time.Time { return at })
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	rec := &eventRecorder{}
	newRunner := func() *targetRunner {
		return newTargetRunner("main", runnerSettings{failureThreshold: 2, successThreshold: 1}, runnerDeps{}, m, st, rec, zap.NewNop(), func() time.Time { return at })
	}
	r := newRunner()
	round := func(health CheckStatus) {
		r.apply([]CheckResult{result(config.CheckInstanceUp, CheckPass), result(config.CheckHealth, health), {Check: config.CheckRateLimit, Status: CheckSkipped, Reason: "not scheduled"}}, at)
		at = at.Add(5 * time.Minute)
	}
	round(CheckFail)
	if got := testutil.ToFloat64(m.CheckSuccess.WithLabelValues("main", "health")); got != 0 {
		t.Fatalf("check_success{health} = %v, want 0", got)
	}
	if n := testutil.CollectAndCount(m.CheckSuccess, "spacetime_check_success"); n != 2 {
		t.Fatalf("check_success series = %d, want 2 (skipped checks have none)", n)
	}
	if got := testutil.ToFloat64(m.CheckSkipped.WithLabelValues("main", "rate_limit")); got != 1 {
		t.Fatalf("check_skipped{rate_limit} = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(m.CheckSkipped, "spacetime_check_skipped"); n != 1 {
		t.Fatalf("check_skipped series = %d, want 1 (checks that ran have none)", n)
	}
	if n := testutil.CollectAndCount(m.CheckDuration, "spacetime_check_duration_seconds"); n != 2 {
		t.Fatalf("check_duration series = %d, want 2 (a check not run has none)", n)
	}
	if got := testutil.ToFloat64(m.Up.WithLabelValues("main")); got != 1 {
		t.Fatalf("spacetime_up = %v, want 1", got)
	}
	if len(rec.list()) != 0 {
		t.Fatalf("events after one failure: %v", rec.list())
	}

	// The daemon restarts between the two failures: the count survives.
	r = newRunner()
	round(CheckFail)
	if got := rec.list(); len(got) != 1 || got[0] != "check_health firing" {
		t.Fatalf("events = %v, want [check_health firing]", got)
	}
	round(CheckPass)
	if got := rec.list(); len(got) != 2 || got[1] != "check_health resolved" {
		t.Fatalf("events = %v, want a resolved after one pass", got)
	}
	hist, err := st.CheckHistory("main", time.Time{})
	if err != nil || len(hist) != 9 {
		t.Fatalf("history = %d records (%v), want 9", len(hist), err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	} // An instance-down round: health not attempted (no duration) keeps its
	// last run's duration rather than a 0.
	r.apply([]CheckResult{result(config.CheckInstanceUp, CheckFail), {Check: config.CheckHealth, Status: CheckFail, Observed: "not attempted", Reason: "instance down"}}, at)
	if got := testutil.ToFloat64(m.CheckDuration.WithLabelValues("main", "health")); got != time.Millisecond.Seconds() {
		t.Fatalf("check_duration{health} after a round that did not attempt it = %v, want the last run's %v", got, time.Millisecond.Seconds())
	}
}

// TestRunnerReannouncesRestoredFailingChecks: a check failing before a
// restart is handed to the sink once more by the new runner, with the
// original reason and start, so that an alert manager killed before it
// wrote the first event down still learns of it.
func TestRunnerReannouncesRestoredFailingChecks(t *testing.T) {
	at := testkit.BaseTime(t)
	st := openTestStore(t, func() time.Time { return at })
	m := NewMetrics(prometheus.NewRegistry())
	first := &eventRecorder{}
	newRunner := func(rec *eventRecorder) *targetRunner {
		return newTargetRunner("main", runnerSettings{failureThreshold: 1, successThreshold: 1}, runnerDeps{}, m, st, rec, zap.NewNop(), func() time.Time { return at })
	}
	r := newRunner(first)
	r.apply([]CheckResult{result(config.CheckInstanceUp, CheckPass), result(config.CheckHealth, CheckFail)}, at)
	if got := first.list(); len(got) != 1 || got[0] != "check_health firing" {
		t.Fatalf("events = %v, want check_health firing", got)
	}
	began := first.events[0].Since

	at = at.Add(time.Minute)
	second := &eventRecorder{}
	newRunner(second).reannounceChecks(at)
	if got := second.list(); len(got) != 1 || got[0] != "check_health firing" {
		t.Fatalf("events after the restart = %v, want check_health firing once more", got)
	}
	ev := second.events[0]
	if ev.Target != "main" || !ev.Since.Equal(began) || !ev.At.Equal(at) || !strings.Contains(ev.Reason, "health fail") {
		t.Errorf("re-announced %+v, want target main, since %v, at %v, the original reason", ev, began, at)
	}

	// Once it recovers, nothing is re-announced.
	r.apply([]CheckResult{result(config.CheckInstanceUp, CheckPass), result(config.CheckHealth, CheckPass)}, at)
	third := &eventRecorder{}
	newRunner(third).reannounceChecks(at)
	if got := third.list(); len(got) != 0 {
		t.Errorf("events after recovery and restart = %v, want none", got)
	}
}

// TestRunnerSavesCheckStateOnlyWhenItChanges: the hysteresis is stored
// when a round changes it, and a round of passing checks that changes
// nothing does not write it (at a thousand targets that was a synced
// transaction per target and round), also after a restart. A closed store
// makes every write attempt show, as the warning the runner logs.
func TestRunnerSavesCheckStateOnlyWhenItChanges(t *testing.T) {
	at := testkit.BaseTime(t)
	st := openTestStore(t, func() time.Time { return at })
	m := NewMetrics(prometheus.NewRegistry())
	core, logs := observer.New(zap.WarnLevel)
	newRunner := func() *targetRunner {
		r := newTargetRunner("main", runnerSettings{failureThreshold: 2, successThreshold: 2}, runnerDeps{}, m, st, nil, zap.New(core), func() time.Time { return at })
		r.restoreHysteresis()
		return r
	}
	r := newRunner()
	round := func(health CheckStatus) {
		r.apply([]CheckResult{result(config.CheckInstanceUp, CheckPass), result(config.CheckHealth, health)}, at)
		at = at.Add(5 * time.Minute)
	}
	saves := func() int { return logs.FilterMessage("cannot save check state").Len() }

	round(CheckFail)
	states, err := st.RuleStates("main")
	if err != nil || !strings.Contains(string(states[hysteresisKey]), `"failures":1`) {
		t.Fatalf("stored check state after a failure: %s, %v; want 1 failure", states[hysteresisKey], err)
	}
	round(CheckPass)
	round(CheckPass) // passes reach success_threshold: the state stops changing

	r = newRunner() // a restart: the restored state counts as stored
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		round(CheckPass)
	}
	if n := saves(); n != 0 {
		t.Fatalf("rounds of passing checks that change nothing tried %d writes of the check state", n)
	}
	round(CheckFail)
	if n := saves(); n != 1 {
		t.Fatalf("a failing round tried %d writes of the check state, want 1", n)
	}
}
