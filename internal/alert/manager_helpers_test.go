package alert

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
)

// The manager's tests run inside testing/synctest bubbles: time.Now and
// the manager's timers are fake, so an hour of alerting takes
// milliseconds, and synctest.Wait says when the manager has done all it
// can at the current instant.

// recorder is an Enqueuer that keeps what it is given, with the fake time.
type recorder struct {
	mu    sync.Mutex
	msgs  []recorded
	fails int // the next fails calls to Enqueue fail
}

type recorded struct {
	at  time.Duration // since the bubble's start
	msg Message
}

var bubbleStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func (r *recorder) Enqueue(m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fails > 0 {
		r.fails--
		return errors.New("store: outbox append: disk full")
	}
	r.msgs = append(r.msgs, recorded{at: time.Since(bubbleStart), msg: m})
	return nil
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

func (r *recorder) count() int { return len(r.all()) }

// last returns the last message; it fails the test when there is none.
func (r *recorder) last(t *testing.T) recorded {
	t.Helper()
	all := r.all()
	if len(all) == 0 {
		t.Fatal("no message enqueued")
	}
	return all[len(all)-1]
}

// deployments is the Deployment callback's data.
type deployments struct {
	mu sync.Mutex
	m  map[string]*Deployment
}

func (d *deployments) set(target string, dep *Deployment) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]*Deployment{}
	}
	d.m[target] = dep
}

func (d *deployments) get(target string) *Deployment {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m[target]
}

// harness is a running Manager on a store in dir.
type harness struct {
	t    *testing.T
	dir  string
	st   *store.Store
	m    *Manager
	rec  *recorder
	deps *deployments
	reg  *prometheus.Registry

	cancel context.CancelFunc
	done   chan error
}

// startHarness opens the store in dir (a new one when dir is ""), builds a
// Manager with settings and runs it until stop or the test's end.
func startHarness(t *testing.T, dir string, settings Settings, rec *recorder, deps *deployments) *harness {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if rec == nil {
		rec = &recorder{}
	}
	if deps == nil {
		deps = &deployments{}
	}
	st, err := store.Open(dir, storetest.Options(store.Options{NoSync: true}))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, dir: dir, st: st, rec: rec, deps: deps, reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	h.m, err = NewManager(ManagerOptions{
		Store: st, Out: rec, Settings: settings, Now: time.Now,
		Logger: zaptest.NewLogger(t), Registerer: h.reg, Deployment: deps.get,
	})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	var ctx context.Context
	ctx, h.cancel = context.WithCancel(context.Background())
	go func() { h.done <- h.m.Run(ctx) }()
	t.Cleanup(h.stop)
	synctest.Wait()
	return h
}

// stop ends Run and closes the store; calling it again does nothing.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("Run: %v", err)
	}
	h.cancel = nil
	if err := h.st.Close(); err != nil {
		h.t.Errorf("close store: %v", err)
	}
}

// restart stops the manager and starts a new one on the same store dir,
// recorder and deployments, as a daemon restart does.
func (h *harness) restart(settings Settings) *harness {
	h.t.Helper()
	h.stop()
	return startHarness(h.t, h.dir, settings, h.rec, h.deps)
}

// handle hands events to the manager and waits until it applied them.
func (h *harness) handle(evs ...event.Event) {
	for _, ev := range evs {
		h.m.Handle(ev)
	}
	synctest.Wait()
}

// sleep advances the fake clock by d and lets the manager catch up.
func sleep(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// sleepUntil advances the fake clock to at (since the bubble's start).
func sleepUntil(at time.Duration) {
	if d := at - time.Since(bubbleStart); d > 0 {
		sleep(d)
	}
}

// fire and resolve build events at the fake now.
func fire(target, name string, sev Severity) event.Event {
	now := time.Now()
	return event.Event{
		Target: target, Name: name, Severity: sev, State: event.StateFiring, At: now, Since: now,
		Reason: fmt.Sprintf("%s breached on %s", name, target), Observed: "42", Expected: ">= 85",
	}
}

func resolve(target, name string, sev Severity) event.Event {
	return event.Event{Target: target, Name: name, Severity: sev, State: event.StateResolved, At: time.Now(), Reason: name + " back to normal"}
}

// settingsWith returns the default settings changed by fn.
func settingsWith(fn func(*Settings)) Settings {
	s := testSettings()
	if fn != nil {
		fn(&s)
	}
	return s
}

// summarize renders a message as "at: firing a,b resolved c" for failures.
func summarize(r recorded) string {
	var firing, resolved []string
	for _, a := range r.msg.Alerts {
		if a.State == StateFiring {
			firing = append(firing, a.Target+"/"+a.Name)
		} else {
			resolved = append(resolved, a.Target+"/"+a.Name)
		}
	}
	return fmt.Sprintf("%v: firing %v resolved %v", r.at, firing, resolved)
}

func summarizeAll(rs []recorded) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = summarize(r)
	}
	return out
}

// alertNamed returns the tracked alert, or false.
func alertNamed(m *Manager, target, name string) (Alert, bool) {
	for _, a := range m.Alerts() {
		if a.Target == target && a.Name == name {
			return a, true
		}
	}
	return Alert{}, false
}

// testSettings are the settings the daemon builds from an empty config
// file: every default from internal/config, none from here.
func testSettings() Settings { return SettingsFrom(config.Default().Alerting) }
