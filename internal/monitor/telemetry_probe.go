package monitor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// TelemetryProbe gives checks 4 (telemetry) and 10 (thresholds) their data.
// verify uses a DialProbe; the daemon passes its watcher's probe, so that
// the instance, which may cap connections, sees a single one.
type TelemetryProbe interface {
	// FirstDataFrame waits for a data frame (fps or vr_tracking;
	// auth_required does not count) within timeout and returns it, or an
	// error naming why (refused, silent, auth failed...).
	FirstDataFrame(ctx context.Context, timeout time.Duration) (spacetime.Frame, error)
	// Window returns the samples of the last (daemon) or next (verify) d.
	Window(ctx context.Context, d time.Duration) ([]Sample, error)
}

// ErrProbeClosed is returned by a DialProbe used after Close.
var ErrProbeClosed = errors.New("telemetry probe closed")

// maxProbeSamples bounds the samples one window keeps: 15 s at the
// documented 2 Hz is 30 samples, and even a 50 Hz test stream over a
// minute stays far below. Samples beyond it are dropped.
const maxProbeSamples = 1 << 16

// DialProbe is the TelemetryProbe of verify: it dials the stream on first
// use and keeps that one connection for checks 4 and 10, reading it on a
// goroutine of its own until Close. If the connection ends, the next call
// dials again (never two connections at once). It is safe for concurrent
// use.
type DialProbe struct {
	opts spacetime.StreamOptions
	now  func() time.Time

	// dialMu serialises dials, so that concurrent callers share one
	// connection.
	dialMu sync.Mutex

	mu     sync.Mutex
	conn   *probeConn
	closed bool

	wg sync.WaitGroup
}

// probeConn is one dialled stream and what its reader has seen. The
// fields below stream and done are guarded by DialProbe.mu.
type probeConn struct {
	stream *spacetime.Stream
	cancel context.CancelFunc
	// done is closed when the reader has stopped; err then says why.
	done chan struct{}

	// gotFirst is closed when first is set.
	gotFirst   chan struct{}
	first      *spacetime.Frame
	seen       [spacetime.KindCount]bool
	err        error
	collecting int
	samples    []Sample
}

// NewDialProbe returns a probe that dials opts.URLs lazily. now stamps the
// samples (default clock.Now; it also becomes opts.Now when that is unset).
func NewDialProbe(opts spacetime.StreamOptions, now func() time.Time) *DialProbe {
	if now == nil {
		now = clock.Now
	}
	if opts.Now == nil {
		opts.Now = now
	}
	return &DialProbe{opts: opts, now: now}
}

// FirstDataFrame returns the connection's first fps or vr_tracking frame,
// dialling first if needed; timeout covers the dial too.
func (p *DialProbe) FirstDataFrame(ctx context.Context, timeout time.Duration) (spacetime.Frame, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := p.connect(wctx)
	if err != nil {
		return spacetime.Frame{}, err
	}
	select {
	case <-c.gotFirst:
		p.mu.Lock()
		defer p.mu.Unlock()
		return *c.first, nil
	case <-c.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		if c.first != nil { // the frame and the end raced
			return *c.first, nil
		}
		return spacetime.Frame{}, fmt.Errorf("the stream ended before any fps or vr_tracking frame: %w", c.err)
	case <-wctx.Done():
		if ctx.Err() != nil {
			return spacetime.Frame{}, ctx.Err()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return spacetime.Frame{}, c.noDataError(timeout)
	}
}

// Window collects the samples of the next d, dialling first if needed. It
// returns early, with the samples so far and an error, when the stream ends
// or ctx ends.
func (p *DialProbe) Window(ctx context.Context, d time.Duration) ([]Sample, error) {
	c, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	c.collecting++
	from := len(c.samples)
	p.mu.Unlock()

	start := p.now()
	timer := time.NewTimer(d)
	defer timer.Stop()
	var werr error
	select {
	case <-timer.C:
	case <-c.done:
		p.mu.Lock()
		end := c.err
		p.mu.Unlock()
		werr = fmt.Errorf("the stream ended %s into the %s window: %w",
			p.now().Sub(start).Round(time.Millisecond), d, end)
	case <-ctx.Done():
		werr = ctx.Err()
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]Sample(nil), c.samples[from:]...)
	c.collecting--
	if c.collecting == 0 {
		c.samples = c.samples[:0]
	}
	return out, werr
}

