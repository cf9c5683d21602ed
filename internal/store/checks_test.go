package store

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestCheckHistoryOrderAndSince(t *testing.T) {
	clk := testkit.NewClock(t)
	s := openT(t, t.TempDir(), Options{Now: clk.Now})
	t0 := clk.Now()
	// Out of order, and two at the same instant: history is by At, then arrival.
	mustDo(t, s.RecordCheck("vr",
		CheckRecord{Check: "c", At: t0.Add(2 * time.Minute), Observed: "2"},
		CheckRecord{Check: "c", At: t0, Observed: "0a"},
		CheckRecord{Check: "c", At: t0, Observed: "0b"},
		CheckRecord{Check: "c", At: t0.Add(time.Minute), Observed: "1"},
	))
	mustDo(t, s.RecordCheck("other", CheckRecord{Check: "c", At: t0, Observed: "other"}))

	tests := []struct {
		since time.Time
		want  string
	}{
		{time.Time{}, "0a 0b 1 2"},
		{t0, "0a 0b 1 2"},
		{t0.Add(time.Nanosecond), "1 2"},
		{t0.Add(time.Minute), "1 2"},
		{t0.Add(time.Hour), ""},
	}
	for _, tt := range tests {
		got, err := s.CheckHistory("vr", tt.since)
		mustDo(t, err)
		if obs := observed(got); obs != tt.want {
			t.Errorf("CheckHistory(since %v) = %q, want %q", tt.since.Sub(t0), obs, tt.want)
		}
	}
	if got, _ := s.CheckHistory("nobody", time.Time{}); got != nil {
		t.Errorf("CheckHistory of an unknown target = %+v, want none", got)
	}
}

func TestCheckHistoryIsBounded(t *testing.T) {
	t.Run("by age", func(t *testing.T) {
		clk := testkit.NewClock(t)
		s := openT(t, t.TempDir(), Options{Now: clk.Now}) // default retention: 48h
		for i := range 50 {
			mustDo(t, s.RecordCheck("vr", CheckRecord{Check: "c", Observed: strconv.Itoa(i)}))
			clk.Advance(time.Hour)
		}
		// The last write was at t0+49h: the record from t0 was older than
		// 48h then and went; the one from t0+1h is exactly 48h old and stays.
		got, err := s.CheckHistory("vr", time.Time{})
		mustDo(t, err)
		if len(got) != 49 || got[0].Observed != "1" {
			t.Errorf("history holds %d records from %q, want 49 from 1", len(got), got[0].Observed)
		}
		checkInvariants(t, s)
	})
	t.Run("by count", func(t *testing.T) {
		s := openT(t, t.TempDir(), Options{CheckHistory: 10})
		var recs []CheckRecord
		for i := range 25 {
			recs = append(recs, CheckRecord{Check: "c", Observed: strconv.Itoa(i)})
		}
		mustDo(t, s.RecordCheck("vr", recs...))
		mustDo(t, s.RecordCheck("vr", CheckRecord{Check: "c", Observed: "25"}))
		got, err := s.CheckHistory("vr", time.Time{})
		mustDo(t, err)
		if obs := observed(got); obs != "16 17 18 19 20 21 22 23 24 25" {
			t.Errorf("history = %q, want the 10 newest", obs)
		}
		checkInvariants(t, s)
	})
}

func TestRecordCheckValidatesAndDoesNotTouchTheCallersSlice(t *testing.T) {
	clk := testkit.NewClock(t)
	s := openT(t, t.TempDir(), Options{Now: clk.Now})
	recs := []CheckRecord{{Check: "ok"}}
	mustDo(t, s.RecordCheck("vr", recs...))
	if !recs[0].At.IsZero() {
		t.Errorf("RecordCheck set At in the caller's slice")
	}
	if got, _ := s.CheckHistory("vr", time.Time{}); len(got) != 1 || !got[0].At.Equal(clk.Now()) {
		t.Errorf("At defaulted to %+v, want now", got)
	}

	for _, tt := range []struct {
		name   string
		target string
		rec    CheckRecord
		want   string
	}{
		{"no target", "", CheckRecord{Check: "c"}, "check target is empty"},
		{"no check name", "vr", CheckRecord{Result: ResultPass}, "record 0: check name is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.RecordCheck(tt.target, tt.rec); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("RecordCheck = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// A bad record refuses the whole batch.
	if err := s.RecordCheck("vr", CheckRecord{Check: "good"}, CheckRecord{}); err == nil {
		t.Fatal("batch with a bad record accepted")
	}
	if got, _ := s.CheckHistory("vr", time.Time{}); len(got) != 1 {
		t.Errorf("part of a refused batch was recorded: %+v", got)
	}
}

func observed(rs []CheckRecord) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Observed)
	}
	return strings.Join(out, " ")
}
