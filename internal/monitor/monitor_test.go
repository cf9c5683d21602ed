package monitor

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// fakeTarget is a target whose checks are a function of the (bubble's)
// time, and which records how its rounds ran.
type fakeTarget struct {
	mu        sync.Mutex
	starts    []time.Time
	inFlight  atomic.Int32
	maxFlight atomic.Int32
	// roundTime is how long a round takes.
	roundTime time.Duration
	// wedged rounds ignore their context (a check that does not honour it).
	wedged bool
	// down says whether the instance is down at t.
	down func(t time.Time) bool
}

func (f *fakeTarget) checks(ctx context.Context) []CheckResult {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxFlight.Load()
		if n <= m || f.maxFlight.CompareAndSwap(m, n) {
			break
		}
	}
	now := time.Now()
	f.mu.Lock()
	f.starts = append(f.starts, now)
	f.mu.Unlock()
	if f.wedged {
		time.Sleep(f.roundTime)
	} else {
		select {
		case <-time.After(f.roundTime):
		case <-ctx.Done():
			return nil
		}
	}
	st := CheckPass
	if f.down != nil && f.down(now) {
		st = CheckFail
	}
	return []CheckResult{{Check: config.CheckInstanceUp, Status: st, Reason: "fake"}}
}

func (f *fakeTarget) startTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.starts...)
}

func testConfig(t *testing.T, names ...string) *config.Config {
	t.Helper()
	cfg := config.Default()
	base := cfg.Targets[0]
	cfg.Targets = nil
	for i, n := range names {
		tc := base
		tc.Name = n
		tc.APIURL = &url.URL{Scheme: "http", Host: "127.0.0.1:" + string(rune('1'+i)) + "080"}
		cfg.Targets = append(cfg.Targets, tc)
	}
	return &cfg
}

// fakeBuild builds targets from fakes, counting builds per name.
func fakeBuild(fakes map[string]*fakeTarget, fail map[string]error) func(config.Target, *Monitor) (*target, error) {
	return func(tc config.Target, m *Monitor) (*target, error) {
		if err := fail[tc.Name]; err != nil {
			return nil, err
		}
		f := fakes[tc.Name]
		r := newTargetRunner(tc.Name, settingsFromConfig(&tc), runnerDeps{
			checks: f.checks,
			status: func(context.Context) (*spacetime.Status, error) { return nil, errors.New("fake: no status") },
		}, m.opts.Metrics, m.opts.Store, m.opts.Sink, zap.NewNop(), m.opts.Now)
		return &target{cfg: tc, runner: r}, nil
	}
}

// runMonitor runs m until the returned stop, which waits for Run's end.
func runMonitor(t *testing.T, m *Monitor) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// checkCadence: fake ran n rounds, every apart (no drift, no overlap).
func checkCadence(t *testing.T, fake *fakeTarget, n int, every time.Duration) {
	t.Helper()
	starts := fake.startTimes()
	if len(starts) != n {
		t.Fatalf("%d rounds, want %d", len(starts), n)
	}
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap != every {
			t.Fatalf("round %d started %v after the previous one, want %v (drift or overlap)", i, gap, every)
		}
	}
}

// TestScheduler24Hours runs the real cron scheduler for a simulated day
// against a fake target: 288 rounds five minutes apart (the first at
// start), never two at once, and the expected transitions for an instance
// down from 02:00 to 03:00. It takes well under a second of test time.
func TestScheduler24Hours(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		fake := &fakeTarget{roundTime: 40 * time.Second, down: func(at time.Time) bool {
			el := at.Sub(start)
			return el >= 2*time.Hour && el < 3*time.Hour
		}}
		rec := &eventRecorder{}
		m := New(Options{
			Store: openTestStore(t, time.Now), Metrics: NewMetrics(prometheus.NewRegistry()), Sink: rec,
			build: fakeBuild(map[string]*fakeTarget{"main": fake}, nil),
		})
		if err := m.Apply(testConfig(t, "main")); err != nil {
			t.Fatal(err)
		}
		stop := runMonitor(t, m)
		time.Sleep(24*time.Hour - time.Second)
		stop()
		checkCadence(t, fake, 288, 5*time.Minute)
		if max := fake.maxFlight.Load(); max != 1 {
			t.Fatalf("%d rounds in flight at once, want 1", max)
		}
		// Down from 02:00 (round at 02:00 fails, 02:05 fails → firing) to
		// 03:00 (first pass → resolved, success_threshold 1).
		want := []string{"check_instance_up firing", "check_instance_up resolved"}
		if got := rec.list(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("events = %v, want %v", got, want)
		}
		rec.mu.Lock()
		firedAt, resolvedAt := rec.events[0].At.Sub(start), rec.events[1].At.Sub(start)
		rec.mu.Unlock()
		if firedAt != 2*time.Hour+5*time.Minute+40*time.Second || resolvedAt != 3*time.Hour+40*time.Second {
			t.Fatalf("fired at +%v, resolved at +%v; want +2h5m40s and +3h0m40s", firedAt, resolvedAt)
		}
	})
}

