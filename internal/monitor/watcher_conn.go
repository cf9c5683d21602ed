package monitor

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// connEnd is a connection goroutine's last report to Run's goroutine: the
// attempt is over (the dial failed, or the stream ended), and why.
type connEnd struct {
	err    error
	dialed bool // the dial had succeeded
}

// connection is one dial-and-read attempt, run by its own goroutine, which
// handles each frame itself under the watcher's run lock (no hand-off, no
// wake-up of another goroutine per frame). Run's goroutine owns the
// connection: it reads ended and calls stop, which waits for the
// goroutine.
type connection struct {
	cancel context.CancelFunc
	ended  chan connEnd // buffered 1: the reader never blocks on it
	done   chan struct{}
}

// startConnection dials in a new goroutine and starts reading. Call it with
// the run lock held.
func (w *Watcher) startConnection(ctx context.Context) *connection {
	cctx, cancel := context.WithCancel(ctx)
	c := &connection{
		cancel: cancel,
		ended:  make(chan connEnd, 1),
		done:   make(chan struct{}),
	}
	opts := w.streamOpts
	opts.OnInvalid = w.invalidCounter()
	w.run.dials++
	w.run.nextDial = time.Time{}
	go w.read(cctx, c, opts)
	return c
}

// stop cancels the attempt and waits for its goroutine, which closes the
// stream before it returns. Call it without the run lock: the goroutine
// may be waiting for it to hand over a frame.
func (c *connection) stop() {
	c.cancel()
	<-c.done
}

// read dials, then reads and handles frames until the stream ends or ctx
// does, and reports the end on c.ended. Each frame is decoded outside the
// run lock and handled under it; a frame the watcher keeps (keepFrame) is
// replaced by another for the next read, so the steady state allocates
// nothing.
func (w *Watcher) read(ctx context.Context, c *connection, opts spacetime.StreamOptions) {
	defer close(c.done)
	s, err := spacetime.Dial(ctx, opts)
	if err != nil {
		c.ended <- connEnd{err: err}
		return
	}
	defer s.Close()
	w.runMu.Lock()
	w.connected(s.URL(), w.now())
	w.runMu.Unlock()
	f := new(spacetime.Frame)
	for {
		if err := s.Next(ctx, f); err != nil {
			c.ended <- connEnd{err: err, dialed: true}
			return
		}
		w.runMu.Lock()
		w.handleFrame(f)
		f = w.keepFrame(f)
		w.runMu.Unlock()
		if f == nil {
			f = new(spacetime.Frame)
		}
	}
}

// invalidCounter returns the OnInvalid hook of one connection: it counts
// the frame and logs it, the first at warning level and the rest at debug,
// so a hostile stream cannot flood the log. It runs on the connection's
// goroutine only (Stream.Next calls it); the counter is safe for that.
func (w *Watcher) invalidCounter() func(error) {
	counter := w.metrics.TelemetryFramesInvalid.WithLabelValues(w.target)
	user := w.opts.Stream.OnInvalid
	seen := false
	return func(err error) {
		counter.Inc()
		if !seen {
			seen = true
			w.log.Warn("invalid telemetry frame skipped (further ones on this connection are logged at debug level)", zap.Error(err))
		} else {
			w.log.Debug("invalid telemetry frame skipped", zap.Error(err))
		}
		if user != nil {
			user(err)
		}
	}
}

// connected records a WebSocket handshake. The stream counts as up only
// once instance data arrives (goLive): a server may accept and say nothing.
func (w *Watcher) connected(url string, now time.Time) {
	r := &w.run
	r.url, r.connAt = url, now
	if r.everConn {
		r.reconnects++
		r.m.reconnects.Inc()
	}
	r.everConn = true
	w.log.Debug("telemetry WebSocket open, waiting for data", zap.String("url", url))
	w.publish()
}

// ended records the end of a connection attempt (err says why) and returns
// the delay before the next dial.
func (w *Watcher) ended(err error, dialed bool, now time.Time) time.Duration {
	r := &w.run
	wasLive := r.live
	if wasLive {
		w.endLive()
	}
	r.lastErr = err
	if !dialed {
		r.failures++
		r.lastErr = describeDialError(err) // "nothing listens" rather than errno soup
	}
	state := StreamDisconnected
	if errors.Is(err, spacetime.ErrSilent) {
		state = StreamSilent
	}
	w.setStream(state, now)
	if wasLive && now.Sub(r.connAt) >= w.opts.BackoffResetAfter {
		r.bo.Reset()
	}
	delay := r.bo.Next()
	r.nextDial = now.Add(delay)
	w.logEnd(r.lastErr, wasLive, delay, now)
	w.publish()
	return delay
}

// logEnd logs a lost connection at warning level, and a failed attempt
// only when its error differs from the last one logged: a ten-minute outage
// is one line, not twenty.
func (w *Watcher) logEnd(err error, wasLive bool, delay time.Duration, now time.Time) {
	r := &w.run
	key := err.Error()
	if errors.Is(err, spacetime.ErrSilent) {
		key = "silent" // the text carries the measured quiet time
	}
	fields := []zap.Field{zap.Error(err), zap.Duration("retry_in", delay), zap.Uint64("dial_attempts", r.dials)}
	switch {
	case wasLive:
		w.log.Warn("telemetry connection lost", append(fields, zap.Duration("delivered_for", now.Sub(r.liveSince)))...)
	case key != r.lastLogged:
		w.log.Warn("telemetry unavailable", fields...)
	default:
		w.log.Debug("telemetry still unavailable", fields...)
	}
	r.lastLogged = key
}
