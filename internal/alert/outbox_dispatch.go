package alert

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/secret"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// The three cut points of the send path. A build with the failpoints tag
// kills itself at the one named by SPACETIME_WATCH_FAILPOINT (failpoint.go);
// the crash test proves that no cut loses a message and that only
// after-confirm can duplicate one.
const (
	// fpBeforeSend: the message is in the store, the sink has not seen it.
	fpBeforeSend = "before-send"
	// fpAfterConfirm: the sink confirmed it, the store still holds it.
	fpAfterConfirm = "after-confirm"
	// fpAfterCommit: the store no longer holds it.
	fpAfterCommit = "after-commit"
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
	// lastErr is the text of the last attempt failure logged, so that a
	// failure repeated every minute for an hour is logged once.
	lastErr string
}

// dispatch delivers q's queue in order until ctx ends: a message is retried
// until it is delivered or dead-lettered before the next one is tried.
func (o *Outbox) dispatch(ctx context.Context, q *sinkQueue) {
	d := &dispatcher{o: o, q: q, log: o.log.With(zap.String("sink", q.name))}
	for failures := 0; ctx.Err() == nil; {
		batch, err := o.store.OutboxPeek(q.name, peekBatch)
		if err != nil {
			failures++
			d.logFailure("cannot read the sink's queue", err)
			if !outboxSleep(ctx, o.backoff(failures)) {
				return
			}
			continue
		}
		failures = 0
		if len(batch) == 0 {
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
		n, err := d.q.pace.acquire(ctx)
		if err != nil {
			return false
		}
		retry, err := d.attempt(ctx, n, m)
		retryAfter := min(RetryAfter(err), maxRetryAfter)
		d.q.pace.release(retryAfter)
		switch {
		case err == nil:
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
		if !outboxSleep(ctx, wait) {
			return false
		}
	}
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

	failpoint(fpBeforeSend)
	return n.Notify(actx, m)
}

// delivered removes a confirmed message from the queue. A failed commit is
// retried: sending the message again would duplicate it. If ctx ends
// first, the message stays and is sent again after the restart.
func (d *dispatcher) delivered(ctx context.Context, seq uint64, m Message, failures int) bool {
	failpoint(fpAfterConfirm)
	for tries := 1; ; tries++ {
		err := d.o.store.OutboxAck(d.q.name, seq)
		if err == nil {
			break
		}
		d.logFailure("delivered, but cannot remove the message from the queue", err, zap.String("message_id", m.ID))
		if !outboxSleep(ctx, d.o.backoff(tries)) {
			return false
		}
	}
	failpoint(fpAfterCommit)
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
	reason = secret.Clean(reason)
	for tries := 1; ; tries++ {
		err := d.o.store.OutboxDeadLetter(d.q.name, seq, reason)
		if err == nil || errors.Is(err, store.ErrNotFound) {
			break
		}
		d.logFailure("cannot move a refused message to the dead letters", err, zap.String("message_id", m.ID))
		if !outboxSleep(ctx, d.o.backoff(tries)) {
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
