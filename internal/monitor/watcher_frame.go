package monitor

import (
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// This file is what the watcher does with frames, ticks and reloads, under
// its run lock.
// handleFrame is what BenchmarkProcessFrame* measures after the decode; its
// steady state allocates nothing (events go into a reused slice, the ring is
// preallocated, metrics are exported at the tick).

// runState is what the watcher's goroutines share under its run lock
// (Watcher.runMu): Run's goroutine, and the reader of the current
// connection while it handles a frame.
type runState struct {
	engine *RuleEngine
	firing *RuleGauges
	events []event.Event // reused by every engine call
	ring   sampleRing
	m      targetMetrics
	vals   liveValues
	bo     spacetime.Backoff

	state      StreamState // as last reported to the engine
	stateSince time.Time
	live       bool // the current connection has delivered instance data
	liveSince  time.Time
	url        string // of the current or last connection
	connAt     time.Time
	lastFrame  time.Time // last instance data frame
	lastErr    error
	everConn   bool // a connection succeeded in this Run
	reconnects uint64
	dials      uint64
	failures   int // consecutive failed dials
	nextDial   time.Time
	lastLogged string // the last failure logged at warning level

	mem memoryPoller // the /performance fallback (watcher_memory.go)

	held    *spacetime.Frame // latest fps or vr_tracking frame
	waiters []frameWaiter

	lag *lagShard // this Run's share of TelemetryFrameLag; nil when not running
}

// begin starts a Run (or a benchmark): the series bound and started, the
// rules' clock anchored, the status published.
func (w *Watcher) begin(now time.Time) {
	r := &w.run
	r.bo = spacetime.Backoff{Min: w.opts.BackoffInitial, Max: w.opts.BackoffMax}
	r.live, r.everConn = false, false
	r.reconnects, r.dials, r.failures = 0, 0, 0
	r.held, r.waiters = nil, nil
	r.lastErr, r.lastLogged, r.nextDial = nil, "", time.Time{}
	if r.lag == nil {
		r.lag = w.metrics.TelemetryFrameLag.acquire()
	}
	w.bindMetrics()
	r.mem = memoryPoller{streamMemAt: now}
	w.applyRules(now) // a reload that came while stopped
	// The first call anchors the engine's clock: the outage it starts in
	// (no data yet) counts from here, so telemetry_down fires if the stream
	// never delivers.
	r.events = r.engine.Tick(now, r.events[:0])
	w.dispatch(r.events)
	w.publish()
}

// isInstanceData reports whether a frame is news from the instance: not a
// keep-alive, and not the secure server's handshake.
func isInstanceData(k spacetime.Kind) bool {
	switch k {
	case spacetime.KindPing, spacetime.KindPong, spacetime.KindAuthRequired, spacetime.KindAuthenticated:
		return false
	}
	return k < spacetime.KindCount
}

// handleFrame counts a decoded frame, records its values, feeds the rules
// and the ring, and passes instance events on.
func (w *Watcher) handleFrame(f *spacetime.Frame) {
	r := &w.run
	r.vals.frames++
	if !isInstanceData(f.Kind) {
		return
	}
	now := f.Received
	greeting := !r.live
	if greeting {
		w.goLive(now)
	}
	r.lastFrame = now
	r.vals.frameExported = false

	s := Sample{At: now}
	switch f.Kind {
	case spacetime.KindFPS, spacetime.KindSnapshot:
		w.measure(f, &s)
	case spacetime.KindVRInitialized, spacetime.KindDesktopFallback, spacetime.KindWarning, spacetime.KindError:
		w.instanceEvent(f, greeting)
	}
	// Every instance frame is data for the telemetry rules, even without a
	// value to judge.
	r.events = r.engine.Observe(s, r.events[:0])
	if f.TimeSource != spacetime.TimeReceived {
		// The instance's stamp to the rules' verdict: the daemon's share
		// of alert latency, with the transport's. A clock behind the
		// instance's reads as 0, not as a negative lag.
		r.lag.observe(max(0, w.now().Sub(f.Time).Seconds()))
	}
	if len(r.events) > 0 {
		w.dispatch(r.events)
	}
}

// measure records a frame's values, fills s with them and keeps it in the
// ring.
func (w *Watcher) measure(f *spacetime.Frame, s *Sample) {
	v := &w.run.vals
	if f.Has(spacetime.FieldFPS) {
		s.FPS, s.HasFPS = f.FPS, true
		v.fps = f.FPS
		v.fresh |= freshFPS
	}
	if f.Has(spacetime.FieldFrameTime) {
		v.frameTimeSec = f.FrameTimeMS / 1000
		v.fresh |= freshFrameTime
	}
	if f.Has(spacetime.FieldMemory) {
		s.MemoryMB, s.HasMemory = f.MemoryMB, true
		w.run.mem.streamMemAt = f.Received
		v.memoryBytes = f.MemoryMB * mebibyte
		v.fresh |= freshMemory
	}
	if s.HasFPS || s.HasMemory {
		w.run.ring.push(s)
	}
}

// goLive marks the connection as delivering: the stream is up for the
// metrics, the rules and the probes.
func (w *Watcher) goLive(now time.Time) {
	r := &w.run
	r.live, r.liveSince = true, now
	r.failures = 0
	r.m.connected.Set(1)
	w.setStream(StreamConnected, now)
	w.log.Info("telemetry connected", zap.String("url", r.url), zap.Uint64("reconnects", r.reconnects))
	w.publish()
}

// endLive marks the stream down: connected 0, live series deleted, counts
// exported.
func (w *Watcher) endLive() {
	r := &w.run
	r.vals.fresh = 0
	w.export()
	r.live = false
	r.m.connected.Set(0)
	w.deleteLive()
}

// setStream reports a new stream state to the engine, once per change.
func (w *Watcher) setStream(state StreamState, now time.Time) {
	r := &w.run
	if r.state == state {
		return
	}
	r.state, r.stateSince = state, now
	r.events = r.engine.SetStream(state, now, r.events[:0])
	w.dispatch(r.events)
	if w.opts.OnStream != nil {
		w.opts.OnStream(state)
	}
}

// keepFrame keeps f when it is an fps or vr_tracking frame, the latest
// that FirstDataFrame may need, and returns the frame the reader may read
// the next one into: f itself, the frame f replaces, or nil for a new one.
// No frame is copied.
func (w *Watcher) keepFrame(f *spacetime.Frame) *spacetime.Frame {
	r := &w.run
	if f.Kind != spacetime.KindFPS && f.Kind != spacetime.KindVRTracking {
		return f
	}
	old := r.held
	r.held = f
	if len(r.waiters) > 0 {
		w.answerWaiters(*f)
	}
	return old
}

// instanceEvent logs an event the instance announced and passes it on.
func (w *Watcher) instanceEvent(f *spacetime.Frame, greeting bool) {
	ev := InstanceEvent{Kind: f.Kind, Event: f.Event, Message: f.Message, Time: f.Time, Received: f.Received, Greeting: greeting}
	switch f.Kind {
	case spacetime.KindVRInitialized:
		w.log.Info("instance reports VR initialized", zap.Bool("greeting", greeting))
	case spacetime.KindDesktopFallback:
		w.log.Warn("instance reports VR failed, running in desktop mode", zap.String("message", f.Message), zap.Bool("greeting", greeting))
	default:
		w.log.Debug("instance event", zap.String("event", f.Event), zap.Stringer("kind", f.Kind), zap.String("message", f.Message))
	}
	if w.opts.OnInstanceEvent != nil {
		w.opts.OnInstanceEvent(ev)
	}
}

// dispatch exports, logs and forwards rule events, and publishes the new
// rule states and snapshot.
func (w *Watcher) dispatch(events []event.Event) {
	if len(events) == 0 {
		return
	}
	w.run.firing.Update(events)
	for _, ev := range events {
		ev.Target = w.target
		if ev.State == event.StateFiring {
			w.log.Warn("rule firing", zap.Object("event", ev))
		} else {
			w.log.Info("rule resolved", zap.Object("event", ev))
		}
		if w.opts.Sink != nil {
			w.opts.Sink.Handle(ev)
		}
	}
	snap, err := w.run.engine.Snapshot()
	if err != nil {
		w.log.Error("encode rule snapshot", zap.Error(err))
	} else {
		w.mu.Lock()
		w.snapshot = snap
		w.mu.Unlock()
	}
	w.publish()
}

// applyRules swaps in a config UpdateRules left, if any.
func (w *Watcher) applyRules(now time.Time) {
	w.mu.Lock()
	cfg := w.pending
	w.pending = nil
	w.mu.Unlock()
	if cfg == nil {
		return
	}
	r := &w.run
	if err := r.engine.UpdateConfig(*cfg); err != nil { // validated by UpdateRules: not expected
		w.log.Error("rules not reloaded", zap.Error(err))
		return
	}
	// A firing rule the config turned off resolves on the next call: make
	// that call now, then drop the series of disabled rules.
	r.events = r.engine.Tick(now, r.events[:0])
	w.dispatch(r.events)
	w.log.Info("rules reloaded")
	w.publish()
}

// tick judges the time-based transitions, exports the metrics and
// refreshes the status.
func (w *Watcher) tick(now time.Time) {
	r := &w.run
	r.events = r.engine.Tick(now, r.events[:0])
	w.dispatch(r.events)
	w.export()
	w.expireWaiters(now)
	w.publish()
}

// finish ends a Run: the stream counts as down (for the rules too, should
// Run be called again), waiting probes give up on their own (Run's done
// channel closes).
func (w *Watcher) finish(now time.Time) {
	r := &w.run
	w.endLive()
	w.setStream(StreamDisconnected, now)
	if r.mem.static != nil {
		w.metrics.StaticMemoryBytes.DeleteLabelValues(w.target)
		r.mem.static = nil
	}
	r.held, r.waiters = nil, nil
	w.metrics.TelemetryFrameLag.release(r.lag)
	r.lag = nil
	w.publish()
	w.log.Debug("telemetry watcher stopped")
}
