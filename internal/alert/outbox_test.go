package alert

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zapcore"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestOutboxDeliversEachSinkInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := newRecordingSink("a", nil), newRecordingSink("b", nil)
		var onDelivered atomic.Int32
		ob := newTestOutbox(t, openOutboxStore(t), OutboxOptions{
			Sinks:       []Notifier{a.notifier(), b.notifier()},
			OnDelivered: func(string, Message) { onDelivered.Add(1) },
		})
		want := msgIDs(20)
		ob.enqueue(t, want[:10]...) // before Run: they wait in the store
		ob.start(t)
		ob.enqueue(t, want[10:]...)
		synctest.Wait()

		for _, s := range []*recordingSink{a, b} {
			if got := s.delivered(); !slices.Equal(got, want) {
				t.Errorf("sink %s got %v, want %v in order", s.name, got, want)
			}
			if n := len(s.attempts()); n != 20 {
				t.Errorf("sink %s: %d attempts, want 20", s.name, n)
			}
			if got := testutil.ToFloat64(ob.metrics.notifications.WithLabelValues(s.name, resultDelivered)); got != 20 {
				t.Errorf("sink %s: delivered counter = %v, want 20", s.name, got)
			}
		}
		if p := ob.pending(t); p["a"] != 0 || p["b"] != 0 || len(p) != 2 {
			t.Errorf("Pending = %v, want a:0 b:0", p)
		}
		if n := onDelivered.Load(); n != 40 {
			t.Errorf("OnDelivered called %d times, want 40", n)
		}
	})
}

// TestOutboxHonoursRetryAfter is reliability scenario 3: after a 429 with
// Retry-After: 30 no request for 30 s, then delivery, nothing dropped, and
// never more than one request per second.
func TestOutboxHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slack := newRecordingSink("slack", func(_ context.Context, call int, _ Message) (bool, error) {
			if call == 0 {
				return true, &DeliveryError{Sink: "slack", Code: 429, Reason: "rate_limited", RetryAfter: 30 * time.Second}
			}
			return false, nil
		})
		ob := newTestOutbox(t, openOutboxStore(t), OutboxOptions{
			Sinks:       []Notifier{slack.notifier()},
			MinInterval: map[string]time.Duration{"slack": time.Second},
			// A backoff far below Retry-After: the sink's word must win.
			BackoffInitial: 100 * time.Millisecond,
		})
		ob.start(t)
		ob.enqueue(t, msgIDs(3)...)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := len(slack.attempts()); n != 1 {
			t.Fatalf("%d attempts in the first 10 s after a 429, want 1", n)
		}
		// notify test must not break the sink's Retry-After either.
		err := ob.SendTest(context.Background(), "slack", Message{Kind: KindTest})
		if err == nil || !strings.Contains(err.Error(), "Retry-After") {
			t.Errorf("SendTest during Retry-After = %v, want a Retry-After error", err)
		}

		time.Sleep(time.Minute)
		synctest.Wait()
		calls := slack.attempts()
		if got := slack.delivered(); !slices.Equal(got, msgIDs(3)) {
			t.Fatalf("delivered %v, want %v", got, msgIDs(3))
		}
		g := callGaps(calls)
		if g[0] < 30*time.Second || g[0] > 31*time.Second {
			t.Errorf("retry came %v after the 429, want 30 s (Retry-After)", g[0])
		}
		if m := slices.Min(g); m < time.Second {
			t.Errorf("min gap between requests = %v, want ≥ 1 s (gaps %v)", m, g)
		}
		if got := testutil.ToFloat64(ob.metrics.notifications.WithLabelValues("slack", resultRetried)); got != 1 {
			t.Errorf("retried counter = %v, want 1", got)
		}
	})
}

// TestOutboxRetryAfterSurvivesRestart: a 429 with Retry-After 30 s, then
// a restart 10 s later: the new outbox still waits until the sink allowed
// it (the deadline is kept in the store as a wall-clock instant).
func TestOutboxRetryAfterSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slack := newRecordingSink("slack", func(_ context.Context, call int, _ Message) (bool, error) {
			if call == 0 {
				return true, &DeliveryError{Sink: "slack", Code: 429, Reason: "rate_limited", RetryAfter: 30 * time.Second}
			}
			return false, nil
		})
		s := openOutboxStore(t)
		opts := OutboxOptions{Sinks: []Notifier{slack.notifier()}, BackoffInitial: 100 * time.Millisecond}
		first := newTestOutbox(t, s, opts)
		first.enqueue(t, "m00")
		stop := first.start(t)
		time.Sleep(10 * time.Second)
		stop()

		second := newTestOutbox(t, s, opts)
		second.start(t)
		time.Sleep(time.Minute)
		synctest.Wait()
		calls := slack.attempts()
		if got := slack.delivered(); !slices.Equal(got, []string{"m00"}) {
			t.Fatalf("delivered %v, want m00 once", got)
		}
		if g := calls[1].at.Sub(calls[0].at); g < 30*time.Second || g > 31*time.Second {
			t.Errorf("after a restart the retry came %v after the 429, want 30 s (Retry-After)", g)
		}
	})
}

