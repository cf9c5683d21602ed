package cli

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
)

// TestStatusLineSaysWhereMemoryComesFrom: the demo's status line shows
// memory from the stream, from /performance, or that it is unwatched;
// never a silent dash while the memory rules cannot judge.
func TestStatusLineSaysWhereMemoryComesFrom(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := monitor.NewMetrics(reg)
	state := func(st string, v float64) {
		m.RuleState.WithLabelValues("demo", monitor.RuleMemoryHigh, st).Set(v)
	}
	state("inactive", 0)
	state("unknown", 1)
	if got := statusLine(reg); !strings.Contains(got, "memory unwatched") {
		t.Errorf("no memory source: %q, want memory unwatched", got)
	}
	m.StaticMemoryBytes.WithLabelValues("demo").Set(450 << 20)
	state("unknown", 0)
	state("inactive", 1)
	if got := statusLine(reg); !strings.Contains(got, "memory 450 MB (from /performance)") {
		t.Errorf("memory from /performance: %q", got)
	}
	m.MemoryBytes.WithLabelValues("demo").Set(300 << 20)
	if got := statusLine(reg); !strings.Contains(got, "memory 300 MB ") {
		t.Errorf("memory from the stream: %q", got)
	}
}
