package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
	bolt "go.etcd.io/bbolt"
)

// rollupAts lists records as minute=value, minutes counted from t0.
func rollupAts(recs []RollupRecord, t0 time.Time) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%g=%s ", r.At.Sub(t0).Minutes(), r.Value)
	}
	return strings.TrimSpace(b.String())
}

func TestRollupsPutReplaceAndRange(t *testing.T) {
	clk := testkit.NewClock(t)
	s := openT(t, t.TempDir(), Options{Now: clk.Now})
	t0 := clk.Now().Truncate(time.Minute)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

	v := []byte("b")
	mustDo(t, s.PutRollups("vr", RollupRecord{At: at(2), Value: []byte("c")}, RollupRecord{At: at(0), Value: []byte("a")}))
	mustDo(t, s.PutRollups("vr", RollupRecord{At: at(1), Value: v}))
	v[0] = 'X' // the store keeps its own copy
	// A second put at the same time replaces the first.
	mustDo(t, s.PutRollups("vr", RollupRecord{At: at(2), Value: []byte("C")}))
	mustDo(t, s.PutRollups("other", RollupRecord{At: at(1), Value: []byte("o")}))

	tests := []struct {
		name     string
		target   string
		from, to time.Time
		want     string
	}{
		{"all", "vr", time.Time{}, time.Time{}, "0=a 1=b 2=C"},
		{"from is inclusive", "vr", at(1), time.Time{}, "1=b 2=C"},
		{"to is exclusive", "vr", at(0), at(2), "0=a 1=b"},
		{"between minutes", "vr", at(0).Add(time.Second), at(2).Add(time.Second), "1=b 2=C"},
		{"empty range", "vr", at(3), at(9), ""},
		{"other target", "other", time.Time{}, time.Time{}, "1=o"},
		{"unknown target", "nobody", time.Time{}, time.Time{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Rollups(tt.target, tt.from, tt.to)
			mustDo(t, err)
			if g := rollupAts(got, t0); g != tt.want {
				t.Errorf("Rollups = %q, want %q", g, tt.want)
			}
		})
	}
	if u, err := s.RollupUsage("vr"); err != nil || u.Records != 3 || u.Bytes <= 0 {
		t.Errorf("RollupUsage(vr) = %+v, %v; want 3 records", u, err)
	}
	checkInvariants(t, s)
}

// TestPutRollupsWithNoRecordsTrims: a put with no records still deletes
// the rollups past the retention.
func TestPutRollupsWithNoRecordsTrims(t *testing.T) {
	clk := testkit.NewClock(t)
	s := openT(t, t.TempDir(), Options{Now: clk.Now, NoSync: true, RollupRetention: 30 * time.Minute})
	t0 := clk.Now()
	mustDo(t, s.PutRollups("vr", RollupRecord{At: t0, Value: []byte("a")}, RollupRecord{At: t0.Add(10 * time.Minute), Value: []byte("b")}))
	clk.Advance(35 * time.Minute)
	mustDo(t, s.PutRollups("vr"))
	got, err := s.Rollups("vr", time.Time{}, time.Time{})
	mustDo(t, err)
	if len(got) != 1 || !got[0].At.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("after an empty put 35 min on, kept %v; want the one of minute 10 alone", got)
	}
	checkInvariants(t, s)
}

func TestRollupsAreBounded(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		minutes int           // one rollup a minute, the clock following
		want    int           // records kept
		oldest  time.Duration // age of the oldest kept, at the end
	}{
		{"retention", Options{RollupRetention: 30 * time.Minute}, 100, 31, 30 * time.Minute},
		{"history", Options{RollupHistory: 10}, 100, 10, 9 * time.Minute},
		{"defaults keep 48 h", Options{}, 49 * 60, 48*60 + 1, 48 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := testkit.NewClock(t)
			tt.opts.Now, tt.opts.NoSync = clk.Now, true
			s := openT(t, t.TempDir(), tt.opts)
			for range tt.minutes {
				mustDo(t, s.PutRollups("vr", RollupRecord{At: clk.Now(), Value: []byte("x")}))
				clk.Advance(time.Minute)
			}
			clk.Advance(-time.Minute) // back to the last put
			got, err := s.Rollups("vr", time.Time{}, time.Time{})
			mustDo(t, err)
			if len(got) != tt.want {
				t.Fatalf("kept %d rollups, want %d", len(got), tt.want)
			}
			if age := clk.Now().Sub(got[0].At); age != tt.oldest {
				t.Errorf("oldest kept is %v old, want %v", age, tt.oldest)
			}
			checkInvariants(t, s)
		})
	}
}

