package monitor

import (
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestCheckEventsCarryTheCheckValues: a check's events carry what the
// check observed and expected, as it worded them, so that alert and the
// sinks print them without knowing the check.
func TestCheckEventsCarryTheCheckValues(t *testing.T) {
	var h checkHysteresis
	at := testkit.BaseTime(t)
	fail := CheckResult{Check: config.CheckHealth, Status: CheckFail, Observed: "404 text/plain", Expected: `200 {"status":"ok"}`, Reason: "no /health"}
	h.step(fail, 1, 1, at)
	ev := h.event(fail, +1, at, 1, 1)
	if ev.Observed != fail.Observed || ev.Expected != fail.Expected {
		t.Errorf("firing event observed %q expected %q, want the check's %q and %q", ev.Observed, ev.Expected, fail.Observed, fail.Expected)
	}
	pass := CheckResult{Check: config.CheckHealth, Status: CheckPass, Observed: `200 {"status":"ok"}`, Expected: `200 {"status":"ok"}`}
	h.step(pass, 1, 1, at)
	if ev := h.event(pass, -1, at, 1, 1); ev.Observed != pass.Observed || ev.Expected != pass.Expected {
		t.Errorf("resolved event observed %q expected %q, want the passing check's", ev.Observed, ev.Expected)
	}
}
