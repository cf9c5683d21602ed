package store

import (
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestPruneTargets: a removed target's history stays until retention, then
// goes, and the target is forgotten; a configured target's is untouched
// (its own records trim it).
func TestPruneTargets(t *testing.T) {
	clk := testkit.NewClock(t)
	s := openT(t, t.TempDir(), Options{Now: clk.Now})
	t0 := clk.Now()
	for _, target := range []string{"kept", "removed"} {
		mustDo(t, s.RecordCheck(target, CheckRecord{Check: "c", At: t0, Observed: target}))
		mustDo(t, s.PutRollups(target, RollupRecord{At: t0, Value: []byte("{}")}))
	}
	history := func(target string) (checks, rollups int) {
		c, err := s.CheckHistory(target, time.Time{})
		mustDo(t, err)
		r, err := s.Rollups(target, time.Time{}, t0.Add(time.Hour))
		mustDo(t, err)
		return len(c), len(r)
	}

	clk.Advance(47 * time.Hour)
	gone, err := s.PruneTargets([]string{"kept"})
	mustDo(t, err)
	if c, r := history("removed"); len(gone) != 0 || c != 1 || r != 1 {
		t.Errorf("within retention: forgotten %v, removed keeps %d checks, %d rollups; want nothing forgotten, 1 and 1", gone, c, r)
	}

	clk.Advance(2 * time.Hour) // past 48 h
	gone, err = s.PruneTargets([]string{"kept"})
	mustDo(t, err)
	if strings.Join(gone, ",") != "removed" {
		t.Errorf("forgotten %v, want [removed]", gone)
	}
	if c, r := history("removed"); c != 0 || r != 0 {
		t.Errorf("removed keeps %d checks, %d rollups after retention, want none", c, r)
	}
	if c, r := history("kept"); c != 1 || r != 1 {
		t.Errorf("kept has %d checks, %d rollups, want its own untouched", c, r)
	}
}
