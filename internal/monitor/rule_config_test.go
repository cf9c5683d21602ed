package monitor

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestRuleConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *RuleConfig)
		want   string // "" for valid
	}{
		{"default", func(*RuleConfig) {}, ""},
		{"fps rules disabled", func(c *RuleConfig) { c.FPSMin, c.FPSCriticalMin, c.FPSMax = 0, 0, 0 }, ""},
		{"critical above min", func(c *RuleConfig) { c.FPSCriticalMin = 90 },
			"RuleConfig.FPSCriticalMin: must be below FPSMin (85), got 90"},
		{"max below min", func(c *RuleConfig) { c.FPSMax = 80 },
			"RuleConfig.FPSMax: must be above FPSMin (85), got 80"},
		{"NaN threshold", func(c *RuleConfig) { c.FPSHysteresis = math.NaN() },
			"RuleConfig.FPSHysteresis: must be a finite number ≥ 0 (0 disables the rule), got NaN"},
		{"negative memory", func(c *RuleConfig) { c.MemoryMaxMB = -1 },
			"RuleConfig.MemoryMaxMB: must be a finite number ≥ 0 (0 disables the rule), got -1"},
		{"memory hysteresis too wide", func(c *RuleConfig) { c.MemoryHysteresisMB = 400 },
			"RuleConfig.MemoryHysteresisMB: must be below MemoryMaxMB (400), got 400"},
		{"growth hysteresis too wide", func(c *RuleConfig) { c.GrowthHysteresisMBPerMin = 12 },
			"RuleConfig.GrowthHysteresisMBPerMin: must be below GrowthMBPerMin (10), got 12"},
		{"growth window too short", func(c *RuleConfig) { c.GrowthWindow = 30 * time.Second },
			"RuleConfig.GrowthWindow: must be at least 1m, got 30s"},
		{"negative for", func(c *RuleConfig) { c.FPSFor = -time.Second },
			"RuleConfig.FPSFor: must be ≥ 0, got -1s"},
		{"no smoothing", func(c *RuleConfig) { c.SmoothingWindow = 0 },
			"RuleConfig.SmoothingWindow: must be above 0 and at most 10m, got 0s"},
		{"no max gap", func(c *RuleConfig) { c.MaxGap = 0 },
			"RuleConfig.MaxGap: must be above 0, got 0s"},
		{"every problem reported", func(c *RuleConfig) { c.FPSMax, c.MaxGap = 1, 0 },
			"RuleConfig.FPSMax: must be above FPSMin (85), got 1\nRuleConfig.MaxGap: must be above 0, got 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testRules()
			tt.modify(&c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
			if _, nerr := NewRuleEngine(c); (nerr != nil) != (tt.want != "") {
				t.Errorf("NewRuleEngine error = %v, want error %v", nerr, tt.want != "")
			}
		})
	}
	if _, err := NewRuleEngine(RuleConfig{}); err == nil {
		t.Error("NewRuleEngine(RuleConfig{}) accepted the zero config")
	}
}