// TestOutboxKeepsHeldMessagesThroughDamage: the state is damaged while
// the dispatcher retries two messages it read, with a third queued behind
// them, and the damage leaves nothing readable. The store's fresh state
// must still queue all three (the outbox holds them), so that a stop
// before the sink recovers does not lose them: the next run delivers each
// once. Found by make chaos, where a SIGKILL after such a damage lost a
// resolution.
func TestOutboxKeepsHeldMessagesThroughDamage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		recovery := time.Now().Add(5 * time.Minute)
		slack := sinkDownUntil("slack", recovery)
		s := openOutboxStore(t)
		opts := OutboxOptions{Sinks: []Notifier{slack.notifier()}}
		first := newTestOutbox(t, s, opts)
		first.enqueue(t, "m00", "m01")
		stop := first.start(t)
		time.Sleep(time.Minute)
		first.enqueue(t, "m02")
		testkit.CorruptFrom(t, filepath.Join(s.Dir(), "state.db"), 8192)
		if _, err := first.Pending(); !errors.Is(err, store.ErrDamaged) {
			t.Fatalf("Pending on the damaged state = %v, want ErrDamaged", err)
		}
		stop()
		if p := first.pending(t); p["slack"] != 3 {
			t.Fatalf("pending after the damage = %v, want the three held messages kept", p)
		}

		second := newTestOutbox(t, s, opts)
		second.start(t)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if got := slack.delivered(); !slices.Equal(got, []string{"m00", "m01", "m02"}) {
			t.Errorf("delivered %v, want m00, m01 and m02 once each, in order", got)
		}
	})
}

// TestOutboxSurvivesLongOutageAndRestart is reliability scenario 4: 20
// minutes of 5xx with a restart (a new Outbox on the same store) at minute
// 10: backoff capped at 60 s, attempts bounded, the message delivered
// exactly once within cap + 5 s of the recovery.
func TestOutboxSurvivesLongOutageAndRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		recovery := time.Now().Add(20 * time.Minute)
		slack := sinkDownUntil("slack", recovery)
		s := openOutboxStore(t)
		opts := OutboxOptions{Sinks: []Notifier{slack.notifier()}}

		first := newTestOutbox(t, s, opts)
		first.enqueue(t, "m00")
		stop := first.start(t)
		time.Sleep(10 * time.Minute)
		stop()
		if p := first.pending(t); p["slack"] != 1 {
			t.Fatalf("pending after the first run = %v, want the message kept", p)
		}
		beforeRestart := len(slack.attempts())

		second := newTestOutbox(t, s, opts)
		second.start(t)
		time.Sleep(15 * time.Minute)
		synctest.Wait()

		calls := slack.attempts()
		if got := slack.delivered(); !slices.Equal(got, []string{"m00"}) {
			t.Fatalf("delivered %v, want m00 exactly once", got)
		}
		if n := len(calls); n > 40 {
			t.Errorf("%d attempts during a 20-minute outage, want ≤ 40", n)
		}
		for i, g := range callGaps(calls) {
			if i+1 != beforeRestart && g > 60*time.Second { // the restart itself is no backoff
				t.Errorf("gap %d between attempts = %v, above the 60 s cap", i, g)
			}
		}
		if late := calls[len(calls)-1].at.Sub(recovery); late > 65*time.Second {
			t.Errorf("delivered %v after the recovery, want ≤ 65 s", late)
		}
		if p := second.pending(t); p["slack"] != 0 {
			t.Errorf("pending after delivery = %v", p)
		}
		t.Logf("%d attempts (%d before the restart), delivered %v after the recovery",
			len(calls), beforeRestart, calls[len(calls)-1].at.Sub(recovery))
	})
}

