package review

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// persistRig is a Service on a real store whose ticks a test runs by hand
// (persistAll, tick), each target's Recorder settling at once, the wall
// clock now, every review delivered at once.
type persistRig struct {
	svc  *Service
	st   *store.Store
	recs map[string]*Recorder
	logs *observer.ObservedLogs
}

func newPersistRig(tb testing.TB, dir string, now func() time.Time, sync bool, names ...string) *persistRig {
	tb.Helper()
	st, err := store.Open(dir, storetest.Options(store.Options{Now: now, NoSync: !sync}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	core, logs := observer.New(zapcore.InfoLevel)
	svc, err := NewService(ServiceOptions{Store: st, Dir: dir, Deliverer: DelivererFunc(func(context.Context, Review) error { return nil }), Now: now, Settle: -1, Logger: zap.New(core)})
	if err != nil {
		tb.Fatal(err)
	}
	r := &persistRig{svc: svc, st: st, recs: map[string]*Recorder{}, logs: logs}
	for _, name := range names {
		r.recs[name] = NewRecorder(RecorderOptions{Settle: -1})
		if err := svc.Register(name, TargetOptions{Recorder: r.recs[name]}); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

// feed gives every target a healthy minute at at.
func (r *persistRig) feed(at time.Time) {
	for _, rec := range r.recs {
		rec.ObserveSamples(svcHealthy(at))
	}
}

// stored lists target's stored minutes as offsets from t0 in minutes.
func (r *persistRig) stored(t *testing.T, target string, t0 time.Time) string {
	t.Helper()
	ms, bad, err := r.svc.loadMinutes(target, time.Time{}, t0.Add(1000*time.Hour))
	if err != nil || bad != 0 {
		t.Fatalf("minutes of %s: %v (%d bad)", target, err, bad)
	}
	return minuteSpans(ms, t0)
}

// minuteSpans lists minutes as runs of offsets from t0, "0 6-186".
func minuteSpans(ms []Minute, t0 time.Time) string {
	var out []string
	for i := 0; i < len(ms); {
		j := i
		for j+1 < len(ms) && ms[j+1].At.Sub(ms[j].At) == time.Minute {
			j++
		}
		first, last := int(ms[i].At.Sub(t0)/time.Minute), int(ms[j].At.Sub(t0)/time.Minute)
		if first == last {
			out = append(out, fmt.Sprint(first))
		} else {
			out = append(out, fmt.Sprintf("%d-%d", first, last))
		}
		i = j + 1
	}
	return strings.Join(out, " ")
}

// countLogs counts the entries whose message contains msg.
func countLogs(logs *observer.ObservedLogs, msg string) int {
	return logs.FilterMessageSnippet(msg).Len()
}

// TestPersistAllFullDiskKeepsEveryTargetPending fills the disk
// (RLIMIT_FSIZE at 0) for maxPendingMinutes+5 ticks: no target's minutes
// are written, each keeps its newest maxPendingMinutes pending, each
// failed batch is counted once and logged once in all (with the targets
// and minutes it held), and once there is room one tick writes them all,
// logs one recovery, and a restart finds them.
func TestPersistAllFullDiskKeepsEveryTargetPending(t *testing.T) {
	clk := testkit.NewClock(t)
	t0 := clk.Now().Truncate(time.Minute)
	clk.Set(t0)
	dir := t.TempDir()
	names := []string{"a", "b", "c"}
	r := newPersistRig(t, dir, clk.Now, false, names...)
	tick := func() {
		r.feed(clk.Now())
		clk.Advance(time.Minute)
		r.svc.persistAll(clk.Now())
	}
	tick() // minute 0 is stored

	restore, err := testkit.LimitFileSize(0)
	if err != nil {
		t.Skip(err)
	}
	// The cap is the process's: lift it too when a check below stops the test.
	t.Cleanup(func() { _ = restore() })
	const full = maxPendingMinutes + 5 // minutes 1 to 185
	for range full {
		tick()
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if got := r.stored(t, name, t0); got != "0" {
			t.Errorf("%s: stored minutes %q while the disk was full, want 0 alone", name, got)
		}
		if got := minuteSpans(r.svc.pending[name], t0); got != fmt.Sprintf("6-%d", full) {
			t.Errorf("%s: pending minutes %q, want the newest %d, 6-%d", name, got, maxPendingMinutes, full)
		}
	}
	if got, want := testutil.ToFloat64(r.svc.metrics.errors.WithLabelValues(stagePersist)), float64(full); got != want {
		t.Errorf("persist errors counted %g, want %g (one failed batch a tick)", got, want)
	}
	fails := r.logs.FilterMessageSnippet("persist failed").All()
	if len(fails) != 1 {
		t.Fatalf("logged %d persist failures, want 1: one for the batch and one error text", len(fails))
	}
	f := fails[0].ContextMap()
	if !strings.Contains(fmt.Sprint(f["error"]), "file too large") || f["targets"] != int64(len(names)) || f["pending_minutes"] != int64(len(names)) {
		t.Errorf("logged %v, want the full disk, %d targets, %d pending minutes", f, len(names), len(names))
	}

	tick() // minute 186, and the pending ones
	for _, name := range names {
		if _, ok := r.svc.pending[name]; ok {
			t.Errorf("%s: minutes still pending after a good write", name)
		}
	}
	if got := countLogs(r.logs, "persist works again"); got != 1 {
		t.Errorf("logged %d recoveries, want 1, of the batch", got)
	}
	if err := r.st.Close(); err != nil {
		t.Fatal(err)
	}
	r = newPersistRig(t, dir, clk.Now, false, names...)
	for _, name := range names {
		if got, want := r.stored(t, name, t0), fmt.Sprintf("0 6-%d", full+1); got != want {
			t.Errorf("%s: after a restart stored minutes %q, want %q", name, got, want)
		}
	}
}

// TestPersistAllTargetTheStoreRefusesFailsAlone: a target whose minutes
// the store would refuse (its name is too long to be a key) fails alone,
// each tick, logged once; the others' minutes are written in the same
// ticks.
func TestPersistAllTargetTheStoreRefusesFailsAlone(t *testing.T) {
	clk := testkit.NewClock(t)
	t0 := clk.Now().Truncate(time.Minute)
	clk.Set(t0)
	long := strings.Repeat("x", 600)
	r := newPersistRig(t, t.TempDir(), clk.Now, false, "a", long, "z")
	for range 2 {
		r.feed(clk.Now())
		clk.Advance(time.Minute)
		r.svc.persistAll(clk.Now())
	}
	for _, name := range []string{"a", "z"} {
		if got := r.stored(t, name, t0); got != "0-1" {
			t.Errorf("%s: stored minutes %q, want 0-1 (the bad target held it back?)", name, got)
		}
	}
	if got := testutil.ToFloat64(r.svc.metrics.errors.WithLabelValues(stagePersist)); got != 2 {
		t.Errorf("persist errors counted %g, want 2 (the long name, twice)", got)
	}
	fails := r.logs.FilterMessageSnippet("persist failed").All()
	if len(fails) != 1 || fails[0].ContextMap()["target"] != long || !strings.Contains(fmt.Sprint(fails[0].ContextMap()["error"]), "more than 512") {
		t.Errorf("logged %+v, want one failure of the long name naming the limit", fails)
	}
	if p := r.svc.pending[long]; len(p) != 0 {
		t.Errorf("the refused target keeps %d minutes pending; the store would refuse them forever", len(p))
	}
}

// TestCandidatesFollowTheStore checks the tick's cached candidates against
// a fresh read of the deployments at each step: time passing with nothing
// changed, and past the horizon (both from the cache), the wall clock
// stepping back, a new deployment, re-registrations that shorten and
// lengthen the horizon, the target deleted.
func TestCandidatesFollowTheStore(t *testing.T) {
	clk := testkit.NewClock(t)
	r := newPersistRig(t, t.TempDir(), clk.Now, false, "vr")
	check := func(step string) {
		t.Helper()
		tg, _ := r.svc.lookup("vr")
		got, err := r.svc.candidates("vr", tg, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		deps, err := r.st.Deployments("vr")
		if err != nil {
			t.Fatal(err)
		}
		if want := tg.sched.candidates(deps, clk.Now()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: candidates\n got %v\nwant %v", step, got, want)
		}
	}
	deployOn := func(target, id string) {
		t.Helper()
		if _, err := r.st.StartDeployment(store.Deployment{ID: id, Target: target, Source: store.SourceAPI, StartedAt: clk.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	deploy := func(id string) { deployOn("vr", id) }
	register := func(offsets ...time.Duration) {
		t.Helper()
		if err := r.svc.Register("vr", TargetOptions{Recorder: r.recs["vr"], Offsets: offsets}); err != nil {
			t.Fatal(err)
		}
	}
	deploy("d1")
	check("d1 started") // read from the store, and cached
	clk.Advance(time.Hour)
	check("an hour later, nothing changed") // from the cache
	clk.Advance(48 * time.Hour)             // past 24h + the 24h margin
	check("d1 past the horizon")            // from the cache, d1 filtered out
	clk.Advance(-48 * time.Hour)            // the wall clock steps back
	check("the clock stepped back")
	deploy("d2")
	clk.Advance(time.Minute)
	check("d2 started")
	register(time.Hour) // a 25 h horizon
	clk.Advance(30 * time.Hour)
	deployOn("other", "o1") // moves the version: vr's are read again under this horizon
	check("30 h later, a 25 h horizon")
	register() // the service's offsets again: a 48 h horizon
	check("re-registered with a 48 h horizon")
	clk.Advance(17 * time.Hour)
	check("17 h later, d1 past the 48 h horizon, d2 not") // from the cache
	if err := r.st.DeleteTarget("vr"); err != nil {
		t.Fatal(err)
	}
	check("target deleted")
}
