package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/failpoint"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// This file holds the telemetry watcher: one persistent telemetry connection
// per target, redialled with a jittered, capped backoff, whose frames feed
// the target's rule engine, its metrics and a ring of recent samples.
//
// How the work is split, and why:
//
//   - One goroutine per connection attempt dials, reads and decodes
//     (Stream.Next), and handles each frame itself: rules, ring, cached
//     metric handles. A frame costs no wake-up of another goroutine, which
//     at 12 frames a second per target is most of what a fleet of
//     watchers would otherwise spend beyond reading its sockets.
//   - Run's goroutine owns the rest of the life of the watcher: the
//     one-second tick that times telemetry_down and telemetry_silent
//     (RuleConfig.MaxGap) and exports the metrics, redials with backoff,
//     reloads and requests. It never blocks on I/O, so all of that is
//     served even while a dial or a read hangs.
//   - The state both touch (runState) is guarded by the run lock, runMu,
//     held for the handling of one frame or one tick and never across I/O;
//     it is uncontended but for the moment a tick meets a frame.
//   - Other goroutines (the daemon's API, the scheduled checks) never take
//     it: Status reads a copy published under mu on every change and every
//     tick; Window and FirstDataFrame send a request that Run's goroutine
//     answers between two frames.
//
// Stale values: when the stream is lost or goes silent, the engine is told
// (SetStream), so it judges no value from before the outage, and the
// target's spacetime_fps, spacetime_frame_time_seconds and
// spacetime_memory_bytes series are deleted until data flows again: a frozen
// last value would look live to Prometheus rules and dashboards.
// spacetime_telemetry_last_frame_timestamp_seconds stays, frozen: it is
// the time of a fact, and its age is what tells the stream is dead.

// Watcher keeps one target's telemetry connection and judges its frames.
// Create it with NewWatcher, run it with Run; Status, StatusView, Window,
// FirstDataFrame (it is the daemon's TelemetryProbe), UpdateRules and
// RuleSnapshot are safe from any goroutine.
type Watcher struct {
	opts       WatcherOptions
	target     string
	log        *zap.Logger
	now        func() time.Time
	metrics    *Metrics
	streamOpts spacetime.StreamOptions

	reqs   chan watcherRequest // served by Run's goroutine
	reload chan struct{}       // buffered 1: a pending rule config awaits
	polls  chan memoryPoll     // buffered 1: the one poll in flight reports here

	mu       sync.Mutex
	runDone  chan struct{} // closed when the current Run returns; nil when not running
	pending  *RuleConfig   // set by UpdateRules, taken by Run's goroutine
	pub      published     // the status Run's goroutine last published
	snapshot []byte        // the rule engine's last Snapshot

	// runMu guards run: Run's goroutine and the current connection's
	// reader take it (the benchmarks, alone, stand in for both). Taken
	// before mu, never after.
	runMu sync.Mutex
	run   runState
}

// published is what the watcher's goroutines share with the others.
type published struct {
	status  WatcherStatus
	lastErr error // why the last connection ended or the last dial failed
}

// NewWatcher checks opts and returns a watcher for one target. It registers
// nothing and starts nothing: Run does.
func NewWatcher(opts WatcherOptions) (*Watcher, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	engine, err := NewRuleEngine(opts.Rules)
	if err != nil {
		return nil, fmt.Errorf("watcher %s: rules: %w", opts.Target, err)
	}
	if opts.RestoreRules != nil {
		if err := engine.Restore(opts.RestoreRules); err != nil {
			return nil, fmt.Errorf("watcher %s: %w", opts.Target, err)
		}
	}
	w := &Watcher{
		opts:    opts,
		target:  opts.Target,
		log:     opts.Logger.Named("telemetry").With(zap.String("target", opts.Target)),
		now:     opts.Now,
		metrics: opts.Metrics,
		reqs:    make(chan watcherRequest),
		reload:  make(chan struct{}, 1),
		polls:   make(chan memoryPoll, 1),
	}
	w.streamOpts = opts.Stream
	w.streamOpts.SkipPoses = true // nothing here reads a pose: see handleFrame
	w.streamOpts.Now = opts.Now
	if opts.Stream.Now != nil {
		w.streamOpts.Now = opts.Stream.Now
	}
	w.run.engine = engine
	w.run.ring.limit, w.run.ring.span = opts.RingSize, opts.SampleSpan.Nanoseconds()
	w.run.firing = NewRuleGauges(opts.Metrics, opts.Target)
	w.run.events = make([]event.Event, 0, numRules)
	w.pub.status = WatcherStatus{Target: opts.Target, Rules: engine.States()}
	w.snapshot, _ = engine.Snapshot() // encoding a fixed struct cannot fail
	return w, nil
}