// TestOutboxDeadLettersPermanentErrors is reliability scenario 5: each
// permanent error is tried once, dead-lettered with its reason, reported
// to OnDeadLetter and counted, and the queue goes on with the next message.
func TestOutboxDeadLettersPermanentErrors(t *testing.T) {
	cases := []struct {
		name   string
		code   int
		reason string
	}{
		{"webhook token revoked", 403, "invalid_token"},
		{"webhook channel gone", 404, "channel_not_found"},
		{"webhook removed", 404, "no_service"},
		{"channel archived", 410, "channel_is_archived"},
		{"bad payload", 400, "invalid_payload"},
		{"bot not in channel", 200, "not_in_channel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				slack := newRecordingSink("slack", func(_ context.Context, _ int, m Message) (bool, error) {
					if m.ID == "m00" {
						return permanentErr("slack", tc.code, tc.reason)
					}
					return false, nil
				})
				type deadLetter struct{ sink, reason string }
				var dead []deadLetter
				ob := newTestOutbox(t, openOutboxStore(t), OutboxOptions{
					Sinks:        []Notifier{slack.notifier()},
					OnDeadLetter: func(sink, reason string) { dead = append(dead, deadLetter{sink, reason}) },
				})
				ob.enqueue(t, "m00", "m01")
				ob.start(t)
				synctest.Wait()

				calls := slack.attempts()
				if len(calls) != 2 || calls[0].id != "m00" || calls[1].id != "m01" || !calls[1].ok {
					t.Fatalf("attempts = %+v, want m00 once (refused) then m01 delivered", calls)
				}
				if len(dead) != 1 || dead[0].sink != "slack" || !strings.Contains(dead[0].reason, tc.reason) {
					t.Errorf("OnDeadLetter calls = %+v, want one for slack naming %s", dead, tc.reason)
				}
				dl, err := ob.DeadLetters()
				if err != nil {
					t.Fatal(err)
				}
				if len(dl["slack"]) != 1 || !strings.Contains(dl["slack"][0].Reason, tc.reason) {
					t.Fatalf("dead letters = %+v, want m00 with reason %s", dl, tc.reason)
				}
				if m, err := DecodeOutboxMessage(dl["slack"][0].Payload); err != nil || m.ID != "m00" {
					t.Errorf("dead letter payload = %+v, %v; want message m00", m, err)
				}
				for result, want := range map[string]float64{resultFailed: 1, resultRetried: 0, resultDelivered: 1} {
					if got := testutil.ToFloat64(ob.metrics.notifications.WithLabelValues("slack", result)); got != want {
						t.Errorf("notifications_total{result=%q} = %v, want %v", result, got, want)
					}
				}
				if n := ob.countLogs(zapcore.ErrorLevel, "refused a message for good"); n != 1 {
					t.Errorf("%d error logs for the dead letter, want 1", n)
				}
			})
		})
	}
}

// TestOutboxMinIntervalUnderBurst: 10 messages at once reach a sink with
// MinInterval 1 s at least 1 s apart; a sink without one gets them at once.
func TestOutboxMinIntervalUnderBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slack, am := newRecordingSink("slack", nil), newRecordingSink("am", nil)
		ob := newTestOutbox(t, openOutboxStore(t), OutboxOptions{
			Sinks:       []Notifier{slack.notifier(), am.notifier()},
			MinInterval: map[string]time.Duration{"slack": time.Second},
		})
		ob.start(t)
		start := time.Now()
		ob.enqueue(t, msgIDs(10)...)
		synctest.Wait()
		if got := am.delivered(); len(got) != 10 {
			t.Fatalf("am got %d messages at once, want 10", len(got))
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		calls := slack.attempts()
		if got := slack.delivered(); !slices.Equal(got, msgIDs(10)) {
			t.Fatalf("slack got %v", got)
		}
		for i, g := range callGaps(calls) {
			if g < time.Second {
				t.Errorf("gap %d = %v, want ≥ 1 s", i, g)
			}
		}
		if took := calls[9].at.Sub(start); took > 10*time.Second {
			t.Errorf("10 messages took %v at 1/s, want about 9 s", took)
		}
	})
}

