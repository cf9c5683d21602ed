package alert

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/failpoint"
	"github.com/spacetime-vr/spacetime-watch/internal/health"
	"github.com/spacetime-vr/spacetime-watch/internal/secret"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// The cut points of the send path. A build with the failpoints tag kills
// itself at the one named by SPACETIME_WATCH_FAILPOINT (package
// failpoint); the crash test proves that no cut loses a message and that
// only after-confirm can duplicate one.
var (
	// fpAfterEnqueue: the alert manager queued a notification and has not
	// yet gone on to its next step (manager_run.go).
	fpAfterEnqueue = failpoint.Declare("after-enqueue")
	// fpBeforeSend: the message is in the store, the sink has not seen it.
	fpBeforeSend = failpoint.Declare("before-send")
	// fpAfterConfirm: the sink confirmed it, the store still holds it.
	fpAfterConfirm = failpoint.Declare("after-confirm")
	// fpAfterCommit: the store no longer holds it.
	fpAfterCommit = failpoint.Declare("after-commit")
	// fpWedgeDispatcher wedges a dispatcher before it tries a message (the
	// liveness tests): the message is in the store, the sink has not seen it.
	fpWedgeDispatcher = failpoint.Declare("wedge-outbox")
)

// peekBatch is how many messages a dispatcher reads from its queue at once.
const peekBatch = 32

// sinkQueue is a configured sink: its queue's wake-up and its pacing.
type sinkQueue struct {
	name string
	wake chan struct{} // a token means "the queue may have grown"
	pace *sinkPacer

	// The running dispatcher; guarded by Outbox.mu.
	cancel context.CancelFunc
	done   chan struct{}
}

func newSinkQueue(n Notifier, interval time.Duration) *sinkQueue {
	return &sinkQueue{name: n.Name(), wake: make(chan struct{}, 1), pace: newSinkPacer(n, interval)}
}

// wakeUp tells the dispatcher to look at the queue; it never blocks, and a
// token already there is enough.
func (q *sinkQueue) wakeUp() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// dispatcher delivers one sink's queue; it lives on that sink's goroutine.
type dispatcher struct {
	o   *Outbox
	q   *sinkQueue
	log *zap.Logger
	// hl reports the dispatcher's progress to the health registry.
	hl *health.Loop
	// lastErr is the text of the last attempt failure logged, so that a
	// failure repeated every minute for an hour is logged once.
	lastErr string
}

// dispatch delivers q's queue in order until ctx ends: a message is retried
// until it is delivered or dead-lettered before the next one is tried.
func (o *Outbox) dispatch(ctx context.Context, q *sinkQueue) {
	d := &dispatcher{o: o, q: q, log: o.log.With(zap.String("sink", q.name)), hl: o.opts.Health.Register("outbox/" + q.name)}
	defer d.hl.Unregister()
	defer o.held.drop(q.name)
	for failures := 0; ctx.Err() == nil; {
		d.hl.Busy()
		batch, err := o.store.OutboxPeek(q.name, peekBatch)
		if err != nil {
			failures++
			d.logFailure("cannot read the sink's queue", err)
			if !d.sleep(ctx, o.backoff(failures)) {
				return
			}
			continue
		}
		failures = 0
		o.held.hold(q.name, batch)
		if len(batch) == 0 {
			d.hl.Idle()
			select {
			case <-q.wake:
			case <-ctx.Done():
				return
			}
			continue
		}
		for _, e := range batch {
			if !d.deliver(ctx, e) {
				return
			}
		}
	}
}

// deliver tries e until it is delivered or dead-lettered; it reports false
// when ctx ended first, leaving e in the queue.
func (d *dispatcher) deliver(ctx context.Context, e store.OutboxEntry) bool {
	m, err := DecodeOutboxMessage(e.Payload)
	if err != nil {
		return d.deadLetter(ctx, e.Seq, m, err.Error())
	}
	for failures := 0; ; {
		failpoint.Wedge(fpWedgeDispatcher)
		// The turn is held by at most one test message, bounded by the
		// attempt timeout; the pacing's own wait is declared inside.
		d.hl.For(d.o.opts.AttemptTimeout)
		n, err := d.q.pace.acquire(ctx, d.hl)
		if err != nil {
			return false
		}
		d.hl.For(d.o.opts.AttemptTimeout)
		retry, err := d.attempt(ctx, n, m)
		d.hl.Busy()
		retryAfter := min(RetryAfter(err), maxRetryAfter)
		d.q.pace.release(retryAfter)
		switch {
		case err == nil:
			// Confirmed: from here a restart may send it again, as
			// after-confirm allows, but damage must not bring it back.
			d.o.settle(d.q.name, e.Seq)
			return d.delivered(ctx, e.Seq, m, failures)
		case ctx.Err() != nil && isContextError(err):
			d.log.Debug("attempt cut short by shutdown; the message stays queued",
				zap.String("message_id", m.ID), zap.Error(err))
			return false
		case !retry && !isContextError(err):
			return d.deadLetter(ctx, e.Seq, m, err.Error())
		}
		failures++
		d.o.metrics.attemptFailed(d.q.name)
		wait := max(d.o.backoff(failures), retryAfter)
		d.logFailure("delivery failed; will retry", err,
			zap.String("message_id", m.ID), zap.Int("attempt", failures), zap.Duration("retry_in", wait))
		if !d.sleep(ctx, wait) {
			return false
		}
	}
}

