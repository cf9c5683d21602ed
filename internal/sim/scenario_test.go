package sim

import (
	"path/filepath"
	"testing"
	"time"
)

func TestParseScenarioErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"not_a_list.yaml", `testdata/not_a_list.yaml:1: want a list of steps such as "- at: 30s", got a mapping`},
		{"unknown_key.yaml", `testdata/unknown_key.yaml:3: unknown key "sett" (want at, set, restart or event)`},
		{"bad_duration.yaml", `testdata/bad_duration.yaml:1: at: want a duration such as 30s or 1m30s, got "soon"`},
		{"out_of_order.yaml", `testdata/out_of_order.yaml:3: at 10s is before the previous step's 30s: steps must be in time order`},
		{"unknown_fault.yaml", `testdata/unknown_fault.yaml:4: set: unknown fault field "bogus"; known fields: api_down, api_error_rate, api_latency_ms, auth_disabled, environment, fps, fps_jitter, memory_growth_mb_per_min, memory_mb, rate_limit_disabled, scene, telemetry_down, telemetry_encoding, telemetry_garbage, telemetry_silent, telemetry_timestamp, token_expired, vr_mode, whitelist_disabled`},
		{"wrong_type.yaml", `testdata/wrong_type.yaml:3: set: fault field "api_down": want bool, got JSON string`},
		{"bad_value.yaml", `testdata/bad_value.yaml:3: set: fault field "fps": must be >= 0, got -5`},
		{"missing_at.yaml", `testdata/missing_at.yaml:1: step has no "at" (e.g. at: 30s)`},
		{"nothing_to_do.yaml", `testdata/nothing_to_do.yaml:1: step has nothing to do: want set, restart or event`},
		{"event_without_name.yaml", `testdata/event_without_name.yaml:3: event: the event name is required (e.g. event: error)`},
		{"restart_unknown_key.yaml", `testdata/restart_unknown_key.yaml:2: restart: unknown key "versoin" (want version)`},
		{"syntax_error.yaml", `testdata/syntax_error.yaml: yaml: line 3: found character that cannot start any token`},
		{"duplicate_key.yaml", `testdata/duplicate_key.yaml:2: key "at" appears twice in this step`},
		{"empty.yaml", `testdata/empty.yaml: empty scenario: want a list of steps such as "- at: 30s" with "set: {fps: 60}"`},
		{"absent.yaml", `scenario: open testdata/absent.yaml: no such file or directory`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := LoadScenario(filepath.Join("testdata", tt.file))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("LoadScenario error:\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}
}

func TestParseScenarioValid(t *testing.T) {
	sc, err := LoadScenario("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(sc) != 5 {
		t.Fatalf("%d steps, want 5", len(sc))
	}
	if sc[1].At != 20*time.Millisecond || string(sc[1].Set) != `{"memory_growth_mb_per_min":10,"vr_mode":"desktop_fallback"}` || sc[1].Line != 4 {
		t.Errorf("step 2 = %+v", sc[1])
	}
	if sc[2].Restart == nil || *sc[2].Restart != "1.2.4" {
		t.Errorf("step 3 restart = %v", sc[2].Restart)
	}
	if ev := sc[3].Event; ev == nil || ev.Name != "error" || ev.Data["details"] != "File not found" {
		t.Errorf("step 4 event = %+v", ev)
	}
	if sc[4].Restart == nil || *sc[4].Restart != "" {
		t.Errorf("an empty restart: should keep the version, got %v", sc[4].Restart)
	}
}

func TestScenarioRuns(t *testing.T) {
	sc, err := LoadScenario("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := startTestSim(t, Options{Scenario: sc, AppVersion: "1.2.3"})
	events, unsubscribe := s.events.subscribe()
	defer unsubscribe()

	eventually(t, "the scenario's fault changes", func() bool {
		f := s.Faults()
		return f.FPS == 60 && f.VRMode == VRModeDesktopFallback && f.MemoryGrowthMBPerMin == 10
	})
	eventually(t, "both restarts", func() bool { return s.restartCount() == 2 })
	if v := s.inst().version; v != "1.2.4" {
		t.Errorf("version after the scenario = %q, want 1.2.4 (kept by the empty restart)", v)
	}
	select {
	case ev := <-events:
		if ev.Name != "error" {
			t.Errorf("event = %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the scenario's event never came")
	}
}