// TestOutboxEnqueueWritesEverySinkAtOnce: one Enqueue puts the same
// message, with its ID and creation time filled, in every sink's queue
// (one store transaction: store.TestOutboxAppendAllSIGKILL proves that a
// kill cannot split it).
func TestOutboxEnqueueWritesEverySinkAtOnce(t *testing.T) {
	s := openOutboxStore(t)
	now := testkit.BaseTime(t)
	sinks := []Notifier{newRecordingSink("oncall", nil).notifier(), newRecordingSink("bot", nil).notifier(), newRecordingSink("am", nil).notifier()}
	ob := newTestOutbox(t, s, OutboxOptions{Sinks: sinks, Now: func() time.Time { return now }})
	if err := ob.Enqueue(Message{Kind: KindText, Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	if p := ob.pending(t); p["oncall"] != 1 || p["bot"] != 1 || p["am"] != 1 {
		t.Fatalf("Pending = %v, want 1 per sink", p)
	}
	var first Message
	for i, name := range []string{"oncall", "bot", "am"} {
		es, err := s.OutboxPeek(name, 0)
		if err != nil || len(es) != 1 {
			t.Fatalf("%s queue = %v, %v", name, es, err)
		}
		m, err := DecodeOutboxMessage(es[0].Payload)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = m
		}
		if m.ID == "" || m.ID != first.ID || !m.CreatedAt.Equal(now) || m.Text != "hello" {
			t.Errorf("%s holds %+v, want the same message with an ID and CreatedAt %v", name, m, now)
		}
	}
}

// TestOutboxSlowSinkDoesNotBlockOthers: a sink whose attempts hang does
// not delay the other sinks.
func TestOutboxSlowSinkDoesNotBlockOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		slow := newRecordingSink("slow", func(ctx context.Context, _ int, _ Message) (bool, error) {
			select {
			case <-release:
				return false, nil
			case <-ctx.Done():
				return true, ctx.Err()
			}
		})
		fast := newRecordingSink("fast", nil)
		ob := newTestOutbox(t, openOutboxStore(t), OutboxOptions{Sinks: []Notifier{slow.notifier(), fast.notifier()}})
		ob.start(t)
		ob.enqueue(t, msgIDs(5)...)
		synctest.Wait()
		if got := fast.delivered(); !slices.Equal(got, msgIDs(5)) {
			t.Errorf("fast sink got %v while the slow one hangs, want all 5", got)
		}
		if n := len(slow.attempts()); n != 1 {
			t.Errorf("slow sink: %d attempts, want 1 in flight", n)
		}
		close(release)
		synctest.Wait()
		if got := slow.delivered(); !slices.Equal(got, msgIDs(5)) {
			t.Errorf("slow sink got %v after release, want all 5", got)
		}
	})
}

// TestOutboxStopsPromptly is reliability scenario 17 for the outbox: on
// ctx done, Run returns at once from a backoff wait and after at most
// StopGrace from an attempt in flight; an attempt that finishes within the
// grace is acked; an unfinished message stays queued for the next Run.
func TestOutboxStopsPromptly(t *testing.T) {
	cases := []struct {
		name        string
		respond     func(ctx context.Context, call int, m Message) (bool, error)
		wantStop    time.Duration
		wantPending int
	}{
		{
			name:        "during backoff",
			respond:     func(context.Context, int, Message) (bool, error) { return transientErr("slack", 502) },
			wantStop:    0,
			wantPending: 1,
		},
		{
			name: "attempt hangs past the grace",
			respond: func(ctx context.Context, _ int, _ Message) (bool, error) {
				<-ctx.Done()
				return true, ctx.Err()
			},
			wantStop:    config.OutboxStopGrace,
			wantPending: 1,
		},
		{
			name: "attempt finishes within the grace",
			respond: func(ctx context.Context, _ int, _ Message) (bool, error) {
				time.Sleep(2 * time.Second)
				return false, nil
			},
			wantStop:    2*time.Second - 500*time.Millisecond,
			wantPending: 0,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				slack := newRecordingSink("slack", tc.respond)
				s := openOutboxStore(t)
				ob := newTestOutbox(t, s, OutboxOptions{Sinks: []Notifier{slack.notifier()}})
				ob.enqueue(t, "m00")
				stop := ob.start(t)
				time.Sleep(500 * time.Millisecond)
				if took := stop(); took != tc.wantStop {
					t.Errorf("Run returned %v after cancel, want %v", took, tc.wantStop)
				}
				if p := ob.pending(t); p["slack"] != tc.wantPending {
					t.Errorf("pending after stop = %v, want %d", p, tc.wantPending)
				}
				if got := testutil.ToFloat64(ob.metrics.notifications.WithLabelValues("slack", resultFailed)); got != 0 {
					t.Errorf("a stop dead-lettered the message")
				}
				if tc.wantPending == 0 {
					return
				}
				// The next run delivers what was left.
				ok := newRecordingSink("slack", nil)
				next := newTestOutbox(t, s, OutboxOptions{Sinks: []Notifier{ok.notifier()}})
				next.start(t)
				synctest.Wait()
				if got := ok.delivered(); !slices.Equal(got, []string{"m00"}) {
					t.Errorf("next run delivered %v, want m00", got)
				}
			})
		})
	}
}

