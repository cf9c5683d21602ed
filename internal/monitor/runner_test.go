package monitor

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
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

func f64(v float64) *float64 { return &v }

func TestDecideDeployment(t *testing.T) {
	now := testkit.BaseTime(t).Add(2 * time.Hour)
	status := func(uptime, restarts float64, version string) instanceIdentity {
		return identityFromStatus(&spacetime.Status{UptimeSeconds: f64(uptime), RestartsTotal: f64(restarts), Version: version}, now)
	}
	cases := []struct {
		name          string
		prev          instanceIdentity
		seen, hasDepl bool
		cur           instanceIdentity
		wantRestarts  int
		wantSource    string
	}{
		{"first sight starts a deployment", instanceIdentity{}, false, false, status(600, 0, "1.0.0"), 0, store.SourceNewTarget},
		{"first sight with a deployment already recorded", instanceIdentity{}, false, true, status(600, 0, "1.0.0"), 0, ""},
		{"same process", status(300, 0, "1.0.0"), true, true, status(600, 0, "1.0.0"), 0, ""},
		{"restart counter, same version", status(3600, 0, "1.0.0"), true, true, status(5, 1, "1.0.0"), 1, ""},
		{"restart with a new version", status(3600, 0, "1.0.0"), true, true, status(5, 1, "1.2.4"), 1, store.SourceRestart},
		{"uptime went back, no counter", instanceIdentity{StartedAt: now.Add(-time.Hour), Restarts: -1}, true, true, instanceIdentity{StartedAt: now.Add(-time.Minute), Restarts: -1}, 1, ""},
		{"uptime jitter is not a restart", instanceIdentity{StartedAt: now.Add(-time.Hour), Restarts: -1}, true, true, instanceIdentity{StartedAt: now.Add(-time.Hour + 10*time.Second), Restarts: -1}, 0, ""},
		{"new JWT iat (stock server)", instanceIdentity{TokenIssuedAt: now.Add(-2 * time.Hour), Restarts: -1}, true, true, instanceIdentity{TokenIssuedAt: now.Add(-time.Minute), Restarts: -1}, 1, ""},
		{"two restarts between polls", status(3600, 2, "1.0.0"), true, true, status(5, 4, "1.0.0"), 2, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := decideDeployment("main", c.prev, c.seen, c.hasDepl, c.cur, now)
			if d.Restarts != c.wantRestarts {
				t.Errorf("restarts = %d, want %d", d.Restarts, c.wantRestarts)
			}
			got := ""
			if d.Start != nil {
				got = d.Start.Source
			}
			if got != c.wantSource {
				t.Errorf("deployment source = %q, want %q", got, c.wantSource)
			}
		})
	}
}

// fakeInstance plays /status for observeInstance.
type fakeInstance struct {
	mu       sync.Mutex
	started  time.Time
	restarts float64
	version  string
}

func (f *fakeInstance) status(now func() time.Time) func(context.Context) (*spacetime.Status, error) {
	return func(context.Context) (*spacetime.Status, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return &spacetime.Status{UptimeSeconds: f64(now().Sub(f.started).Seconds()), RestartsTotal: f64(f.restarts), Version: f.version}, nil
	}
}

func (f *fakeInstance) restart(at time.Time, version string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started, f.version = at, version
	f.restarts++
}

