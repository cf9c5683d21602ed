package alert

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/health"
)

// sinkPacer keeps a sink's sends apart: one at a time (the dispatcher's
// and SendTest's), at least MinInterval from the end of one to the start
// of the next, and none before a Retry-After the sink asked for. Times are
// monotonic readings of the real clock (pacing real sends, not a decision on
// the wall clock), which testing/synctest fakes.
type sinkPacer struct {
	turn chan struct{} // holds a token while a send is in progress

	mu        sync.Mutex
	notifier  Notifier
	interval  time.Duration
	last      time.Time // when the last send returned
	notBefore time.Time // the sink's Retry-After, from its answer
	// persist, when set, keeps a Retry-After across restarts.
	persist func(wait time.Duration)
}

func newSinkPacer(n Notifier, interval time.Duration) *sinkPacer {
	return &sinkPacer{turn: make(chan struct{}, 1), notifier: n, interval: interval}
}

// configure swaps in a reloaded notifier and interval for the next send.
func (p *sinkPacer) configure(n Notifier, interval time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notifier, p.interval = n, interval
}

// acquire waits for the sink's turn and for the pacing to allow a send,
// and returns the notifier to use; the caller must call release after the
// send. It gives up when ctx ends, and at once when ctx's deadline comes
// before the pacing allows a send. It declares its pacing waits to hl
// (nil: none).
func (p *sinkPacer) acquire(ctx context.Context, hl *health.Loop) (Notifier, error) {
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		p.mu.Lock()
		n, ready, retryAfter := p.notifier, p.last.Add(p.interval), p.notBefore
		p.mu.Unlock()
		if retryAfter.After(ready) {
			ready = retryAfter
		}
		wait := ready.Sub(clock.Now())
		if wait <= 0 {
			return n, nil
		}
		if deadline, ok := ctx.Deadline(); ok && deadline.Before(ready) {
			<-p.turn
			if ready.Equal(retryAfter) {
				return nil, fmt.Errorf("sink %s asked to wait %s more (Retry-After): try again later", n.Name(), wait.Round(time.Second))
			}
			return nil, fmt.Errorf("sink %s: next send allowed in %s, after the deadline", n.Name(), wait.Round(time.Millisecond))
		}
		// Loop: a reload may have changed the interval meanwhile.
		hl.For(wait)
		if !clock.Sleep(ctx, wait) {
			<-p.turn
			return nil, ctx.Err()
		}
	}
}

// release ends a send; retryAfter is what the sink asked for (0: nothing).
func (p *sinkPacer) release(retryAfter time.Duration) {
	now := clock.Now()
	p.mu.Lock()
	p.last = now
	if retryAfter > 0 {
		p.notBefore = now.Add(retryAfter)
	}
	persist := p.persist
	p.mu.Unlock()
	if retryAfter > 0 && persist != nil {
		persist(retryAfter)
	}
	<-p.turn
}

// holdUntil restores a Retry-After that outlived a restart: no send for
// wait from now.
func (p *sinkPacer) holdUntil(wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notBefore = clock.Deadline(wait)
}

// backoff is the wait after a message's failures-th failed attempt:
// BackoffInitial doubled per further failure, capped at BackoffMax, minus
// up to Jitter of it at random (so that the cap holds).
func (o *Outbox) backoff(failures int) time.Duration {
	d := o.opts.BackoffInitial
	for i := 1; i < failures && d < o.opts.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, o.opts.BackoffMax)
	if j := o.opts.Jitter; j > 0 {
		d -= time.Duration(rand.Float64() * j * float64(d))
	}
	return d
}
