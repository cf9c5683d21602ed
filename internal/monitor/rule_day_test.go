package monitor

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

var updateRulesGolden = flag.Bool("update-rules-golden", false, "rewrite testdata/rules_*.golden from the current rules")

// TestRuleEngineDay plays a scripted 24-hour day at 2 samples/s under a
// controlled clock, with the watcher's one-second tick, and checks every
// transition against the script and against testdata/rules_day.golden
// (rewrite with -update-rules-golden after an intended change, and read
// the diff).
func TestRuleEngineDay(t *testing.T) {
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	rng := rand.New(rand.NewPCG(24, 1))
	healthyFPS := jitter(steady(90), 1.5, rng)
	healthyMem := jitter(steady(150), 2, rng)
	until := func(hhmm string, fps, mem signal) {
		d, err := time.ParseDuration(hhmm)
		if err != nil {
			t.Fatal(err)
		}
		r.play(r.start.Add(d).Sub(r.now), fps, mem)
	}
	outage := func(state StreamState, d time.Duration) {
		r.stream(state)
		r.idle(d)
		r.stream(StreamConnected)
	}

	r.stream(StreamConnected)
	until("2h", healthyFPS, healthyMem)
	until("2h10m", jitter(steady(60), 1.5, rng), healthyMem) // a heavy scene
	until("4h", healthyFPS, healthyMem)
	until("4h5m", jitter(steady(30), 1.5, rng), healthyMem) // a deep drop
	until("6h", healthyFPS, healthyMem)
	until("6h3m", jitter(steady(120), 1.5, rng), healthyMem) // vsync off
	until("8h", healthyFPS, healthyMem)
	until("9h", square(80, 90, 30*time.Second), healthyMem) // flapping: no notification
	until("10h", healthyFPS, healthyMem)
	until("10h30m", healthyFPS, jitter(ramp(150, 15), 2, rng)) // a leak: 150 → 600 MB
	until("11h", healthyFPS, jitter(steady(600), 2, rng))
	outage(StreamDisconnected, 20*time.Second) // the instance restarts
	until("14h", healthyFPS, healthyMem)
	outage(StreamDisconnected, 5*time.Minute) // telemetry server down
	until("16h", healthyFPS, healthyMem)
	outage(StreamSilent, 3*time.Minute) // half-open stream
	until("24h", healthyFPS, healthyMem)
	got := r.events

	// The script's transitions, each within its window of the day.
	expected := []struct {
		event  string
		from   string
		before string
	}{
		{"fps_low firing", "2h1m", "2h1m5s"},
		{"fps_low resolved", "2h11m", "2h11m5s"},
		{"fps_low firing", "4h1m", "4h1m5s"},
		{"fps_critical firing", "4h1m", "4h1m5s"},
		{"fps_critical resolved", "4h6m", "4h6m5s"},
		{"fps_low resolved", "4h6m", "4h6m5s"},
		{"fps_high firing", "6h1m", "6h1m5s"},
		{"fps_high resolved", "6h4m", "6h4m5s"},
		// The window is already full of flat data when the leak starts: the
		// slope of the hinge passes 10 MB/min after ~9 min of leak, + for.
		{"memory_growth firing", "10h9m", "10h12m"},
		{"memory_high firing", "10h17m30s", "10h18m"},
		{"memory_growth resolved", "10h30m", "10h45m"},
		{"memory_high resolved", "11h1m20s", "11h1m30s"},
		{"telemetry_down firing", "14h2m", "14h2m1s"},
		{"telemetry_down resolved", "14h6m", "14h6m1s"},
		{"telemetry_silent firing", "16h2m", "16h2m1s"},
		{"telemetry_silent resolved", "16h4m", "16h4m1s"},
	}
	if len(got) != len(expected) {
		t.Errorf("%d events, want %d:\n%s", len(got), len(expected), strings.Join(eventNames(got), "\n"))
	}
	for i := range min(len(got), len(expected)) {
		ev, want := got[i], expected[i]
		from, _ := time.ParseDuration(want.from)
		before, _ := time.ParseDuration(want.before)
		at := ev.At.Sub(r.start)
		if name := ev.Name + " " + string(ev.State); name != want.event || at < from || at >= before {
			t.Errorf("event %d: %s at +%s, want %s in [+%s, +%s)", i+1, name, at, want.event, from, before)
		}
	}
	for _, s := range r.e.States() {
		if s.State != RuleInactive {
			t.Errorf("%s %s at the end of the day, want inactive", s.Rule, s.State)
		}
	}

	var b strings.Builder
	b.WriteString("# at (since start)  rule  state  observed  expected  reason\n")
	for _, ev := range got {
		fmt.Fprintf(&b, "+%-10s %-16s %-8s %-17s %-17s %s\n", ev.At.Sub(r.start), ev.Name, ev.State, ev.Observed, ev.Expected, ev.Reason)
	}
	golden := filepath.Join("testdata", "rules_day.golden")
	if *updateRulesGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update-rules-golden to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("the day's events differ from %s:\n got:\n%s\nwant:\n%s", golden, b.String(), want)
	}
}