// Close ends the connection, if any, and waits for its reader. Later calls
// fail with ErrProbeClosed. It is safe to call twice.
func (p *DialProbe) Close() error {
	p.mu.Lock()
	p.closed = true
	c := p.conn
	p.conn = nil
	p.mu.Unlock()
	if c != nil {
		c.cancel()
		_ = c.stream.Close()
	}
	p.wg.Wait()
	return nil
}

// connect returns the live connection, dialling when there is none or the
// last one ended.
func (p *DialProbe) connect(ctx context.Context) (*probeConn, error) {
	p.dialMu.Lock()
	defer p.dialMu.Unlock()

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrProbeClosed
	}
	old := p.conn
	if old != nil && old.err == nil {
		p.mu.Unlock()
		return old, nil
	}
	p.conn = nil
	p.mu.Unlock()
	if old != nil {
		old.cancel()
		_ = old.stream.Close() // its reader has stopped; release the socket
	}

	stream, err := spacetime.Dial(ctx, p.opts)
	if err != nil {
		return nil, describeDialError(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	c := &probeConn{
		stream: stream, cancel: cancel,
		done: make(chan struct{}), gotFirst: make(chan struct{}),
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		cancel()
		_ = stream.Close()
		return nil, ErrProbeClosed
	}
	p.conn = c
	p.mu.Unlock()
	p.wg.Go(func() { p.read(rctx, c) })
	return c, nil
}

// read is the connection's reader: it records the first data frame and,
// while a window is open, the samples.
func (p *DialProbe) read(ctx context.Context, c *probeConn) {
	defer close(c.done)
	var f spacetime.Frame
	for {
		if err := c.stream.Next(ctx, &f); err != nil {
			p.mu.Lock()
			c.err = err
			p.mu.Unlock()
			return
		}
		at := f.Received // the decoder always stamps it
		p.mu.Lock()
		c.seen[f.Kind] = true
		if c.first == nil && isDataFrame(f.Kind) {
			first := f
			c.first = &first
			close(c.gotFirst)
		}
		if s, ok := probeSample(&f, at); ok && c.collecting > 0 && len(c.samples) < maxProbeSamples {
			c.samples = append(c.samples, s)
		}
		p.mu.Unlock()
	}
}

// noDataError explains a connection that delivered no data frame within
// timeout. The caller holds DialProbe.mu.
func (c *probeConn) noDataError(timeout time.Duration) error {
	var kinds []string
	for k, seen := range c.seen {
		if seen {
			kinds = append(kinds, spacetime.Kind(k).String())
		}
	}
	if len(kinds) == 0 {
		return fmt.Errorf("connected to %s, but no frame at all within %s: the stream is silent", c.stream.URL(), timeout)
	}
	return fmt.Errorf("connected to %s, but no fps or vr_tracking frame within %s (only %s)", c.stream.URL(), timeout, strings.Join(kinds, ", "))
}

// isDataFrame reports whether a frame of kind k proves that telemetry
// flows: an fps or vr_tracking sample. auth_required, keep-alives and
// one-off events do not.
func isDataFrame(k spacetime.Kind) bool {
	return k == spacetime.KindFPS || k == spacetime.KindVRTracking
}

// probeSample reduces a frame to what check 10 judges; ok is false when it
// carries neither FPS nor memory.
func probeSample(f *spacetime.Frame, at time.Time) (s Sample, ok bool) {
	s.At = at
	if f.Has(spacetime.FieldFPS) {
		s.FPS, s.HasFPS = f.FPS, true
	}
	if f.Has(spacetime.FieldMemory) {
		s.MemoryMB, s.HasMemory = f.MemoryMB, true
	}
	return s, s.HasFPS || s.HasMemory
}

// describeDialError names the usual cause of a failed dial: nothing
// listens, i.e. the telemetry server is not running.
func describeDialError(err error) error {
	var de *spacetime.DialError
	if !errors.As(err, &de) || len(de.Attempts) == 0 {
		return err
	}
	urls := make([]string, len(de.Attempts))
	refused := true
	for i, a := range de.Attempts {
		urls[i] = a.URL
		refused = refused && errors.Is(a.Err, syscall.ECONNREFUSED)
	}
	if refused {
		return &probeError{
			msg: fmt.Sprintf("connection refused on %s: the telemetry server is not running (autoload disabled or failed to start)", strings.Join(urls, ", ")),
			err: err,
		}
	}
	return err
}

// probeError is an error with a shorter message than the one it wraps.
type probeError struct {
	msg string
	err error
}

func (e *probeError) Error() string { return e.msg }
func (e *probeError) Unwrap() error { return e.err }
