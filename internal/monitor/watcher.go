package monitor

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
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
	// DefaultWatcherRingSize keeps 15 minutes of samples at 10 FPS samples
	// per second, the fastest rate documented (binary frames at 10 Hz,
	// spacetime-api.md §3.5); at the usual 2 per second it keeps 75 minutes.
	DefaultWatcherRingSize = 9000
)

// framePool is how many frames a connection's reader may have in flight:
// enough to keep reading while Run's goroutine handles one and holds another
// as the latest data frame.
const framePool = 4

// WatcherOptions configure NewWatcher. Zero values mean the defaults noted.
type WatcherOptions struct {
	// Target is the target's name: the target label of its series and the
	// first argument of Sink calls. Required.
	Target string
	// Stream configures the connection. Stream.URLs are tried in order at
	// every dial (the instance moves to 8083, 8084 when 8081 is busy:
	// spacetime-api.md §3.1). Stream.Now defaults to Now. Stream.OnInvalid,
	// if set, is called after the watcher has counted the invalid frame.
	Stream spacetime.StreamOptions
	// Rules are the target's thresholds (default DefaultRuleConfig() when
	// the whole struct is zero).
	Rules RuleConfig
	// RestoreRules is a snapshot from RuleSnapshot (kept in the store) to
	// start from, or nil: rules firing before a restart stay firing, without
	// a second firing event.
	RestoreRules []byte
	// Metrics receive the target's series (default: a private registry,
	// exported nowhere).
	Metrics *Metrics
	// Sink receives every rule event, in order, on Run's goroutine; it must
	// not block for long, nor call Window or FirstDataFrame (which wait for
	// that goroutine). Nil: events are only logged and exported as
	// spacetime_rule_firing.
	Sink RuleEventSink
	// OnInstanceEvent, if set, receives the instance's vr_initialized,
	// desktop_fallback, warning and error frames, on Run's goroutine, with
	// the same restrictions as Sink.
	OnInstanceEvent func(InstanceEvent)
	// Logger receives the watcher's logs (default: none). Tokens never
	// appear in them.
	Logger *zap.Logger
	// Now is the clock of samples, rules and status (default clock.Now).
	// Timers (ticks, backoff, socket deadlines) use the real clock.
	Now func() time.Time
	// BackoffInitial is the delay before the first redial (default 1s).
	BackoffInitial time.Duration
	// BackoffMax caps the delay between dials (default 60s). Delays double
	// from BackoffInitial and each is shortened by up to 20 % at random, so
	// that daemons restarted together do not redial in step.
	BackoffMax time.Duration
	// BackoffResetAfter: a connection that delivered data and lasted this
	// long brings the next delay back to BackoffInitial (default 30s). A
	// server that accepts and then drops every connection keeps backing off.
	BackoffResetAfter time.Duration
	// TickInterval is how often the rules are judged without a frame, for
	// the time-based transitions (default 1s; must be below Rules.MaxGap).
	TickInterval time.Duration
	// RingSize is how many FPS/memory samples Window can look back on
	// (default DefaultWatcherRingSize). The ring is allocated at the first
	// sample, at 32 bytes a sample.
	RingSize int
}

// InstanceEvent is an event the instance announced on its telemetry stream.
type InstanceEvent struct {
	// Kind is KindVRInitialized, KindDesktopFallback, KindWarning or KindError.
	Kind spacetime.Kind
	// Event is the event name as sent ("vr_initialized", "warning", "alert").
	Event string
	// Message is the event's human text, if any.
	Message string
	// Time is when the instance says it happened; Received is when the
	// watcher read it.
	Time, Received time.Time
	// Greeting is true when the event was the first data on its
	// connection. Servers announce their VR state to every new client, so a
	// greeting vr_initialized follows every reconnect and does not by itself
	// mean that the instance restarted.
	Greeting bool
}

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
	}
	w.streamOpts = opts.Stream
	w.streamOpts.Now = opts.Now
	if opts.Stream.Now != nil {
		w.streamOpts.Now = opts.Stream.Now
	}
	w.run.engine = engine
	w.run.ring.size = opts.RingSize
	w.run.firing = NewRuleFiringGauges(opts.Metrics.RuleFiring, opts.Target)
	w.run.events = make([]RuleEvent, 0, numRules)
	w.pub.status = WatcherStatus{Target: opts.Target, Rules: engine.States()}
	w.snapshot, _ = engine.Snapshot() // encoding a fixed struct cannot fail
	return w, nil
}