// TestOutboxLogsEachDistinctFailureOnce: an error repeated on every retry
// is logged at warn once, a new error text again, and the recovery once.
func TestOutboxLogsEachDistinctFailureOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slack := newRecordingSink("slack", func(_ context.Context, call int, _ Message) (bool, error) {
			switch {
			case call < 5:
				return transientErr("slack", 503)
			case call < 8:
				return true, &DeliveryError{Sink: "slack", Reason: "connection reset by peer"}
			}
			return false, nil
		})
		ob := newTestOutbox(t, openOutboxStore(t), OutboxOptions{Sinks: []Notifier{slack.notifier()}})
		ob.enqueue(t, "m00")
		ob.start(t)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if got := slack.delivered(); !slices.Equal(got, []string{"m00"}) {
			t.Fatalf("delivered %v", got)
		}
		if n := ob.countLogs(zapcore.WarnLevel, "delivery failed"); n != 2 {
			t.Errorf("%d warnings for 8 failures with 2 distinct errors, want 2", n)
		}
		if n := ob.countLogs(zapcore.InfoLevel, "delivered again"); n != 1 {
			t.Errorf("%d recovery logs, want 1", n)
		}
	})
}

func TestOutboxSendTest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slack := newRecordingSink("slack", nil)
		refusing := newRecordingSink("refusing", func(_ context.Context, _ int, m Message) (bool, error) {
			if m.Kind == KindTest {
				return permanentErr("refusing", 404, "channel_not_found")
			}
			return false, nil
		})
		ob := newTestOutbox(t, openOutboxStore(t), OutboxOptions{
			Sinks:       []Notifier{slack.notifier(), refusing.notifier()},
			MinInterval: map[string]time.Duration{"slack": time.Second},
		})
		ob.start(t)
		ob.enqueue(t, "m00")
		synctest.Wait()

		// Right after a queued send: waits for the sink's MinInterval.
		if err := ob.SendTest(context.Background(), "slack", Message{Kind: KindTest, Title: "test"}); err != nil {
			t.Errorf("SendTest(slack) = %v, want delivered", err)
		}
		calls := slack.attempts()
		if len(calls) != 2 || calls[1].at.Sub(calls[0].at) < time.Second {
			t.Errorf("calls = %+v, want the test 1 s after the queued message", calls)
		}
		err := ob.SendTest(context.Background(), "refusing", Message{Kind: KindTest})
		var de *DeliveryError
		if !errors.As(err, &de) || de.Reason != "channel_not_found" || de.Code != 404 {
			t.Errorf("SendTest(refusing) = %v, want the sink's DeliveryError (404 channel_not_found)", err)
		}
		if err := ob.SendTest(context.Background(), "nope", Message{}); err == nil || !strings.Contains(err.Error(), `no sink named "nope" (configured: slack, refusing)`) {
			t.Errorf("SendTest(nope) = %v, want an error naming the configured sinks", err)
		}
		// A test is not a notification: nothing queued, dead-lettered or counted.
		synctest.Wait()
		if p := ob.pending(t); p["slack"] != 0 || p["refusing"] != 0 {
			t.Errorf("Pending = %v", p)
		}
		if dl, _ := ob.DeadLetters(); len(dl["refusing"]) != 0 {
			t.Errorf("dead letters = %v, want none from a test", dl)
		}
		if got := testutil.ToFloat64(ob.metrics.notifications.WithLabelValues("refusing", resultFailed)); got != 0 {
			t.Errorf("failed counter = %v after a test, want 0", got)
		}
	})
}