func TestRuleEngineUpdateConfig(t *testing.T) {
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	r.fps(60, 2*time.Minute)
	if s := r.state(RuleFPSLow); s.State != RuleFiring {
		t.Fatalf("setup: fps_low %s, want firing", s.State)
	}

	bad := testRules()
	bad.FPSMax = 10
	if err := r.e.UpdateConfig(bad); err == nil || !strings.Contains(err.Error(), "RuleConfig.FPSMax") {
		t.Fatalf("UpdateConfig(bad) = %v, want the FPSMax error", err)
	}
	if r.e.Config() != testRules() {
		t.Fatalf("a rejected config replaced the running one")
	}

	lower := testRules()
	lower.FPSMin = 55
	if err := r.e.UpdateConfig(lower); err != nil {
		t.Fatal(err)
	}
	runRuleSteps(t, r, []ruleStep{
		{name: "reload keeps the firing state", do: func(r *ruleRun) []event.Event { return r.e.Tick(r.now, nil) },
			want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
		{name: "judged on the new threshold", do: func(r *ruleRun) []event.Event { return r.fps(60, 2*time.Minute) },
			wantEvents: []string{"fps_low resolved"},
			wantReason: []string{"FPS 60.0 back at or above 57 for 1m0s"}},
		{name: "fires again on the new threshold", do: func(r *ruleRun) []event.Event { return r.fps(50, 2*time.Minute) },
			wantEvents: []string{"fps_low firing"}},
	})

	off := testRules()
	off.FPSMin, off.FPSCriticalMin = 0, 0
	if err := r.e.UpdateConfig(off); err != nil {
		t.Fatal(err)
	}
	evs := r.stream(StreamConnected)
	if len(evs) != 1 || evs[0].Name != RuleFPSLow || evs[0].State != event.StateResolved || evs[0].Reason != "rule disabled by configuration" {
		t.Fatalf("events after disabling fps_low: %+v, want one resolved with the reason \"rule disabled by configuration\"", evs)
	}
	for _, s := range r.e.States() {
		if s.Rule == RuleFPSLow || s.Rule == RuleFPSCritical {
			t.Errorf("States() lists disabled rule %s", s.Rule)
		}
	}
	if evs := r.fps(10, 5*time.Minute); len(evs) != 0 {
		t.Errorf("disabled rules produced %q", eventNames(evs))
	}
}

func TestRuleEngineSnapshotRestore(t *testing.T) {
	before := newRuleRun(t, testRules(), testkit.BaseTime(t))
	before.play(2*time.Minute, steady(60), steady(450))
	data, err := before.e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int `json:"version"`
		Rules   []struct {
			Rule        string    `json:"rule"`
			FiringSince time.Time `json:"firing_since"`
		} `json:"rules"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("snapshot is not JSON: %v\n%s", err, data)
	}
	if doc.Version != 1 || len(doc.Rules) != 2 || doc.Rules[0].Rule != RuleFPSLow || doc.Rules[1].Rule != RuleMemoryHigh {
		t.Fatalf("snapshot %s: want version 1 with fps_low and memory_high", data)
	}

	// The daemon restarts 5 minutes later.
	r := newRuleRun(t, testRules(), before.now.Add(5*time.Minute))
	if err := r.e.Restore(data); err != nil {
		t.Fatal(err)
	}
	low := r.state(RuleFPSLow)
	if low.State != RuleFiring || !low.Stale || !low.Since.Equal(doc.Rules[0].FiringSince) {
		t.Fatalf("restored fps_low %+v, want firing, stale, since %s", low, doc.Rules[0].FiringSince)
	}
	runRuleSteps(t, r, []ruleStep{
		{name: "still bad after restart: no duplicate firing", do: func(r *ruleRun) []event.Event {
			r.stream(StreamConnected)
			return r.play(5*time.Minute, steady(60), steady(200))
		}, wantEvents: []string{"memory_high resolved"},
			want: map[string]RuleStatus{RuleFPSLow: RuleFiring, RuleMemoryHigh: RuleInactive}},
		{name: "recovers once", do: func(r *ruleRun) []event.Event { return r.play(2*time.Minute, steady(90), steady(200)) },
			wantEvents: []string{"fps_low resolved"}},
	})
	if r.state(RuleFPSLow).Stale {
		t.Error("fps_low stale after fresh samples")
	}

	t.Run("a restored rule the config disables resolves on the next call", func(t *testing.T) {
		cfg := testRules()
		cfg.MemoryMaxMB = 0
		r := newRuleRun(t, cfg, before.now)
		if err := r.e.Restore(data); err != nil {
			t.Fatal(err)
		}
		evs := r.e.Tick(r.now, nil)
		if got := eventNames(evs); !slices.Equal(got, []string{"memory_high resolved"}) {
			t.Errorf("events %q, want memory_high resolved", got)
		}
	})

	t.Run("bad snapshots", func(t *testing.T) {
		tests := []struct{ name, data, want string }{
			{"not JSON", "{", "restore rule snapshot: unexpected end of JSON input"},
			{"future version", `{"version":2,"rules":[]}`, "restore rule snapshot: version 2 not supported (want 1); discard the stored state"},
			{"wrong type", `{"version":1,"rules":[{"rule":"fps_low","value":"x"}]}`, "restore rule snapshot: json: cannot unmarshal string into Go struct field ruleSnapshotEntry.rules.value of type float64"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := newRuleRun(t, testRules(), testkit.BaseTime(t))
				r.fps(60, 2*time.Minute)
				want := r.e.States()
				err := r.e.Restore([]byte(tt.data))
				if err == nil || err.Error() != tt.want {
					t.Fatalf("Restore = %v, want %q", err, tt.want)
				}
				if got := r.e.States(); !slices.Equal(got, want) {
					t.Errorf("a failed Restore changed the states:\n got %+v\nwant %+v", got, want)
				}
			})
		}
	})

	t.Run("unknown rules are skipped", func(t *testing.T) {
		r := newRuleRun(t, testRules(), testkit.BaseTime(t))
		if err := r.e.Restore([]byte(`{"version":1,"rules":[{"rule":"gone","value":1},{"rule":"fps_high","value":120}]}`)); err != nil {
			t.Fatal(err)
		}
		if s := r.state(RuleFPSHigh); s.State != RuleFiring {
			t.Errorf("fps_high %s, want firing", s.State)
		}
	})
}
