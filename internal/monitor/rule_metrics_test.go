package monitor

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestRuleGauges: spacetime_rule_firing follows the events, and
// spacetime_rule_state has one series per rule, labelled with the state the
// rule is in (unknown included) and 1; a disabled rule's series go.
func TestRuleGauges(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	g := NewRuleGauges(m, "vr-1")
	wantState := func(rule, want string) {
		t.Helper()
		for st := range numRuleStatuses {
			v, ok := gatherValue(t, reg, "spacetime_rule_state", "target", "vr-1", "rule", rule, "state", st.String())
			switch {
			case st.String() == want && (!ok || v != 1):
				t.Errorf("spacetime_rule_state{rule=%q,state=%q} = %v (exported %v), want 1", rule, st, v, ok)
			case st.String() != want && ok:
				t.Errorf("spacetime_rule_state{rule=%q,state=%q} exported (%v), want only state %q", rule, st, v, want)
			}
		}
	}

	// Before any sample nothing reports memory: the memory rules are unknown.
	r.collect(r.e.Tick(r.now, nil))
	g.Sync(r.e.States())
	wantState(RuleMemoryHigh, "unknown")
	wantState(RuleFPSLow, "inactive")

	g.Update(r.fps(60, 2*time.Minute))
	g.Sync(r.e.States())
	wantState(RuleFPSLow, "firing")
	wantState(RuleMemoryHigh, "inactive")
	want := `
# HELP spacetime_rule_firing 1 while the threshold rule's condition has held for its ` + "`for`" + ` duration, else 0.
# TYPE spacetime_rule_firing gauge
spacetime_rule_firing{rule="fps_critical",severity="critical",target="vr-1"} 0
spacetime_rule_firing{rule="fps_high",severity="warning",target="vr-1"} 0
spacetime_rule_firing{rule="fps_low",severity="warning",target="vr-1"} 1
spacetime_rule_firing{rule="memory_growth",severity="warning",target="vr-1"} 0
spacetime_rule_firing{rule="memory_high",severity="warning",target="vr-1"} 0
spacetime_rule_firing{rule="memory_unwatched",severity="warning",target="vr-1"} 0
spacetime_rule_firing{rule="telemetry_down",severity="warning",target="vr-1"} 0
spacetime_rule_firing{rule="telemetry_silent",severity="warning",target="vr-1"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "spacetime_rule_firing"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.RuleState, "spacetime_rule_state"); n != int(numRules) {
		t.Errorf("%d spacetime_rule_state series, want one per rule (%d)", n, numRules)
	}
	if problems, err := testutil.GatherAndLint(reg, "spacetime_rule_firing", "spacetime_rule_state"); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}

	cfg := testRules()
	cfg.FPSMax, cfg.TelemetryDownFor = 0, 0
	if err := r.e.UpdateConfig(cfg); err != nil {
		t.Fatal(err)
	}
	g.Update(r.fps(90, 2*time.Minute))
	g.Sync(r.e.States())
	wantState(RuleFPSLow, "inactive")
	want = `
# HELP spacetime_rule_firing 1 while the threshold rule's condition has held for its ` + "`for`" + ` duration, else 0.
# TYPE spacetime_rule_firing gauge
spacetime_rule_firing{rule="fps_critical",severity="critical",target="vr-1"} 0
spacetime_rule_firing{rule="fps_low",severity="warning",target="vr-1"} 0
spacetime_rule_firing{rule="memory_growth",severity="warning",target="vr-1"} 0
spacetime_rule_firing{rule="memory_high",severity="warning",target="vr-1"} 0
spacetime_rule_firing{rule="memory_unwatched",severity="warning",target="vr-1"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "spacetime_rule_firing"); err != nil {
		t.Errorf("after disabling fps_high and the telemetry rules: %v", err)
	}
	wantState(RuleFPSHigh, "") // disabled: no series
	if n := testutil.CollectAndCount(m.RuleState, "spacetime_rule_state"); n != 5 {
		t.Errorf("%d spacetime_rule_state series after disabling three rules, want 5", n)
	}
}

// TestRuleGaugesOfARebuiltWatcher: a target's watcher rebuilt by a reload
// (new gauges, same series) leaves one state series per rule, not the old
// watcher's pending beside the new one's inactive.
func TestRuleGaugesOfARebuiltWatcher(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	old := NewRuleGauges(m, "vr-1")
	old.Sync(r.e.States())
	old.setState(ruleTelemetryDown, RulePending) // as the old watcher's stream ended

	fresh := NewRuleGauges(m, "vr-1")
	fresh.Sync(newRuleRun(t, testRules(), testkit.BaseTime(t)).e.States())
	for st := range numRuleStatuses {
		_, ok := gatherValue(t, reg, "spacetime_rule_state", "target", "vr-1", "rule", RuleTelemetryDown, "state", st.String())
		if want := st == RuleInactive; ok != want {
			t.Errorf("spacetime_rule_state{rule=%q,state=%q} exported: %v, want %v", RuleTelemetryDown, st, ok, want)
		}
	}
	if n := testutil.CollectAndCount(m.RuleState, "spacetime_rule_state"); n != int(numRules) {
		t.Errorf("%d state series, want one per rule (%d)", n, numRules)
	}
}