// sleep waits d, declared to the health registry as a wait; it reports
// false when ctx ended first.
func (d *dispatcher) sleep(ctx context.Context, wait time.Duration) bool {
	d.hl.For(wait)
	defer d.hl.Busy()
	return clock.Sleep(ctx, wait)
}

// attempt makes one delivery. Its context outlives ctx by at most
// StopGrace: an attempt cut mid-request may have reached the sink, and
// would then be sent again after the restart.
func (d *dispatcher) attempt(ctx context.Context, n Notifier, m Message) (retry bool, err error) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.o.opts.AttemptTimeout)
	defer cancel()
	var (
		mu       sync.Mutex
		finished bool
		grace    *time.Timer
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !finished {
			grace = time.AfterFunc(d.o.opts.StopGrace, cancel)
		}
	})
	defer func() {
		stop()
		mu.Lock()
		defer mu.Unlock()
		finished = true
		if grace != nil {
			grace.Stop()
		}
	}()

	failpoint.Kill(fpBeforeSend)
	return n.Notify(actx, m)
}

// delivered removes a confirmed message from the queue. A failed commit is
// retried: sending the message again would duplicate it. If ctx ends
// first, the message stays and is sent again after the restart.
func (d *dispatcher) delivered(ctx context.Context, seq uint64, m Message, failures int) bool {
	failpoint.Kill(fpAfterConfirm)
	for tries := 1; ; tries++ {
		err := d.o.store.OutboxAck(d.q.name, seq)
		if err == nil {
			break
		}
		d.logFailure("delivered, but cannot remove the message from the queue", err, zap.String("message_id", m.ID))
		if !d.sleep(ctx, d.o.backoff(tries)) {
			return false
		}
	}
	failpoint.Kill(fpAfterCommit)
	d.o.metrics.delivered(d.q.name, d.o.opts.Now().Sub(m.CreatedAt))
	if d.lastErr != "" {
		d.log.Info("delivered again", zap.String("message_id", m.ID), zap.Int("failed_attempts", failures))
		d.lastErr = ""
	}
	if d.o.opts.OnDelivered != nil {
		d.o.opts.OnDelivered(d.q.name, m)
	}
	return true
}

// deadLetter moves a message the sink refused for good to its dead letters.
// The reason is kept, shown and passed on: it goes through the redactor.
func (d *dispatcher) deadLetter(ctx context.Context, seq uint64, m Message, reason string) bool {
	d.o.settle(d.q.name, seq)
	reason = secret.Clean(reason)
	for tries := 1; ; tries++ {
		err := d.o.store.OutboxDeadLetter(d.q.name, seq, reason)
		if err == nil || errors.Is(err, store.ErrNotFound) {
			break
		}
		d.logFailure("cannot move a refused message to the dead letters", err, zap.String("message_id", m.ID))
		if !d.sleep(ctx, d.o.backoff(tries)) {
			return false
		}
	}
	d.o.metrics.deadLettered(d.q.name)
	d.log.Error("the sink refused a message for good: moved to the dead letters (spacetime-watch outbox list)",
		zap.String("message_id", m.ID), zap.Uint64("seq", seq), zap.String("reason", reason))
	d.lastErr = ""
	if d.o.opts.OnDeadLetter != nil {
		d.o.opts.OnDeadLetter(d.q.name, reason)
	}
	return true
}

// logFailure logs a failure at warn when its text differs from the last
// one logged, at debug otherwise.
func (d *dispatcher) logFailure(msg string, err error, fields ...zap.Field) {
	level := zap.WarnLevel
	if text := err.Error(); text == d.lastErr {
		level = zap.DebugLevel
	} else {
		d.lastErr = text
	}
	d.log.Log(level, msg, append(fields, zap.Error(err))...)
}

// isContextError reports whether err is a cancellation or a timeout: never
// a reason to give up on a message, whatever the sink made of it.
func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