// TestOutboxUpdateSinks: a reload swaps a kept sink's notifier (its queue
// kept), stops a removed sink and turns its undelivered messages into dead
// letters with ReasonSinkRemoved, without OnDeadLetter (not a delivery
// failure); a sink of that name configured again starts empty.
func TestOutboxUpdateSinks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		oldA := newRecordingSink("a", nil)
		down := newRecordingSink("b", func(context.Context, int, Message) (bool, error) { return transientErr("b", 503) })
		var failures []string
		ob := newTestOutbox(t, openOutboxStore(t), OutboxOptions{
			Sinks:        []Notifier{oldA.notifier(), down.notifier()},
			OnDeadLetter: func(sink, reason string) { failures = append(failures, sink+": "+reason) },
		})
		ob.start(t)
		ob.enqueue(t, "m00")
		synctest.Wait()

		newA := newRecordingSink("a", nil)
		if err := ob.UpdateSinks([]Notifier{newA.notifier()}, nil); err != nil {
			t.Fatal(err)
		}
		ob.enqueue(t, "m01")
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := newA.delivered(); !slices.Equal(got, []string{"m01"}) {
			t.Errorf("reloaded sink a got %v, want m01", got)
		}
		if got := oldA.delivered(); !slices.Equal(got, []string{"m00"}) {
			t.Errorf("old notifier of a got %v, want only m00", got)
		}
		attemptsB := len(down.attempts())
		if p := ob.pending(t); p["b"] != 0 || p["a"] != 0 {
			t.Errorf("Pending = %v, want nothing queued (b's message dead-lettered)", p)
		}
		dl, err := ob.DeadLetters()
		if err != nil {
			t.Fatal(err)
		}
		if len(dl["b"]) != 1 || dl["b"][0].Reason != ReasonSinkRemoved {
			t.Errorf("dead letters of the removed sink b = %+v, want m00 with reason %q", dl["b"], ReasonSinkRemoved)
		}
		if len(failures) != 0 {
			t.Errorf("OnDeadLetter called for a removed sink: %v", failures)
		}
		if n := ob.countLogs(zapcore.WarnLevel, "sink removed"); n != 1 {
			t.Errorf("%d warnings about the removed sink, want 1", n)
		}

		upB := newRecordingSink("b", nil)
		if err := ob.UpdateSinks([]Notifier{newA.notifier(), upB.notifier()}, nil); err != nil {
			t.Fatal(err)
		}
		ob.enqueue(t, "m02")
		synctest.Wait()
		if got := upB.delivered(); !slices.Equal(got, []string{"m02"}) {
			t.Errorf("re-added sink b got %v, want only m02 (m00 is a dead letter)", got)
		}
		if n := len(down.attempts()); n != attemptsB {
			t.Errorf("the removed sink's notifier was called %d more times", n-attemptsB)
		}
		if err := ob.UpdateSinks([]Notifier{newA.notifier(), newA.notifier()}, nil); err == nil {
			t.Error("UpdateSinks with a name twice succeeded")
		}
	})
}

func TestOutboxDeadLettersUndecodablePayload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openOutboxStore(t)
		if _, err := s.OutboxAppend("slack", []byte("not json")); err != nil {
			t.Fatal(err)
		}
		slack := newRecordingSink("slack", nil)
		ob := newTestOutbox(t, s, OutboxOptions{Sinks: []Notifier{slack.notifier()}})
		ob.enqueue(t, "m00")
		ob.start(t)
		synctest.Wait()
		if got := slack.delivered(); !slices.Equal(got, []string{"m00"}) {
			t.Errorf("delivered %v, want m00 after the bad entry", got)
		}
		dl, err := s.DeadLetters("slack")
		if err != nil || len(dl) != 1 || !strings.Contains(dl[0].Reason, "not a message") {
			t.Errorf("dead letters = %+v, %v; want the undecodable entry", dl, err)
		}
	})
}

func TestOutboxBackoffIsCappedAndJittered(t *testing.T) {
	ob := newTestOutbox(t, openOutboxStore(t), OutboxOptions{})
	for failures := 1; failures <= 12; failures++ {
		full := min(time.Second<<(failures-1), time.Minute)
		for range 50 {
			d := ob.backoff(failures)
			if d > full || d < full-full/5 {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", failures, d, full-full/5, full)
			}
		}
	}
	steady := newTestOutbox(t, openOutboxStore(t), OutboxOptions{BackoffInitial: 3 * time.Second, BackoffMax: 10 * time.Second})
	steady.opts.Jitter = 0 // none (newTestOutbox reads a zero as the config's)
	if got := []time.Duration{steady.backoff(1), steady.backoff(2), steady.backoff(3), steady.backoff(40)}; !slices.Equal(got,
		[]time.Duration{3 * time.Second, 6 * time.Second, 10 * time.Second, 10 * time.Second}) {
		t.Errorf("backoff without jitter = %v", got)
	}
}

