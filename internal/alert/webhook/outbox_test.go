package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// runOutbox runs a real outbox on a store in a temp dir, delivering to n,
// with a fast backoff and an observed logger, until the test ends.
func runOutbox(t *testing.T, n alert.Notifier, onDead func(sink, reason string)) (*alert.Outbox, *observer.ObservedLogs) {
	t.Helper()
	st, err := store.Open(t.TempDir(), storetest.Options(store.Options{NoSync: true}))
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	opts := alert.OutboxOptionsFrom(config.Default().Alerting.Outbox)
	opts.Store, opts.Sinks, opts.Logger, opts.OnDeadLetter = st, []alert.Notifier{n}, zap.New(core), onDead
	opts.BackoffInitial, opts.BackoffMax = 100*time.Millisecond, time.Second
	ob, err := alert.NewOutbox(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ob.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
		st.Close()
	})
	return ob, logs
}

// assertLogsClean scans every log entry, fields included.
func assertLogsClean(t *testing.T, logs *observer.ObservedLogs) {
	t.Helper()
	for _, e := range logs.All() {
		assertClean(t, "log entry", fmt.Sprintf("%s %v", e.Message, e.ContextMap()))
	}
}

// TestOutboxDeadLettersRefusal: a 4xx goes through the real outbox to
// the dead letters at the first attempt, with a reason free of secrets,
// and the outbox's logs are as clean.
func TestOutboxDeadLettersRefusal(t *testing.T) {
	base := testkit.BaseTime(t)
	rc := &receiver{respond: echo(http.StatusForbidden)}
	n := newNotifier(t, secretURL(serve(t, rc)), Options{HMACSecret: hmacSecret})
	dead := make(chan string, 1)
	ob, logs := runOutbox(t, n, func(sink, reason string) { dead <- reason })
	if err := ob.Enqueue(group(base, fpsLow(base))); err != nil {
		t.Fatal(err)
	}
	var reason string
	select {
	case reason = <-dead:
	case <-time.After(10 * time.Second):
		t.Fatal("no dead letter within 10s")
	}
	assertClean(t, "dead letter reason", reason)
	letters, err := ob.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	if got := letters["hooks"]; len(got) != 1 || got[0].Reason != reason {
		t.Fatalf("dead letters = %+v, want the refused message", letters)
	}
	assertClean(t, "dead letter payload", string(letters["hooks"][0].Payload))
	if len(rc.requests()) != 1 {
		t.Errorf("%d requests, want 1: a refusal is not retried", len(rc.requests()))
	}
	assertLogsClean(t, logs)
}

// TestOutboxHonoursRetryAfter: a 503 and a 429 with Retry-After, then a
// 200, through the real outbox in a synctest bubble: no request before
// each wait is over, then delivery of the very same payload; the retries'
// log lines hold no secret.
func TestOutboxHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := testkit.BaseTime(t)
		rc := &receiver{respond: func(call int, w http.ResponseWriter, r *http.Request) {
			// Each refusal echoes the request, secrets and all.
			switch call {
			case 0:
				w.Header().Set("Retry-After", "20")
				echo(http.StatusServiceUnavailable)(call, w, r)
			case 1:
				w.Header().Set("Retry-After", "30")
				echo(http.StatusTooManyRequests)(call, w, r)
			}
		}}
		var times []time.Time
		var mu sync.Mutex
		stamp := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			rc.ServeHTTP(w, r)
		})
		n := newNotifier(t, secretURL("https://hooks.example.com"), Options{HTTPClient: handlerClient(stamp), Now: time.Now})
		ob, logs := runOutbox(t, n, nil)
		if err := ob.Enqueue(group(base, fpsLow(base))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()

		reqs := rc.requests()
		if len(reqs) != 3 {
			t.Fatalf("%d requests, want 3 (503, 429, 200)", len(reqs))
		}
		if g := times[1].Sub(times[0]); g != 20*time.Second {
			t.Errorf("second attempt %s after the 503, want its Retry-After 20s", g)
		}
		if g := times[2].Sub(times[1]); g != 30*time.Second {
			t.Errorf("third attempt %s after the 429, want its Retry-After 30s", g)
		}
		if string(reqs[2].Body) != string(reqs[0].Body) {
			t.Error("the retried payload differs from the first")
		}
		if p, err := ob.Pending(); err != nil || p["hooks"] != 0 {
			t.Errorf("Pending = %v, %v; want the message delivered", p, err)
		}
		if logs.FilterMessage("delivery failed; will retry").Len() == 0 {
			t.Error("the outbox logged no failed attempt: the logs prove nothing")
		}
		assertLogsClean(t, logs)
	})
}
