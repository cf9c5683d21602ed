package monitor

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
	"go.uber.org/zap/zapcore"
)

func TestRuleEventStringAndLog(t *testing.T) {
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	evs := r.fps(61.2, 2*time.Minute)
	if len(evs) != 1 {
		t.Fatalf("events %q, want one", eventNames(evs))
	}
	if got, want := evs[0].String(), "fps_low firing (warning): FPS 61.2 below 85 for 1m0s"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	enc := zapcore.NewMapObjectEncoder()
	if err := evs[0].MarshalLogObject(enc); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"name": "fps_low", "severity": "warning", "state": "firing", "observed": "61.2 fps", "expected": "at least 85 fps"} {
		if enc.Fields[k] != want {
			t.Errorf("log field %s = %v, want %v", k, enc.Fields[k], want)
		}
	}
	if _, ok := enc.Fields["projected_limit_in"]; ok {
		t.Error("projected_limit_in logged for an FPS event")
	}
	data, err := json.Marshal(evs[0])
	if err != nil || !strings.Contains(string(data), `"state":"firing"`) || !strings.Contains(string(data), `"severity":"warning"`) {
		t.Errorf("JSON %s (%v): want state and severity as strings", data, err)
	}
}

func TestRuleNamesAndSeverities(t *testing.T) {
	want := []string{"fps_critical", "fps_low", "fps_high", "memory_high", "memory_growth", "telemetry_down", "telemetry_silent", "memory_unwatched"}
	if got := RuleNames(); !slices.Equal(got, want) {
		t.Errorf("RuleNames() = %q, want %q", got, want)
	}
	for _, name := range want {
		sev, ok := RuleSeverity(name)
		wantSev := SeverityWarning
		if name == RuleFPSCritical {
			wantSev = SeverityCritical
		}
		if !ok || sev != wantSev {
			t.Errorf("RuleSeverity(%q) = %q, %v; want %q", name, sev, ok, wantSev)
		}
	}
	if _, ok := RuleSeverity("fps"); ok {
		t.Error(`RuleSeverity("fps") reported a rule`)
	}
}

// TestRuleStatesJSON pins the shape /api/v1/status serves.
func TestRuleStatesJSON(t *testing.T) {
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	r.stream(StreamConnected)
	r.fps(60, 2*time.Minute)
	r.stream(StreamDisconnected)
	if got, _ := r.e.Stream().MarshalText(); string(got) != "disconnected" {
		t.Errorf("Stream() = %s, want disconnected", got)
	}
	data, err := json.Marshal(r.state(RuleFPSLow))
	if err != nil {
		t.Fatal(err)
	}
	since := testkit.BaseTime(t).Add(time.Minute).Format(time.RFC3339)
	want := `{"rule":"fps_low","severity":"warning","state":"firing","since":"` + since + `","value":60,"has_value":true,"threshold":85,"unit":"fps","stale":true}`
	if string(data) != want {
		t.Errorf("JSON\n got %s\nwant %s", data, want)
	}
	if s := r.state(RuleTelemetryDown); s.State != RulePending || s.Stale || s.Unit != "s" {
		t.Errorf("telemetry_down %+v, want pending, never stale, unit s", s)
	}
}

// TestCheckEventsCarryTheCheckValues: a check's events carry what the
// check observed and expected, as it worded them, so that alert and the
// sinks print them without knowing the check.
func TestCheckEventsCarryTheCheckValues(t *testing.T) {
	var h checkHysteresis
	at := testkit.BaseTime(t)
	fail := CheckResult{Check: config.CheckHealth, Status: CheckFail, Observed: "404 text/plain", Expected: `200 {"status":"ok"}`, Reason: "no /health"}
	h.step(fail, 1, 1, at)
	ev := h.event(fail, +1, at, 1, 1, "")
	if ev.Observed != fail.Observed || ev.Expected != fail.Expected {
		t.Errorf("firing event observed %q expected %q, want the check's %q and %q", ev.Observed, ev.Expected, fail.Observed, fail.Expected)
	}
	pass := CheckResult{Check: config.CheckHealth, Status: CheckPass, Observed: `200 {"status":"ok"}`, Expected: `200 {"status":"ok"}`}
	h.step(pass, 1, 1, at)
	if ev := h.event(pass, -1, at, 1, 1, ""); ev.Observed != pass.Observed || ev.Expected != pass.Expected {
		t.Errorf("resolved event observed %q expected %q, want the passing check's", ev.Observed, ev.Expected)
	}
}
