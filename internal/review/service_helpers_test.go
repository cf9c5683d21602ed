package review

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
)

// The service's tests run inside testing/synctest bubbles: the runtime
// clock is fake, so a 25-hour timeline takes a fraction of a second, and
// synctest.Wait says when the service has done all it can at the current
// instant. The wall clock is the bubble's time plus an offset a test can
// change (svcWall), so that a wall-clock step does not move the timers.

// svcWall is a wall clock that can step while the runtime clock runs on.
type svcWall struct{ offset atomic.Int64 }

func (w *svcWall) Now() time.Time { return time.Now().Add(time.Duration(w.offset.Load())) }

// Step moves the wall clock by d (NTP stepping it).
func (w *svcWall) Step(d time.Duration) { w.offset.Add(int64(d)) }

// svcDelivery is one review handed to the Deliverer, at wall time at.
type svcDelivery struct {
	at time.Time
	r  Review
}

// svcDeliverer records deliveries. fails makes the next calls fail;
// crashAfter makes the call that records delivery n (1-based) end its
// goroutine right after, as a crash would: nothing after Deliver runs.
type svcDeliverer struct {
	wall *svcWall

	mu         sync.Mutex
	got        []svcDelivery
	fails      int
	crashAfter int
}

func (d *svcDeliverer) Deliver(ctx context.Context, r Review) error {
	d.mu.Lock()
	if d.fails > 0 {
		d.fails--
		d.mu.Unlock()
		return errors.New("store: outbox append: disk full")
	}
	d.got = append(d.got, svcDelivery{at: d.wall.Now(), r: r})
	crash := len(d.got) == d.crashAfter
	d.mu.Unlock()
	if crash {
		runtime.Goexit()
	}
	return nil
}

func (d *svcDeliverer) all() []svcDelivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.got)
}

// names lists the delivered reviews as "hour-1 hour-4 ...".
func (d *svcDeliverer) names() string {
	var out []string
	for _, x := range d.all() {
		out = append(out, x.r.Name)
	}
	return strings.Join(out, " ")
}

// svcHarness is a Service on a real store in dir, run until stop.
type svcHarness struct {
	t    *testing.T
	dir  string
	wall *svcWall
	out  *svcDeliverer
	st   *store.Store
	svc  *Service
	rec  *Recorder
	reg  *prometheus.Registry

	cancel context.CancelFunc
	exited chan struct{}
}

// svcStart opens the store in dir (a new dir when "") and runs a Service
// on it with target "vr" registered, its Recorder settling at once (the
// test feeds each minute as it happens). opts may change the options.
func svcStart(t *testing.T, dir string, wall *svcWall, out *svcDeliverer, opts func(*ServiceOptions)) *svcHarness {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := store.Open(dir, storetest.Options(store.Options{NoSync: true, Now: wall.Now}))
	if err != nil {
		t.Fatal(err)
	}
	h := &svcHarness{t: t, dir: dir, wall: wall, out: out, st: st, reg: prometheus.NewRegistry(),
		rec: NewRecorder(RecorderOptions{Settle: -1}), exited: make(chan struct{})}
	o := ServiceOptions{Store: st, Dir: dir, Deliverer: out, Now: wall.Now, Settle: -1,
		Logger: zaptest.NewLogger(t), Registerer: h.reg}
	if opts != nil {
		opts(&o)
	}
	if h.svc, err = NewService(o); err != nil {
		st.Close()
		t.Fatal(err)
	}
	if err := h.svc.Register("vr", TargetOptions{Recorder: h.rec}); err != nil {
		t.Fatal(err)
	}
	var ctx context.Context
	ctx, h.cancel = context.WithCancel(context.Background())
	go func() {
		defer close(h.exited) // also when the Deliverer "crashes" the goroutine
		if err := h.svc.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(h.stop)
	synctest.Wait()
	return h
}

// stop ends Run (or notes its crash) and closes the store; again: nothing.
func (h *svcHarness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.exited
	h.cancel = nil
	if err := h.st.Close(); err != nil {
		h.t.Errorf("close store: %v", err)
	}
}

// restart stops the service and starts a new one on the same dir.
func (h *svcHarness) restart(opts func(*ServiceOptions)) *svcHarness {
	h.t.Helper()
	h.stop()
	return svcStart(h.t, h.dir, h.wall, h.out, opts)
}

// deploy starts a deployment of target "vr" at the wall clock's now.
func (h *svcHarness) deploy(version string) store.Deployment {
	h.t.Helper()
	d, err := h.st.StartDeployment(store.Deployment{Target: "vr", Version: version, Source: store.SourceAPI, StartedAt: h.wall.Now()})
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

// svcHealthy is a minute of a healthy instance: 10 Hz telemetry at 90 FPS
// and 250 MiB.
func svcHealthy(at time.Time) []Sample {
	out := make([]Sample, 0, 6)
	for i := range 6 {
		out = append(out, Sample{At: at.Add(time.Duration(i) * 10 * time.Second), FPS: 90, HasFPS: true, MemoryMB: 250, HasMemory: true})
	}
	return out
}

// runFor advances the fake clock by d a minute at a time, feeding the
// Recorder a healthy minute each time (at the minute's start on the wall
// clock) and letting the service catch up.
func (h *svcHarness) runFor(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		h.rec.ObserveSamples(svcHealthy(h.wall.Now()))
		step := min(time.Minute, time.Until(end))
		time.Sleep(step)
		synctest.Wait()
	}
}

// runUntil runs the timeline until the wall clock reads at (since t0).
func (h *svcHarness) runUntil(t0 time.Time, at time.Duration) {
	if d := t0.Add(at).Sub(h.wall.Now()); d > 0 {
		h.runFor(d)
	}
}

// byName indexes deliveries by review name, failing on a repeat.
func svcByName(t *testing.T, got []svcDelivery) map[string]svcDelivery {
	t.Helper()
	out := map[string]svcDelivery{}
	for _, d := range got {
		key := d.r.DeploymentID + "/" + d.r.Name
		if _, dup := out[d.r.Name]; dup {
			t.Errorf("review %s delivered twice", key)
		}
		out[d.r.Name] = d
	}
	return out
}

func svcFmt(d svcDelivery, t0 time.Time) string {
	return fmt.Sprintf("%s at +%s (late %t by %s)", d.r.Name, d.at.Sub(t0), d.r.Late, d.r.LateBy)
}
