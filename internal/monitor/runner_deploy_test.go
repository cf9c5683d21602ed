package monitor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// The runner's view of the instance's process and its deployments
// (runner_deploy.go): restarts, new versions, the identity it stores.

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