func (o WatcherOptions) withDefaults() (WatcherOptions, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("WatcherOptions.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if o.Target == "" {
		bad("Target", "empty: name the target")
	}
	if len(o.Stream.URLs) == 0 {
		bad("Stream.URLs", "empty: give at least one ws:// URL, e.g. ws://127.0.0.1:8081/")
	}
	for i, raw := range o.Stream.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			// The URL is not echoed: it may carry credentials.
			bad(fmt.Sprintf("Stream.URLs[%d]", i), "not a ws:// or wss:// URL with a host")
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"BackoffInitial", o.BackoffInitial}, {"BackoffMax", o.BackoffMax},
		{"BackoffResetAfter", o.BackoffResetAfter}, {"TickInterval", o.TickInterval},
	} {
		if d.v < 0 {
			bad(d.name, "must be ≥ 0 (0 means the default), got %s", d.v)
		}
	}
	if o.RingSize < 0 {
		bad("RingSize", "must be ≥ 0 (0 means the default), got %d", o.RingSize)
	}
	if o.Rules == (RuleConfig{}) {
		o.Rules = DefaultRuleConfig()
	}
	o.BackoffInitial = cmp.Or(o.BackoffInitial, DefaultWatcherBackoffInitial)
	o.BackoffMax = cmp.Or(o.BackoffMax, DefaultWatcherBackoffMax)
	o.BackoffResetAfter = cmp.Or(o.BackoffResetAfter, DefaultWatcherBackoffResetAfter)
	o.TickInterval = cmp.Or(o.TickInterval, DefaultWatcherTickInterval)
	if o.BackoffMax < o.BackoffInitial {
		bad("BackoffMax", "must be at least BackoffInitial (%s), got %s", o.BackoffInitial, o.BackoffMax)
	}
	if o.TickInterval >= o.Rules.MaxGap && o.Rules.MaxGap > 0 {
		bad("TickInterval", "must be below Rules.MaxGap (%s), got %s: the rules need a tick within every MaxGap", o.Rules.MaxGap, o.TickInterval)
	}
	o.RingSize = cmp.Or(o.RingSize, DefaultWatcherRingSize)
	if o.Metrics == nil {
		o.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = clock.Now
	}
	return o, errors.Join(errs...)
}

// UpdateRules swaps in new thresholds (a reload), keeping every rule's state;
// it is safe while Run runs, which applies cfg between two frames. A zero
// cfg means DefaultRuleConfig(). On a validation error nothing changes.
func (w *Watcher) UpdateRules(cfg RuleConfig) error {
	if cfg == (RuleConfig{}) {
		cfg = DefaultRuleConfig()
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("watcher %s: rules: %w", w.target, err)
	}
	if w.opts.TickInterval >= cfg.MaxGap {
		return fmt.Errorf("watcher %s: rules: RuleConfig.MaxGap (%s) must be above the watcher's TickInterval (%s)", w.target, cfg.MaxGap, w.opts.TickInterval)
	}
	w.mu.Lock()
	w.pending = &cfg
	w.mu.Unlock()
	select {
	case w.reload <- struct{}{}:
	default: // a notification is already pending; it will find cfg
	}
	return nil
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

	w.begin(w.now())
	tick := time.NewTicker(w.opts.TickInterval)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour) // armed by Reset after each failure
	retry.Stop()
	defer retry.Stop()
	var retryC <-chan time.Time // nil unless backing off

	conn := w.startConnection(ctx)
	for {
		var msgs <-chan connMsg
		if conn != nil {
			msgs = conn.msgs
		}
		select {
		case <-ctx.Done():
			if conn != nil {
				conn.stop()
			}
			w.finish(w.now())
			return nil
		case m := <-msgs:
			switch m.kind {
			case msgFrame:
				w.handleFrame(m.frame)
				w.keepFrame(conn, m.frame)
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
			w.tick(w.now())
		case <-w.reload:
			w.applyRules(w.now())
		case req := <-w.reqs:
			w.serve(req)
		}
	}
}

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
