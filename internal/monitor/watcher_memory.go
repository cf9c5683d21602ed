package monitor

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/prometheus/client_golang/prometheus"
)

// This file is the watcher's memory fallback: while the stream carries no
// memory, Run's goroutine starts a /performance poll every
// Rules.MemoryPollInterval, one at a time, on a goroutine that reports
// back over a channel (Run waits for it before it returns). The readings
// feed the memory rules and spacetime_static_memory_bytes; a failed poll
// tells the rules why memory is unknown, which memory_unwatched and the
// status then say.

// memoryPoll is one poll's outcome.
type memoryPoll struct {
	at       time.Time
	memoryMB float64
	why      string // non-empty when the poll gave no memory
}

// memoryPoller is the fallback's state, owned by Run's goroutine.
type memoryPoller struct {
	streamMemAt time.Time // the stream's last memory reading, or Run's start
	lastPoll    time.Time // when the last poll started
	polling     bool      // a poll is in flight
	lastWhy     string    // the last failure logged, to log each once
	static      prometheus.Gauge
}

// maybePoll starts a poll when one is due: polling is configured, the
// stream has carried no memory for MaxGap (or half of MemoryFor, if that
// is shorter, so that the first poll comes before memory_unwatched could
// fire), none is in flight, and the last one started at least
// MemoryPollInterval ago.
func (w *Watcher) maybePoll(ctx context.Context, now time.Time) {
	p, cfg := &w.run.mem, w.run.engine.Config()
	if w.opts.PollMemory == nil || cfg.MemoryPollInterval <= 0 || p.polling || ctx.Err() != nil {
		return
	}
	if now.Sub(p.streamMemAt) < min(cfg.MaxGap, cfg.MemoryFor/2) || (!p.lastPoll.IsZero() && now.Sub(p.lastPoll) < cfg.MemoryPollInterval) {
		return
	}
	p.lastPoll, p.polling = now, true
	poll := w.opts.PollMemory
	go func() {
		mb, why := poll(ctx)
		w.polls <- memoryPoll{at: w.now(), memoryMB: mb, why: why} // buffered: never blocks
	}()
}

// polled hands a poll's outcome to the rules and the metrics.
func (w *Watcher) polled(m memoryPoll) {
	r, p := &w.run, &w.run.mem
	p.polling = false
	if m.why != "" {
		r.engine.PerformanceFailed(m.why)
		if p.static != nil {
			w.metrics.StaticMemoryBytes.DeleteLabelValues(w.target)
			p.static = nil
		}
		if m.why != p.lastWhy {
			w.log.Warn("memory unknown: the stream carries none and /performance gives none", zap.String("reason", m.why))
			p.lastWhy = m.why
		}
		w.publish()
		return
	}
	if p.lastWhy != "" {
		w.log.Info("memory read from /performance again")
		p.lastWhy = ""
	}
	if p.static == nil {
		p.static = w.metrics.StaticMemoryBytes.WithLabelValues(w.target)
	}
	p.static.Set(m.memoryMB * mebibyte)
	r.events = r.engine.ObservePerformance(m.at, m.memoryMB, r.events[:0])
	w.dispatch(r.events)
	w.publish()
}

// awaitPoll waits, as Run ends, for the poll in flight: its context is
// done, so it returns promptly.
func (w *Watcher) awaitPoll() {
	if w.run.mem.polling {
		<-w.polls
		w.run.mem.polling = false
	}
}
