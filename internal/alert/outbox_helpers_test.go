package alert

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
)

// recordingSink records every delivery attempt and answers with respond (nil:
// delivered). Its clock is the runtime's, which testing/synctest fakes.
type recordingSink struct {
	name    string
	respond func(ctx context.Context, call int, m Message) (bool, error)

	mu    sync.Mutex
	calls []sinkCall
}

type sinkCall struct {
	at time.Time
	id string
	ok bool
}

func newRecordingSink(name string, respond func(ctx context.Context, call int, m Message) (bool, error)) *recordingSink {
	return &recordingSink{name: name, respond: respond}
}

func (f *recordingSink) notifier() Notifier {
	return NotifierFunc{SinkName: f.name, Fn: func(ctx context.Context, m Message) (bool, error) {
		f.mu.Lock()
		call := len(f.calls)
		f.calls = append(f.calls, sinkCall{at: time.Now(), id: m.ID})
		f.mu.Unlock()
		var (
			retry bool
			err   error
		)
		if f.respond != nil {
			retry, err = f.respond(ctx, call, m)
		}
		f.mu.Lock()
		f.calls[call].ok = err == nil
		f.mu.Unlock()
		return retry, err
	}}
}

// attempts returns every call so far.
func (f *recordingSink) attempts() []sinkCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sinkCall(nil), f.calls...)
}

// delivered returns the IDs the sink confirmed, in order.
func (f *recordingSink) delivered() []string {
	var ids []string
	for _, c := range f.attempts() {
		if c.ok {
			ids = append(ids, c.id)
		}
	}
	return ids
}

// openOutboxStore opens a store in a temp dir, closed when the test ends.
func openOutboxStore(t *testing.T) *store.Store {
	t.Helper()
	return openOutboxStoreAt(t, t.TempDir())
}

func openOutboxStoreAt(t *testing.T, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(dir, storetest.Options(store.Options{NoSync: true}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testOutbox is an Outbox under test with its registry and its logs.
type testOutbox struct {
	*Outbox
	reg  *prometheus.Registry
	logs *observer.ObservedLogs
}

// testOutboxOptions returns opts over the options the daemon builds under
// the config's defaults (OutboxOptionsFrom): a zero tunable in opts takes
// the config's, so that a test names only what it is about.
func testOutboxOptions(opts OutboxOptions) OutboxOptions {
	def := OutboxOptionsFrom(config.Default().Alerting.Outbox)
	opts.BackoffInitial = cmp.Or(opts.BackoffInitial, def.BackoffInitial)
	opts.BackoffMax = cmp.Or(opts.BackoffMax, max(def.BackoffMax, opts.BackoffInitial))
	opts.Jitter = cmp.Or(opts.Jitter, def.Jitter)
	opts.AttemptTimeout = cmp.Or(opts.AttemptTimeout, def.AttemptTimeout)
	opts.StopGrace = cmp.Or(opts.StopGrace, def.StopGrace)
	return opts
}

// newTestOutbox creates an outbox on s with opts over the config's
// defaults (testOutboxOptions), a fresh registry and an observed logger
// (debug and up).
func newTestOutbox(t *testing.T, s *store.Store, opts OutboxOptions) *testOutbox {
	t.Helper()
	opts = testOutboxOptions(opts)
	core, logs := observer.New(zapcore.DebugLevel)
	reg := prometheus.NewRegistry()
	opts.Store, opts.Registerer, opts.Logger = s, reg, zap.New(core)
	ob, err := NewOutbox(opts)
	if err != nil {
		t.Fatalf("NewOutbox: %v", err)
	}
	return &testOutbox{Outbox: ob, reg: reg, logs: logs}
}

// start runs the outbox until the returned stop is called (or the test
// ends); stop cancels Run, waits for it, and returns how long that took.
func (ob *testOutbox) start(t *testing.T) (stop func() time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ob.Run(ctx) }()
	var once sync.Once
	var took time.Duration
	stop = func() time.Duration {
		once.Do(func() {
			start := time.Now()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			took = time.Since(start)
		})
		return took
	}
	t.Cleanup(func() { stop() })
	return stop
}

func (ob *testOutbox) enqueue(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := ob.Enqueue(Message{ID: id, Kind: KindText, Text: "text of " + id}); err != nil {
			t.Fatalf("Enqueue(%s): %v", id, err)
		}
	}
}

func (ob *testOutbox) pending(t *testing.T) map[string]int {
	t.Helper()
	p, err := ob.Pending()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// countLogs counts the log entries at level whose message contains msg.
func (ob *testOutbox) countLogs(level zapcore.Level, msg string) int {
	n := 0
	for _, e := range ob.logs.All() {
		if e.Level == level && strings.Contains(e.Message, msg) {
			n++
		}
	}
	return n
}

// msgIDs returns "m00", "m01", ... "m<n-1>".
func msgIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("m%02d", i)
	}
	return out
}

// callGaps returns the time between consecutive calls.
func callGaps(calls []sinkCall) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(calls); i++ {
		out = append(out, calls[i].at.Sub(calls[i-1].at))
	}
	return out
}

// sinkDownUntil is a sink that answers 503 until recovery, then confirms.
func sinkDownUntil(name string, recovery time.Time) *recordingSink {
	return newRecordingSink(name, func(context.Context, int, Message) (bool, error) {
		if time.Now().Before(recovery) {
			return transientErr(name, 503)
		}
		return false, nil
	})
}

// transientErr and permanentErr are the errors the fake sinks answer with.
func transientErr(sink string, code int) (bool, error) {
	return true, &DeliveryError{Sink: sink, Code: code, Reason: "service_unavailable"}
}

func permanentErr(sink string, code int, reason string) (bool, error) {
	return false, &DeliveryError{Sink: sink, Code: code, Reason: reason}
}