func TestNewOutboxRefusesBadOptions(t *testing.T) {
	s := openOutboxStore(t)
	sink := func(name string) Notifier { return newRecordingSink(name, nil).notifier() }
	cases := []struct {
		name string
		opts OutboxOptions
		want string
	}{
		{"no store", testOutboxOptions(OutboxOptions{}), "Store: nil"},
		{"nil sink", testOutboxOptions(OutboxOptions{Store: s, Sinks: []Notifier{nil}}), "sinks[0] is nil"},
		{"empty name", testOutboxOptions(OutboxOptions{Store: s, Sinks: []Notifier{sink("")}}), "sinks[0] has an empty name"},
		{"name twice", testOutboxOptions(OutboxOptions{Store: s, Sinks: []Notifier{sink("a"), sink("a")}}), `sinks[1]: name "a" is used twice`},
		{"jitter above 1", testOutboxOptions(OutboxOptions{Store: s, Jitter: 1.5}), "Jitter: must be from 0 (none) to 1, got 1.5"},
		{"negative jitter", testOutboxOptions(OutboxOptions{Store: s, Jitter: -0.1}), "Jitter: must be from 0 (none) to 1, got -0.1"},
		{"zero tunables: none is defaulted here", OutboxOptions{Store: s},
			"BackoffInitial: must be positive, got 0s: build the options with OutboxOptionsFrom"},
		{"cap below initial", testOutboxOptions(OutboxOptions{Store: s, BackoffInitial: time.Minute, BackoffMax: time.Second}), "BackoffMax: must be at least BackoffInitial"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewOutbox(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewOutbox = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	t.Run("Run twice", func(t *testing.T) {
		ob := newTestOutbox(t, s, OutboxOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := ob.Run(ctx); err != nil {
			t.Fatalf("first Run = %v", err)
		}
		if err := ob.Run(ctx); err == nil || !strings.Contains(err.Error(), "Run called twice") {
			t.Errorf("second Run = %v, want an error", err)
		}
	})
}

func TestOutboxMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		created := time.Now()
		slack := newRecordingSink("slack", func(context.Context, int, Message) (bool, error) {
			time.Sleep(1500 * time.Millisecond) // the latency to observe
			return false, nil
		})
		down := newRecordingSink("am", func(context.Context, int, Message) (bool, error) { return transientErr("am", 503) })
		ob := newTestOutbox(t, openOutboxStore(t), OutboxOptions{Sinks: []Notifier{slack.notifier(), down.notifier()}})

		// Before anything happened: counters at 0, queues by sink.
		if err := testutil.GatherAndCompare(ob.reg, strings.NewReader(`
# HELP spacetime_watch_notifications_total Delivery attempts of notifications by sink and result: delivered, retried (failed, will be tried again) or failed (refused for good, dead-lettered).
# TYPE spacetime_watch_notifications_total counter
spacetime_watch_notifications_total{result="delivered",sink="am"} 0
spacetime_watch_notifications_total{result="delivered",sink="slack"} 0
spacetime_watch_notifications_total{result="failed",sink="am"} 0
spacetime_watch_notifications_total{result="failed",sink="slack"} 0
spacetime_watch_notifications_total{result="retried",sink="am"} 0
spacetime_watch_notifications_total{result="retried",sink="slack"} 0
# HELP spacetime_watch_outbox_dead_letters Notifications in the sink's dead-letter list (the newest 1000 are kept): see spacetime-watch outbox list.
# TYPE spacetime_watch_outbox_dead_letters gauge
spacetime_watch_outbox_dead_letters{sink="am"} 0
spacetime_watch_outbox_dead_letters{sink="slack"} 0
# HELP spacetime_watch_outbox_pending Notifications waiting in the sink's outbox queue.
# TYPE spacetime_watch_outbox_pending gauge
spacetime_watch_outbox_pending{sink="am"} 0
spacetime_watch_outbox_pending{sink="slack"} 0
`), "spacetime_watch_notifications_total", "spacetime_watch_outbox_dead_letters", "spacetime_watch_outbox_pending"); err != nil {
			t.Error(err)
		}
		// The latency histogram exists per sink from the start, empty, so
		// that rate() sees the first notification.
		if n, err := testutil.GatherAndCount(ob.reg, "spacetime_watch_notification_latency_seconds"); err != nil || n != 2 {
			t.Errorf("latency histograms at start = %d (%v), want one per sink", n, err)
		}

		if err := ob.Enqueue(Message{ID: "m00", CreatedAt: created.Add(-2 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		ob.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if err := testutil.GatherAndCompare(ob.reg, strings.NewReader(`
# HELP spacetime_watch_outbox_pending Notifications waiting in the sink's outbox queue.
# TYPE spacetime_watch_outbox_pending gauge
spacetime_watch_outbox_pending{sink="am"} 1
spacetime_watch_outbox_pending{sink="slack"} 0
# HELP spacetime_watch_sink_healthy 1 if the sink's last delivery attempt succeeded, 0 if it failed; absent until the first attempt.
# TYPE spacetime_watch_sink_healthy gauge
spacetime_watch_sink_healthy{sink="am"} 0
spacetime_watch_sink_healthy{sink="slack"} 1
`), "spacetime_watch_outbox_pending", "spacetime_watch_sink_healthy"); err != nil {
			t.Error(err)
		}
		// Latency: from CreatedAt (2 s before the enqueue) to the confirmation 1.5 s later.
		if n := testutil.CollectAndCount(ob.metrics.latency, "spacetime_watch_notification_latency_seconds"); n != 2 {
			t.Errorf("%d latency series, want 2 (one per sink)", n)
		}
		if err := testutil.CollectAndCompare(ob.metrics.latency, strings.NewReader(latencyWant)); err != nil {
			t.Error(err)
		}
		if retried := testutil.ToFloat64(ob.metrics.notifications.WithLabelValues("am", resultRetried)); retried < 3 {
			t.Errorf("am retried = %v after 10 s of 503, want several", retried)
		}
		problems, err := testutil.GatherAndLint(ob.reg)
		if err != nil || len(problems) != 0 {
			t.Errorf("lint: %v, %+v", err, problems)
		}
	})
}

const latencyWant = `
# HELP spacetime_watch_notification_latency_seconds Time from a notification's creation to the sink's confirmation, retries and restarts included.
# TYPE spacetime_watch_notification_latency_seconds histogram
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="0.01"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="0.05"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="0.1"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="0.25"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="0.5"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="1"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="2.5"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="5"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="10"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="30"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="60"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="120"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="300"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="900"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="3600"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="am",le="+Inf"} 0
spacetime_watch_notification_latency_seconds_sum{sink="am"} 0
spacetime_watch_notification_latency_seconds_count{sink="am"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="0.01"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="0.05"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="0.1"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="0.25"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="0.5"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="1"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="2.5"} 0
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="5"} 1
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="10"} 1
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="30"} 1
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="60"} 1
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="120"} 1
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="300"} 1
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="900"} 1
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="3600"} 1
spacetime_watch_notification_latency_seconds_bucket{sink="slack",le="+Inf"} 1
spacetime_watch_notification_latency_seconds_sum{sink="slack"} 3.5
spacetime_watch_notification_latency_seconds_count{sink="slack"} 1
`

// The payload is the Message's JSON, which `outbox list` decodes.
func TestOutboxPayloadIsTheMessageJSON(t *testing.T) {
	s := openOutboxStore(t)
	ob := newTestOutbox(t, s, OutboxOptions{Sinks: []Notifier{newRecordingSink("slack", nil).notifier()}})
	m := Message{ID: "m00", Kind: KindAlerts, GroupKey: `{target="main"}`, CreatedAt: testkit.BaseTime(t),
		Alerts: []Alert{{Fingerprint: "f", Target: "main", Name: "fps_low", Severity: SeverityCritical, State: StateFiring}}}
	if err := ob.Enqueue(m); err != nil {
		t.Fatal(err)
	}
	es, err := s.OutboxPeek("slack", 0)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(m)
	if len(es) != 1 || string(es[0].Payload) != string(want) {
		t.Errorf("payload = %s, want %s", es[0].Payload, want)
	}
}

// TestOutboxRetriesTimeouts: an attempt that ran out of AttemptTimeout is
// retried even when the sink called it permanent: a timeout says nothing
// about the message.
func TestOutboxRetriesTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slack := newRecordingSink("slack", func(ctx context.Context, call int, _ Message) (bool, error) {
			if call == 0 {
				<-ctx.Done()
				return false, &DeliveryError{Sink: "slack", Reason: "request timed out", Err: ctx.Err()}
			}
			return false, nil
		})
		ob := newTestOutbox(t, openOutboxStore(t), OutboxOptions{Sinks: []Notifier{slack.notifier()}, AttemptTimeout: 3 * time.Second})
		ob.enqueue(t, "m00")
		ob.start(t)
		time.Sleep(time.Minute)
		synctest.Wait()
		calls := slack.attempts()
		if got := slack.delivered(); len(calls) != 2 || !slices.Equal(got, []string{"m00"}) {
			t.Fatalf("attempts %+v, want a timeout then m00 delivered", calls)
		}
		if g := calls[1].at.Sub(calls[0].at); g < 3*time.Second || g > 4*time.Second {
			t.Errorf("retry %v after the first attempt began, want AttemptTimeout (3 s) + backoff (≤ 1 s)", g)
		}
		if dl, _ := ob.DeadLetters(); len(dl["slack"]) != 0 {
			t.Errorf("dead letters = %v, want none", dl)
		}
	})
}
