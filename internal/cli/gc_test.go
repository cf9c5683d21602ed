package cli

import (
	"runtime/debug"
	"testing"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// TestTuneGC: without GOGC the daemon runs at config.GCPercent; with it,
// at what Go parsed from it, untouched.
func TestTuneGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	if got := tuneGC(func(string) string { return "" }, zap.NewNop()); got != config.GCPercent {
		t.Errorf("tuneGC without GOGC = %d, want %d", got, config.GCPercent)
	}
	if now := debug.SetGCPercent(100); now != config.GCPercent {
		t.Errorf("the collector's target is %d after tuneGC without GOGC, want %d", now, config.GCPercent)
	}

	// As if GOGC=150 had been parsed by the runtime at start.
	debug.SetGCPercent(150)
	env := func(k string) string {
		if k == "GOGC" {
			return "150"
		}
		return ""
	}
	if got := tuneGC(env, zap.NewNop()); got != 150 {
		t.Errorf("tuneGC with GOGC=150 = %d, want 150", got)
	}
	if now := debug.SetGCPercent(100); now != 150 {
		t.Errorf("the collector's target is %d after tuneGC with GOGC=150, want it left at 150", now)
	}
}