// TestSchedulerSkipsWhileARoundRuns: a round wedged past its timeout and
// the interval is never overlapped; the ticks that fall inside it are
// skipped.
func TestSchedulerSkipsWhileARoundRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &fakeTarget{roundTime: 12 * time.Minute, wedged: true}
		m := New(Options{
			Store: openTestStore(t, time.Now), Metrics: NewMetrics(prometheus.NewRegistry()),
			build: fakeBuild(map[string]*fakeTarget{"main": fake}, nil),
		})
		if err := m.Apply(testConfig(t, "main")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- m.Run(ctx) }()
		time.Sleep(time.Hour)
		cancel()
		<-done
		if max := fake.maxFlight.Load(); max != 1 {
			t.Fatalf("%d rounds in flight at once, want 1", max)
		}
		if n := len(fake.startTimes()); n < 4 || n > 5 {
			t.Fatalf("%d rounds of 12 min in an hour, want 4 or 5", n)
		}
	})
}

// TestApplyAddsRemovesAndKeepsOnError: a reload adds and removes targets
// (series of removed ones disappear); a target that cannot be built leaves
// the running set untouched.
func TestApplyAddsRemovesAndKeepsOnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		fakes := map[string]*fakeTarget{"a": {roundTime: time.Second}, "b": {roundTime: time.Second}, "c": {roundTime: time.Second}}
		fail := map[string]error{}
		m := New(Options{Store: openTestStore(t, time.Now), Metrics: NewMetrics(reg), build: fakeBuild(fakes, fail)})
		if err := m.Apply(testConfig(t, "a", "b")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- m.Run(ctx) }()
		time.Sleep(10 * time.Second)

		series := func(target string) int {
			n := 0
			mfs, _ := reg.Gather()
			for _, mf := range mfs {
				for _, mt := range mf.GetMetric() {
					for _, l := range mt.GetLabel() {
						if l.GetName() == "target" && l.GetValue() == target {
							n++
						}
					}
				}
			}
			return n
		}
		if series("a") == 0 || series("b") == 0 {
			t.Fatalf("series: a=%d b=%d, want both", series("a"), series("b"))
		}

		fail["c"] = errors.New("cannot build")
		if err := m.Apply(testConfig(t, "a", "c")); err == nil {
			t.Fatal("Apply with an unbuildable target succeeded")
		}
		if got := len(m.Status()); got != 2 || series("b") == 0 {
			t.Fatalf("after a failed apply: %d targets, b series %d; want the old set", got, series("b"))
		}
		if got := m.TargetCount(); got != 2 {
			t.Fatalf("after a failed apply: TargetCount %d, want 2", got)
		}

		delete(fail, "c")
		if err := m.Apply(testConfig(t, "a", "c")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		if series("b") != 0 {
			t.Fatalf("removed target b still has %d series", series("b"))
		}
		if got, names := m.TargetCount(), m.TargetNames(); got != 2 || !slices.Equal(names, []string{"a", "c"}) {
			t.Fatalf("after the reload: TargetCount %d, TargetNames %q; want 2, [a c]", got, names)
		}
		if series("c") == 0 || testutil.ToFloat64(m.opts.Metrics.Up.WithLabelValues("c")) != 1 {
			t.Fatal("added target c has no series or is not up")
		}
		if n := len(fakes["c"].startTimes()); n != 1 {
			t.Fatalf("added target c ran %d rounds, want its first round at once", n)
		}
		cancel()
		<-done
	})
}