// reannounce hands the sink a firing event for each rule restored firing
// (RuleEngine.Restored): the alert manager may not have written the
// original one down before the daemon died.
func (w *Watcher) reannounce() {
	if w.opts.Sink == nil {
		return
	}
	for _, ev := range w.run.engine.Restored(w.now(), nil) {
		ev.Target = w.target
		w.log.Info("rule restored firing; re-announced to the alert manager", zap.Object("event", ev))
		w.opts.Sink.Handle(ev)
	}
}

// RuleSnapshot returns the rule engine's Snapshot as of its last
// transition, for the store. It never blocks on Run, so a Sink may call it.
func (w *Watcher) RuleSnapshot() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.snapshot)
}

// errAlreadyRunning is returned by a second concurrent Run.
var errAlreadyRunning = errors.New("already running")

// Run keeps the target's telemetry connection until ctx ends: dial (each URL
// in order), read and judge frames, and on any failure (refused, closed,
// silent, a frame over the read limit) mark the stream down, back off and
// redial. It returns nil once ctx has ended, the connection is closed and
// every goroutine it started has returned; it returns an error at once only
// when this watcher is already running. A stop is immediate in every phase
// but one: a WebSocket handshake in progress, which spacetime.Dial cannot
// interrupt, ends within Stream.DialTimeout.
func (w *Watcher) Run(ctx context.Context) error {
	done, err := w.enter()
	if err != nil {
		return err
	}
	defer w.leave(done)
	hl := w.opts.Health.Register("watcher/" + w.target)
	defer hl.Unregister()

	w.runMu.Lock()
	w.begin(w.now())
	w.reannounce()
	conn := w.startConnection(ctx)
	w.runMu.Unlock()
	tick := time.NewTimer(untilTick(clock.Now(), w.opts.TickInterval))
	defer tick.Stop()
	retry := time.NewTimer(time.Hour) // armed by Reset after each failure
	retry.Stop()
	defer retry.Stop()
	var retryC <-chan time.Time // nil unless backing off

	for {
		var ended <-chan connEnd
		if conn != nil {
			ended = conn.ended
		}
		// The tick timer wakes the loop within a TickInterval, whatever
		// the connection does (dialling, reading, backing off, silent).
		hl.For(w.opts.TickInterval)
		select {
		case <-ctx.Done():
			if conn != nil {
				conn.stop()
			}
			w.runMu.Lock()
			w.finish(w.now())
			w.awaitPoll()
			w.runMu.Unlock()
			return nil
		case e := <-ended:
			conn.stop()
			conn = nil
			if ctx.Err() != nil {
				continue // stopping, not a failure: the next pass returns
			}
			w.runMu.Lock()
			delay := w.ended(e.err, e.dialed, w.now())
			w.runMu.Unlock()
			retry.Reset(delay)
			retryC = retry.C
		case <-retryC:
			retryC = nil
			w.runMu.Lock()
			conn = w.startConnection(ctx)
			w.runMu.Unlock()
		case <-tick.C:
			tick.Reset(untilTick(clock.Now(), w.opts.TickInterval))
			hl.Busy()
			failpoint.Wedge(fpWedgeWatcher)
			w.runMu.Lock()
			w.tick(w.now())
			w.maybePoll(ctx, w.now())
			w.runMu.Unlock()
		case p := <-w.polls:
			w.runMu.Lock()
			w.polled(p)
			w.runMu.Unlock()
		case <-w.reload:
			w.runMu.Lock()
			w.applyRules(w.now())
			w.runMu.Unlock()
		case req := <-w.reqs:
			w.runMu.Lock()
			w.serve(req)
			w.runMu.Unlock()
		}
	}
}

// untilTick is how long from now to the next tick: the next multiple of
// every since tickAnchor, on the monotonic clock, so that a step of the
// wall clock neither skips a tick nor brings one early. The watchers of a
// daemon so tick at the same instants rather than each one interval after
// its own start: a thousand watchers ticking apart cost the process a
// thousand wake-ups of a sleeping thread a second; ticking together they
// cost one, and their ticks run back to back (a few µs each) on the threads
// that woke. The result is in (0, every].
func untilTick(now time.Time, every time.Duration) time.Duration {
	since := now.Sub(tickAnchor) % every
	if since < 0 { // a now from before the anchor (a test's own clock)
		since += every
	}
	return every - since
}

// tickAnchor is the instant every watcher's ticks count from.
var tickAnchor = clock.Now()

// fpWedgeWatcher wedges Run at a tick (the liveness tests).
var fpWedgeWatcher = failpoint.Declare("wedge-watcher")

// enter marks the watcher running.
func (w *Watcher) enter() (chan struct{}, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.runDone != nil {
		return nil, fmt.Errorf("watcher %s: %w", w.target, errAlreadyRunning)
	}
	w.runDone = make(chan struct{})
	return w.runDone, nil
}

func (w *Watcher) leave(done chan struct{}) {
	w.mu.Lock()
	w.runDone = nil
	w.pub.status.Running = false
	w.mu.Unlock()
	close(done)
}

// running returns the channel closed when the current Run ends, or nil.
func (w *Watcher) running() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.runDone
}
