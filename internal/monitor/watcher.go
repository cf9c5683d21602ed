package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

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
//   - One goroutine, Run's, owns everything that changes per frame: the rule
//     engine, the sample ring, the cached metric handles (STYLE practice 8).
//     It never blocks on I/O, so its one-second tick, reloads and requests
//     are served even while a dial or a read hangs; the engine needs its
//     ticks to time telemetry_down and telemetry_silent (RuleConfig.MaxGap).
//   - One goroutine per connection attempt dials and reads (Stream.Next
//     decodes), and hands each frame to Run's goroutine over a channel. The
//     frames come from a small pool owned by the connection, so the steady
//     state allocates nothing.
//   - Other goroutines (the daemon's API, the scheduled checks) never touch
//     that state: Status reads a copy that Run's goroutine publishes under a
//     mutex on every change and every tick; Window and FirstDataFrame send
//     a request that Run's goroutine answers between two frames.
//
// Stale values: when the stream is lost or goes silent, the engine is told
// (SetStream), so it judges no value from before the outage, and the
// target's spacetime_fps, spacetime_frame_time_seconds and
// spacetime_memory_bytes series are deleted until data flows again: a frozen
// last value would look live to Prometheus rules and dashboards.
// spacetime_telemetry_last_frame_timestamp_seconds stays, frozen: it is
// the time of a fact, and its age is what tells the stream is dead.

// Defaults of WatcherOptions.
const (
	DefaultWatcherBackoffInitial    = time.Second
	DefaultWatcherBackoffMax        = 60 * time.Second
	DefaultWatcherBackoffResetAfter = 30 * time.Second
	DefaultWatcherTickInterval      = time.Second
	// DefaultWatcherRingSize bounds the samples kept whatever the rate:
	// 15 minutes at 10 FPS samples per second, the fastest rate documented
	// (binary frames at 10 Hz, docs/instance.md, "Intervals and
	// keep-alive"), which the default span never needs.
	DefaultWatcherRingSize = 9000
	// DefaultWatcherSampleSpan is how far back the samples are kept: four
	// review feeds (ReviewFeedInterval), so that a feed a minute or so late
	// still finds every sample since the last one. The daemon keeps the
	// longer of this and checks.threshold_window, check 10's window.
	DefaultWatcherSampleSpan = 4 * ReviewFeedInterval
)

// framePool is how many frames a connection's reader may have in flight:
// enough to keep reading while Run's goroutine handles one and holds another
// as the latest data frame.
const framePool = 4

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

	// Owned by Run's goroutine (and by the benchmarks, which stand in for it).
	run runState
}

// published is what Run's goroutine shares with the others.
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

	w.begin(w.now())
	w.reannounce()
	tick := time.NewTicker(w.opts.TickInterval)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour) // armed by Reset after each failure
	retry.Stop()
	defer retry.Stop()
	var retryC <-chan time.Time // nil unless backing off

	conn := w.startConnection(ctx)
	framed := false // the last pass handled a frame
	for {
		var msgs <-chan connMsg
		if conn != nil {
			msgs = conn.msgs
		}
		// The ticker wakes the loop within a TickInterval, whatever the
		// connection does (dialling, backing off, silent). After a frame,
		// the wait declared before it still stands, and every tick renews
		// it: frames (12 a second) need not read the clock for it.
		if !framed {
			hl.For(w.opts.TickInterval)
		}
		framed = false
		select {
		case <-ctx.Done():
			if conn != nil {
				conn.stop()
			}
			w.finish(w.now())
			w.awaitPoll()
			return nil
		case m := <-msgs:
			switch m.kind {
			case msgFrame:
				w.handleFrame(m.frame)
				w.keepFrame(conn, m.frame)
				framed = true
			case msgConnected:
				w.connected(m.url, w.now())
			case msgEnded:
				conn.stop()
				conn = nil
				if ctx.Err() != nil {
					continue // stopping, not a failure: the next pass returns
				}
				retry.Reset(w.ended(m.err, m.dialed, w.now()))
				retryC = retry.C
			}
		case <-retryC:
			retryC = nil
			conn = w.startConnection(ctx)
		case <-tick.C:
			hl.Busy()
			failpoint.Wedge(fpWedgeWatcher)
			w.tick(w.now())
			w.maybePoll(ctx, w.now())
		case p := <-w.polls:
			w.polled(p)
		case <-w.reload:
			w.applyRules(w.now())
		case req := <-w.reqs:
			w.serve(req)
		}
	}
}

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