func TestPutRollupsRefusesBadInput(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	tests := []struct {
		name   string
		target string
		rec    RollupRecord
		want   string
	}{
		{"empty target", "", RollupRecord{At: time.Now(), Value: []byte("x")}, "rollup target is empty"},
		{"zero time", "vr", RollupRecord{Value: []byte("x")}, "record 0: At is zero"},
		{"too large", "vr", RollupRecord{At: time.Now(), Value: make([]byte, MaxRollupBytes+1)}, "more than 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.PutRollups(tt.target, tt.rec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("PutRollups = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if got, _ := s.Rollups("vr", time.Time{}, time.Time{}); len(got) != 0 {
		t.Errorf("a refused put stored %d rollups", len(got))
	}
}

// realisticRollup is a minute as JSON with the review package's short keys
// and rounded figures (about 200 bytes): five times what the review
// package's binary minutes take, so the bound below holds with room.
// Telemetry every minute, a round of checks every fifth with the
// instance's counters.
func realisticRollup(i int) []byte {
	v := fmt.Sprintf(`{"v":1,"fps_n":60,"fps_in_band":%d,"fps_min":%.2f,"fps_mean":%.2f,"fps_low1":%.2f,`+
		`"mem_n":60,"mem_max":%.2f,"mem_mean":%.2f,"own_req":%d,"tel":true,"vr":true`,
		55+i%6, 84+float64(i%97)/13, 89+float64(i%89)/17, 84.5+float64(i%83)/19, 250+float64(i%211)/7, 249+float64(i%199)/7, 1+i%3)
	if i%5 == 0 {
		v += fmt.Sprintf(`,"checks":10,"checks_passed":%d,"lat_p50":%.4f,"lat_p95":%.4f,"rate_limit_pass":true,`+
			`"own_401":%d,"own_429":1,"req":%d,"err":%d,"auth_fail":%d,"rl_viol":%d`,
			9+i%2, 0.0123+float64(i%7)/1e4, 0.0456+float64(i%11)/1e4, i%2, 100000+i*37, 12+i/100, 3+i/500, i/700)
	}
	return []byte(v + "}")
}

// TestRollupSize48h measures what the issue bounds: 48 h of minutes for
// one target take at most 1 MB of the file, even as JSON (the review
// package measures its own encoding too).
func TestRollupSize48h(t *testing.T) {
	clk := testkit.NewClock(t)
	dir := t.TempDir()
	s := openT(t, dir, Options{Now: clk.Now, NoSync: true})
	start := clk.Now()
	const minutes = 48 * 60
	var valueBytes int
	for i := range minutes {
		v := realisticRollup(i)
		valueBytes += len(v)
		mustDo(t, s.PutRollups("vr-1", RollupRecord{At: start.Add(time.Duration(i) * time.Minute), Value: v}))
	}
	clk.Advance(minutes * time.Minute)
	u, err := s.RollupUsage("vr-1")
	mustDo(t, err)
	fi, err := os.Stat(filepath.Join(dir, dbFile))
	mustDo(t, err)
	t.Logf("48 h of rollups: %d records, values %d B (%.0f B each), pages %d B; state.db %d B",
		u.Records, valueBytes, float64(valueBytes)/minutes, u.Bytes, fi.Size())
	if u.Records != minutes {
		t.Errorf("kept %d rollups, want %d", u.Records, minutes)
	}
	if u.Bytes > 1<<20 {
		t.Errorf("48 h of rollups take %d bytes, more than 1 MiB", u.Bytes)
	}
	checkInvariants(t, s)
}

func TestReviewMarkers(t *testing.T) {
	s := openT(t, t.TempDir(), Options{DeploymentHistory: 2})
	if err := s.PutReviewMarker("nope", "hour-1", []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("marker of an unknown deployment: %v, want ErrNotFound", err)
	}
	d1, err := s.StartDeployment(Deployment{Target: "vr", Source: SourceAPI})
	mustDo(t, err)
	v := []byte(`{"state":"delivering"}`)
	mustDo(t, s.PutReviewMarker(d1.ID, "hour-1", v))
	v[2] = 'X'
	mustDo(t, s.PutReviewMarker(d1.ID, "hour-4", []byte("a")))
	mustDo(t, s.PutReviewMarker(d1.ID, "hour-4", []byte("b"))) // replaces
	got, err := s.ReviewMarkers(d1.ID)
	mustDo(t, err)
	if len(got) != 2 || string(got["hour-1"]) != `{"state":"delivering"}` || string(got["hour-4"]) != "b" {
		t.Errorf("ReviewMarkers = %q", got)
	}
	if got, err := s.ReviewMarkers("nope"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("ReviewMarkers(nope) = %v, %v; want an empty map", got, err)
	}
	for _, bad := range []struct{ id, name string }{{"", "hour-1"}, {d1.ID, ""}} {
		if err := s.PutReviewMarker(bad.id, bad.name, nil); err == nil {
			t.Errorf("PutReviewMarker(%q, %q) accepted", bad.id, bad.name)
		}
	}
	if err := s.PutReviewMarker(d1.ID, "big", make([]byte, maxMarkerBytes+1)); err == nil {
		t.Errorf("a marker of %d bytes was accepted", maxMarkerBytes+1)
	}

	// Markers go with their deployment when it leaves the history...
	for range 2 {
		_, err := s.StartDeployment(Deployment{Target: "vr", Source: SourceAPI})
		mustDo(t, err)
	}
	if got, _ := s.ReviewMarkers(d1.ID); len(got) != 0 {
		t.Errorf("markers of a trimmed deployment kept: %q", got)
	}
	// ...and with their target.
	cur, _, err := s.CurrentDeployment("vr")
	mustDo(t, err)
	mustDo(t, s.PutReviewMarker(cur.ID, "hour-1", []byte("x")))
	mustDo(t, s.PutRollups("vr", RollupRecord{At: time.Now(), Value: []byte("r")}))
	mustDo(t, s.DeleteTarget("vr"))
	if got, _ := s.ReviewMarkers(cur.ID); len(got) != 0 {
		t.Errorf("markers of a deleted target kept: %q", got)
	}
	if got, _ := s.Rollups("vr", time.Time{}, time.Time{}); len(got) != 0 {
		t.Errorf("rollups of a deleted target kept: %d", len(got))
	}
	checkInvariants(t, s)
}

// TestSchemaV1FixtureGainsReviewBuckets opens a file written before the
// rollups and review markers existed and uses both: Open adds the buckets
// without a schema change.
func TestSchemaV1FixtureGainsReviewBuckets(t *testing.T) {
	b, err := os.ReadFile(fixture)
	mustDo(t, err)
	dir := t.TempDir()
	mustDo(t, os.WriteFile(filepath.Join(dir, dbFile), b, 0o600))
	s := openT(t, dir, Options{})
	if rep := s.Report(); rep.Recovered || rep.Created {
		t.Fatalf("fixture: %s", rep)
	}
	mustDo(t, s.PutRollups("vr-1", RollupRecord{At: time.Now(), Value: []byte("r")}))
	mustDo(t, s.PutReviewMarker("vr-1-fixture", "hour-1", []byte("m")))
	if got, err := s.ReviewMarkers("vr-1-fixture"); err != nil || string(got["hour-1"]) != "m" {
		t.Errorf("ReviewMarkers = %q, %v", got, err)
	}
	checkInvariants(t, s)
}

// rollupBatch is a batch of targets "vr-000"... with minutes from..to-1
// (after t0) each, every value valueBytes long and naming its minute.
func rollupBatch(t0 time.Time, targets, from, to, valueBytes int) map[string][]RollupRecord {
	batch := make(map[string][]RollupRecord, targets)
	for i := range targets {
		var recs []RollupRecord
		for m := from; m < to; m++ {
			v := []byte(strings.Repeat(" ", valueBytes-len(strconv.Itoa(m))) + strconv.Itoa(m))
			recs = append(recs, RollupRecord{At: t0.Add(time.Duration(m) * time.Minute), Value: v})
		}
		batch[fmt.Sprintf("vr-%03d", i)] = recs
	}
	return batch
}

// lastTxID is the ID of the last committed write transaction.
func lastTxID(t *testing.T, s *Store) (id int) {
	t.Helper()
	mustDo(t, s.view("txid", func(tx *bolt.Tx) error { id = tx.ID(); return nil }))
	return id
}

// TestPutRollupsManyIsPutRollupsPerTarget writes several targets in one
// commit, each replaced and trimmed as PutRollups does it.
func TestPutRollupsManyIsPutRollupsPerTarget(t *testing.T) {
	clk := testkit.NewClock(t)
	s := openT(t, t.TempDir(), Options{Now: clk.Now, RollupHistory: 3})
	t0 := clk.Now().Truncate(time.Minute)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	r := func(m int, v string) RollupRecord { return RollupRecord{At: at(m), Value: []byte(v)} }

	mustDo(t, s.PutRollups("a", r(0, "a0"), r(1, "a1")))
	before := lastTxID(t, s)
	mustDo(t, s.PutRollupsMany(map[string][]RollupRecord{
		"a": {r(1, "A1"), r(2, "a2"), r(3, "a3")}, // replaces minute 1, trims minute 0
		"b": {r(0, "b0")},
		"c": {r(-1, "c-1"), r(0, "c0")},
	}))
	if got := lastTxID(t, s); got != before+1 {
		t.Errorf("the batch took %d commits, want 1", got-before)
	}
	for target, want := range map[string]string{"a": "1=A1 2=a2 3=a3", "b": "0=b0", "c": "-1=c-1 0=c0"} {
		got, err := s.Rollups(target, time.Time{}, time.Time{})
		mustDo(t, err)
		if g := rollupAts(got, t0); g != want {
			t.Errorf("Rollups(%s) = %q, want %q", target, g, want)
		}
	}

	// Nothing to write: no transaction.
	before = lastTxID(t, s)
	mustDo(t, s.PutRollupsMany(nil))
	mustDo(t, s.PutRollupsMany(map[string][]RollupRecord{}))
	if got := lastTxID(t, s); got != before {
		t.Errorf("an empty batch committed %d transactions", got-before)
	}
	checkInvariants(t, s)
}

// TestPutRollupsManyRefusesAllOrNothing: one target's bad record refuses
// the batch, naming the target and the record; no target gets anything.
func TestPutRollupsManyRefusesAllOrNothing(t *testing.T) {
	clk := testkit.NewClock(t)
	s := openT(t, t.TempDir(), Options{Now: clk.Now})
	good := []RollupRecord{{At: clk.Now(), Value: []byte("x")}}
	tests := []struct {
		name  string
		batch map[string][]RollupRecord
		want  string
	}{
		{"empty target", map[string][]RollupRecord{"a": good, "": good}, "rollup target is empty"},
		{"zero time", map[string][]RollupRecord{"a": good, "b": {good[0], {Value: []byte("x")}}}, "put rollups on b: record 1: At is zero"},
		{"too large", map[string][]RollupRecord{"z": {{At: clk.Now(), Value: make([]byte, MaxRollupBytes+1)}}, "a": good}, "put rollups on z: record 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.PutRollupsMany(tt.batch)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("PutRollupsMany = %v, want an error containing %q", err, tt.want)
			}
			if check := CheckRollups("b", tt.batch["b"]); (tt.name == "zero time") != (check != nil) {
				t.Errorf("CheckRollups(b) = %v, disagreeing with PutRollupsMany", check)
			}
			for target := range tt.batch {
				if got, _ := s.Rollups(target, time.Time{}, time.Time{}); len(got) != 0 {
					t.Errorf("a refused batch stored %d rollups of %q", len(got), target)
				}
			}
		})
	}
}

// TestPutRollupsManyFailedWriteKeepsNothing fails a batch of 200 targets
// on a full disk (RLIMIT_FSIZE, in a helper process): none of the batch is
// stored, the same batch goes through once there is room, and a restart
// finds every minute of both batches.
func TestPutRollupsManyFailedWriteKeepsNothing(t *testing.T) {
	dir := t.TempDir()
	runFullDiskHelper(t, "fsize-rollups", dir)

	s := openT(t, dir, Options{Now: helperRollupNow})
	if rep := s.Report(); rep.Recovered {
		t.Fatalf("state after a failed batch judged damaged: %s", rep)
	}
	want := rollupBatch(helperRollupNow(), helperRollupTargets, 0, 7, MaxRollupBytes)
	for target, recs := range want {
		got, err := s.Rollups(target, time.Time{}, time.Time{})
		mustDo(t, err)
		if g, w := rollupAts(got, helperRollupNow()), rollupAts(recs, helperRollupNow()); g != w {
			t.Fatalf("Rollups(%s) after the restart:\n got %.80q\nwant %.80q", target, g, w)
		}
	}
	checkInvariants(t, s)
}
