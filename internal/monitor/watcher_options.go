package monitor

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/health"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// WatcherOptions configure NewWatcher. Build them with WatcherOptionsFrom,
// which takes the target's name, rules and every tunable from the config,
// then set the stream and the hooks. NewWatcher defaults no tunable: a zero
// one is an error naming it; only the hooks and Metrics, Logger, Now and
// Health may be left out (their zero values are noted).
type WatcherOptions struct {
	// Target is the target's name: the target label of its series and the
	// first argument of Sink calls. Required.
	Target string
	// Stream configures the connection. Stream.URLs are tried in order at
	// every dial (the instance moves to 8083, 8084 when 8081 is busy:
	// docs/instance.md, "Ports and availability"). Stream.Now defaults to Now. Stream.OnInvalid,
	// if set, is called after the watcher has counted the invalid frame.
	// Stream.SkipPoses is always set: the watcher reads no pose.
	Stream spacetime.StreamOptions
	// Rules are the target's thresholds, built from its config. Required.
	Rules RuleConfig
	// RestoreRules is a snapshot from RuleSnapshot (kept in the store) to
	// start from, or nil: rules firing before a restart stay firing, without
	// a second firing event.
	RestoreRules []byte
	// Metrics receive the target's series (default: a private registry,
	// exported nowhere).
	Metrics *Metrics
	// Sink receives every rule event, in order, under the watcher's run
	// lock (on Run's goroutine or the reader's); it must not block for
	// long, nor call Window or FirstDataFrame (which wait for that lock). Nil: events are only logged and exported as
	// spacetime_rule_firing.
	Sink event.Sink
	// OnInstanceEvent, if set, receives the instance's vr_initialized,
	// desktop_fallback, warning and error frames, under the run lock, with
	// the same restrictions as Sink.
	OnInstanceEvent func(InstanceEvent)
	// OnStream, if set, receives every change of the stream's state
	// (connected once data flows, disconnected, silent), under the run
	// lock, with the same restrictions as Sink. The daemon probes the
	// API when the stream drops (see apiProbe).
	OnStream func(StreamState)
	// Logger receives the watcher's logs (default: none). Tokens never
	// appear in them.
	Logger *zap.Logger
	// Now is the clock of samples, rules and status (default clock.Now).
	// Timers (ticks, backoff, socket deadlines) use the real clock.
	Now func() time.Time
	// Health, when set, registers Run's loop as "watcher/<target>" while
	// it runs. Default: none.
	Health *health.Registry
	// BackoffInitial is the delay before the first redial: the target's
	// telemetry.backoff_initial (default 1s). Required.
	BackoffInitial time.Duration
	// BackoffMax caps the delay between dials: the target's
	// telemetry.backoff_max (default 60s). Required. Delays double
	// from BackoffInitial and each is shortened by up to 20 % at random, so
	// that daemons restarted together do not redial in step.
	BackoffMax time.Duration
	// BackoffResetAfter: a connection that delivered data and lasted this
	// long brings the next delay back to BackoffInitial
	// (config.WatcherBackoffResetAfter, 30s). Required. A server that
	// accepts and then drops every connection keeps backing off.
	BackoffResetAfter time.Duration
	// TickInterval is how often the rules are judged without a frame, for
	// the time-based transitions (config.WatcherTickInterval, 1s). Required;
	// must be below Rules.MaxGap.
	TickInterval time.Duration
	// RingSize bounds the FPS/memory samples Window and SamplesSince can
	// look back on (config.WatcherRingSize, 9000), at 32 bytes a sample.
	// Required.
	RingSize int
	// SampleSpan is how far back Window and SamplesSince can look: samples
	// older than the newest by more are dropped, and the ring grows only
	// to the samples within it (config.WatcherSampleSpan, 2m, or the
	// target's checks.threshold_window when longer). Required.
	SampleSpan time.Duration
	// PollMemory, if set, reads the target's memory (MiB) from /performance,
	// or says why it cannot. The watcher calls it every
	// Rules.MemoryPollInterval while the stream carries no memory, on a
	// goroutine of its own, and hands the readings to the memory rules
	// (RuleEngine.ObservePerformance). Nil: no fallback (the default), and
	// memory_unwatched fires whenever the stream carries no memory.
	PollMemory func(ctx context.Context) (memoryMB float64, why string)
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

// WatcherOptionsFrom returns the options of tc's watcher as the config
// says: its name, its rules (RuleConfigFrom), its telemetry backoff and the
// watcher's tunables (config.Watcher*). The caller adds the stream's URLs,
// and the hooks it wants.
func WatcherOptionsFrom(tc config.Target) WatcherOptions {
	return WatcherOptions{
		Target:            tc.Name,
		Rules:             RuleConfigFrom(tc),
		BackoffInitial:    tc.Telemetry.BackoffInitial,
		BackoffMax:        tc.Telemetry.BackoffMax,
		BackoffResetAfter: config.WatcherBackoffResetAfter,
		TickInterval:      config.WatcherTickInterval,
		RingSize:          config.WatcherRingSize,
		SampleSpan:        max(tc.Checks.ThresholdWindow, config.WatcherSampleSpan),
	}
}

// withDefaults checks o's invariants and fills the optional fields'
// zero values.
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
		{"SampleSpan", o.SampleSpan},
	} {
		if d.v <= 0 {
			bad(d.name, "must be positive, got %s: build the options with WatcherOptionsFrom", d.v)
		}
	}
	if o.RingSize <= 0 {
		bad("RingSize", "must be positive, got %d: build the options with WatcherOptionsFrom", o.RingSize)
	}
	if o.Rules == (RuleConfig{}) {
		bad("Rules", "zero: build them from the target's config")
	}
	if o.BackoffMax < o.BackoffInitial {
		bad("BackoffMax", "must be at least BackoffInitial (%s), got %s", o.BackoffInitial, o.BackoffMax)
	}
	if o.TickInterval >= o.Rules.MaxGap && o.Rules.MaxGap > 0 {
		bad("TickInterval", "must be below Rules.MaxGap (%s), got %s: the rules need a tick within every MaxGap", o.Rules.MaxGap, o.TickInterval)
	}
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
// it is safe while Run runs, which applies cfg between two frames. On a
// validation error nothing changes.
func (w *Watcher) UpdateRules(cfg RuleConfig) error {
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