// TestRunnerDeploymentsAndRestarts: first sight starts a deployment; a
// restart with the same version is counted; one with a new version starts
// a deployment; a daemon restart (a new runner on the same store) counts
// nothing.
func TestRunnerDeploymentsAndRestarts(t *testing.T) {
	clock := testkit.BaseTime(t)
	now := func() time.Time { return clock }
	st := openTestStore(t, now)
	inst := &fakeInstance{started: clock.Add(-time.Minute), version: "1.0.0"}
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	newRunner := func() *targetRunner {
		return newTargetRunner("main", runnerSettings{failureThreshold: 2, successThreshold: 1, autoDetect: true},
			runnerDeps{status: inst.status(now), checks: func(context.Context) []CheckResult { return nil }}, m, st, nil, zap.NewNop(), now)
	}
	r := newRunner()
	ctx := context.Background()

	r.observeInstance(ctx)
	d, ok, _ := st.CurrentDeployment("main")
	if !ok || d.Source != store.SourceNewTarget || d.Version != "1.0.0" {
		t.Fatalf("after first sight: %+v %v", d, ok)
	}

	clock = clock.Add(30 * time.Minute)
	inst.restart(clock.Add(-10*time.Second), "1.0.0")
	r.observeInstance(ctx)
	if got := testutil.ToFloat64(m.Restarts.WithLabelValues("main")); got != 1 {
		t.Fatalf("restarts after a same-version restart = %v, want 1", got)
	}
	if d2, _, _ := st.CurrentDeployment("main"); d2.ID != d.ID {
		t.Fatalf("a same-version restart started deployment %+v", d2)
	}

	clock = clock.Add(30 * time.Minute)
	inst.restart(clock.Add(-10*time.Second), "1.2.4")
	r.observeInstance(ctx)
	d3, _, _ := st.CurrentDeployment("main")
	if d3.Source != store.SourceRestart || d3.Version != "1.2.4" {
		t.Fatalf("after a new-version restart: %+v", d3)
	}

	// The daemon restarts: a fresh runner on the same store sees the same
	// instance and must count nothing new.
	clock = clock.Add(5 * time.Minute)
	r2 := newRunner()
	r2.observeInstance(ctx)
	if got := testutil.ToFloat64(m.Restarts.WithLabelValues("main")); got != 2 {
		t.Fatalf("restarts after a daemon restart = %v, want 2", got)
	}
	ds, _ := st.Deployments("main")
	if len(ds) != 2 {
		t.Fatalf("deployments = %d, want 2", len(ds))
	}
}

// TestRunnerStoresIdentityWhenItMoves: a round that sees the same run of
// the instance writes nothing; a start time that drifts a little each round
// is stored once it has moved a second, so the drift never adds up to a
// false restart.
func TestRunnerStoresIdentityWhenItMoves(t *testing.T) {
	clock := testkit.BaseTime(t)
	now := func() time.Time { return clock }
	st := openTestStore(t, now)
	// Half a second past a whole one: the start time is stored truncated
	// to the second, so a wobble of 0.9 s moves it to the next second,
	// which a round that wrote every time would store.
	inst := &fakeInstance{started: clock.Add(-time.Hour + 500*time.Millisecond), version: "1.0.0"}
	m := NewMetrics(prometheus.NewRegistry())
	r := newTargetRunner("main", runnerSettings{failureThreshold: 2, successThreshold: 1, autoDetect: true},
		runnerDeps{status: inst.status(now), checks: func(context.Context) []CheckResult { return nil }}, m, st, nil, zap.NewNop(), now)
	ctx := context.Background()
	stored := func() instanceIdentity {
		t.Helper()
		id, ok, err := loadIdentity(st, "main")
		if err != nil || !ok {
			t.Fatalf("stored identity: %v, %v", ok, err)
		}
		return id
	}

	r.observeInstance(ctx)
	first := stored()
	// The uptime wobbles: the start time it gives moves by under a second.
	clock = clock.Add(5 * time.Minute)
	inst.started = inst.started.Add(900 * time.Millisecond)
	r.observeInstance(ctx)
	if got := stored(); !got.StartedAt.Equal(first.StartedAt) {
		t.Fatalf("a wobble of 0.9 s was stored: %s, then %s", first.StartedAt, got.StartedAt)
	}
	// It drifts on, 0.9 s a round, 60 rounds: 54 s in all, far past the
	// 30 s that would count a restart had the first start time stayed.
	for range 60 {
		clock = clock.Add(5 * time.Minute)
		inst.started = inst.started.Add(900 * time.Millisecond)
		r.observeInstance(ctx)
	}
	if got := testutil.ToFloat64(m.Restarts.WithLabelValues("main")); got != 0 {
		t.Errorf("a start time drifting 0.9 s a round counted %v restarts", got)
	}
	if got := stored(); inst.started.Sub(got.StartedAt) > 2*time.Second {
		t.Errorf("stored start time %s lags the instance's %s by more than the rounding", got.StartedAt, inst.started)
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
