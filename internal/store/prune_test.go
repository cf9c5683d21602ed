package store

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestStaleTargets: a removed target is stale once its newest history is
// past retention, and DeleteTarget then drops it; a configured target
// never is, whatever its age.
func TestStaleTargets(t *testing.T) {
	clk := testkit.NewClock(t)
	s := openT(t, t.TempDir(), Options{Now: clk.Now})
	t0 := clk.Now()
	for _, target := range []string{"kept", "removed"} {
		mustDo(t, s.RecordCheck(target, CheckRecord{Check: "c", At: t0, Observed: target}))
		mustDo(t, s.PutRollups(target, RollupRecord{At: t0, Value: []byte("{}")}))
	}
	clk.Advance(47 * time.Hour)
	stale, err := s.StaleTargets([]string{"kept"})
	mustDo(t, err)
	if len(stale) != 0 {
		t.Errorf("within retention: stale %v, want none (removed keeps its history until retention)", stale)
	}
	clk.Advance(2 * time.Hour) // past 48 h
	stale, err = s.StaleTargets([]string{"kept"})
	mustDo(t, err)
	if strings.Join(stale, ",") != "removed" {
		t.Fatalf("stale %v, want [removed]", stale)
	}
	mustDo(t, s.DeleteTarget("removed"))
	if stale, err = s.StaleTargets([]string{"kept"}); err != nil || len(stale) != 0 {
		t.Errorf("after DeleteTarget: stale %v, %v; want none", stale, err)
	}
	if c, err := s.CheckHistory("kept", time.Time{}); err != nil || len(c) != 1 {
		t.Errorf("kept has %d checks (%v), want its own untouched", len(c), err)
	}

	// A target removed before its first round has only a deployment:
	// its start is its history, kept until retention too.
	_, err = s.StartDeployment(Deployment{Target: "brief", Version: "1", Source: SourceAPI})
	mustDo(t, err)
	if stale, err = s.StaleTargets([]string{"kept"}); err != nil || len(stale) != 0 {
		t.Errorf("a removed target with a new deployment only: stale %v, %v; want none until retention", stale, err)
	}
	clk.Advance(49 * time.Hour)
	if stale, err = s.StaleTargets([]string{"kept"}); err != nil || !slices.Contains(stale, "brief") {
		t.Errorf("past retention: stale %v, %v; want brief among them", stale, err)
	}
}
