package monitor

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The watcher's series. Frame handling only records values in plain fields;
// export copies them into the series at every tick (1 s) and at every
// change of the stream's state. A scrape therefore sees values at most one
// tick old, and a frame costs no atomic operation and no label lookup: at
// the documented 2–10 frames per second, per-frame exports would be
// overwritten before any scrape read them.

// mebibyte converts telemetry's memory_usage_mb (MiB, as Godot's monitors
// report it) to bytes.
const mebibyte = 1 << 20

// targetMetrics are the target's series, resolved once per Run so that
// exports neither hash labels nor allocate.
type targetMetrics struct {
	frames     prometheus.Counter
	connected  prometheus.Gauge
	reconnects prometheus.Counter
	lastFrame  prometheus.Gauge // nil until the first data frame
	// Live series: created at the first value of a connection, deleted when
	// the stream is lost (nil meanwhile), so a stale value never looks live.
	fps, frameTime, memory prometheus.Gauge
}

// liveValues are the latest values of the live connection, waiting for
// export.
type liveValues struct {
	frames            uint64 // frames since the last export, of every kind
	fps, frameTimeSec float64
	memoryBytes       float64
	fresh             uint8 // which values changed since the last export
	frameExported     bool  // lastFrame has been exported
}

const (
	freshFPS uint8 = 1 << iota
	freshFrameTime
	freshMemory
)

// bindMetrics resolves the target's series and starts them as the issue
// wants: counters at 0, connected at 0; live series absent until a value
// arrives.
func (w *Watcher) bindMetrics() {
	r, m := &w.run, w.metrics
	m.InitTarget(w.target)
	r.m.frames = m.TelemetryFrames.WithLabelValues(w.target)
	r.m.connected = m.TelemetryConnected.WithLabelValues(w.target)
	r.m.connected.Set(0)
	r.m.reconnects = m.TelemetryReconnects.WithLabelValues(w.target)
	r.m.lastFrame, r.m.fps, r.m.frameTime, r.m.memory = nil, nil, nil, nil
	r.vals = liveValues{}
}

// export copies the recorded values into the series.
func (w *Watcher) export() {
	r, v := &w.run, &w.run.vals
	// One counter for every kind: a series per kind and target was a
	// dozen series per target for a breakdown no rule or panel needs.
	if v.frames > 0 {
		r.m.frames.Add(float64(v.frames))
		v.frames = 0
	}
	if !v.frameExported && !r.lastFrame.IsZero() {
		if r.m.lastFrame == nil {
			r.m.lastFrame = w.metrics.TelemetryLastFrame.WithLabelValues(w.target)
		}
		r.m.lastFrame.Set(float64(r.lastFrame.UnixNano()) / 1e9)
		v.frameExported = true
	}
	if v.fresh == 0 || !r.live {
		v.fresh = 0
		return
	}
	if v.fresh&freshFPS != 0 {
		r.m.fps = w.liveGauge(r.m.fps, w.metrics.FPS)
		r.m.fps.Set(v.fps)
	}
	if v.fresh&freshFrameTime != 0 {
		r.m.frameTime = w.liveGauge(r.m.frameTime, w.metrics.FrameTime)
		r.m.frameTime.Set(v.frameTimeSec)
	}
	if v.fresh&freshMemory != 0 {
		r.m.memory = w.liveGauge(r.m.memory, w.metrics.MemoryBytes)
		r.m.memory.Set(v.memoryBytes)
	}
	v.fresh = 0
}

func (w *Watcher) liveGauge(g prometheus.Gauge, vec *GaugeVec) prometheus.Gauge {
	if g == nil {
		g = vec.WithLabelValues(w.target)
	}
	return g
}

// deleteLive removes the live series: the stream is down, and a frozen last
// value would look current to Prometheus rules and dashboards.
func (w *Watcher) deleteLive() {
	r, m := &w.run, w.metrics
	for _, s := range []struct {
		g   *prometheus.Gauge
		vec *GaugeVec
	}{{&r.m.fps, m.FPS}, {&r.m.frameTime, m.FrameTime}, {&r.m.memory, m.MemoryBytes}} {
		if *s.g != nil {
			s.vec.DeleteLabelValues(w.target)
			*s.g = nil
		}
	}
	r.vals.fresh = 0
}
