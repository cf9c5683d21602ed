package monitor

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
)

// The budget for one telemetry frame end to end (decode, rule
// evaluation, metric update) is 1.5× the bare decode, so what these
// benchmarks measure must stay under half of spacetime's
// BenchmarkDecodeBinaryFPS, with 0 allocs/op.

// BenchmarkRuleEngineObserve judges one binary FPS frame (FPS only) in
// steady state: every window full, no transition.
func BenchmarkRuleEngineObserve(b *testing.B) {
	benchmarkRuleEngine(b, false, false)
}

// BenchmarkRuleEngineObserveMemory judges a JSON fps event, which also
// carries memory: the memory_high and growth windows move too.
func BenchmarkRuleEngineObserveMemory(b *testing.B) {
	benchmarkRuleEngine(b, true, false)
}

// BenchmarkRuleEngineObserveMetrics is the rules' and metrics' share of a
// binary FPS frame end to end: Observe, the spacetime_fps gauge and the
// rule gauges' Update.
func BenchmarkRuleEngineObserveMetrics(b *testing.B) {
	benchmarkRuleEngine(b, false, true)
}

func benchmarkRuleEngine(b *testing.B, memory, metrics bool) {
	e, err := NewRuleEngine(testRules())
	if err != nil {
		b.Fatal(err)
	}
	m := NewMetrics(prometheus.NewRegistry())
	gauges := NewRuleGauges(m, "vr-1")
	gauges.Sync(e.States())
	fpsGauge := m.FPS.WithLabelValues("vr-1")

	now := time.Now()
	out := make([]event.Event, 0, 8)
	frame := func(i int) Sample {
		now = now.Add(500 * time.Millisecond)
		s := Sample{At: now, FPS: 89.5 + float64(i%3), HasFPS: true}
		if memory {
			s.MemoryMB, s.HasMemory = 250+float64(i%5), true
		}
		return s
	}
	for i := range 2 * 20 * 60 { // 20 minutes fill every window
		out = e.Observe(frame(i), out[:0])
	}
	if len(e.States()) == 0 || e.States()[1].State != RuleInactive {
		b.Fatal("warm-up left a rule active")
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		s := frame(i)
		out = e.Observe(s, out[:0])
		if metrics {
			fpsGauge.Set(s.FPS)
			gauges.Update(out)
		}
	}
	if len(out) != 0 {
		b.Fatalf("steady state produced %d events", len(out))
	}
}
