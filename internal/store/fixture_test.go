package store

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite testdata/state-v1.db")

const fixture = "testdata/state-v1.db"

// writeFixture fills s with one of everything the schema holds.
func writeFixture(t *testing.T, s *Store) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	_, err := s.StartDeployment(Deployment{ID: "vr-1-fixture", Target: "vr-1", Version: "1.2.3", Source: SourceConfig,
		StartedAt: t0, InstanceStartedAt: t0.Add(-time.Minute)})
	mustDo(t, err)
	mustDo(t, s.RecordCheck("vr-1", CheckRecord{Check: "health", At: t0, Result: ResultFail,
		Observed: "503", Expected: "200", Reason: "HTTP 503", Duration: 1500 * time.Millisecond}))
	mustDo(t, s.PutRuleState("vr-1", "fps", []byte(`{"below_since":"2026-01-02T03:04:05Z"}`)))
	mustDo(t, s.PutMeta("monitor/instance/vr-1", []byte("pid 42")))
	_, err = s.OutboxAppend("slack", []byte(`{"text":"kept"}`))
	mustDo(t, err)
	seq, err := s.OutboxAppend("slack", []byte(`{"text":"dead"}`))
	mustDo(t, err)
	mustDo(t, s.OutboxDeadLetter("slack", seq, "channel_not_found"))
}

// TestSchemaV1Fixture reads a state file written by the first schema
// version. If it fails, the on-disk format changed: bump schemaVersion
// and migrate old files in initSchema; -update only once that is done.
func TestSchemaV1Fixture(t *testing.T) {
	clk := testkit.NewClock(t)
	if *update {
		dir := t.TempDir()
		s := openT(t, dir, Options{Now: func() time.Time { return time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC) }})
		writeFixture(t, s)
		mustDo(t, s.Close())
		b, err := os.ReadFile(filepath.Join(dir, "state.db"))
		mustDo(t, err)
		mustDo(t, os.WriteFile(fixture, b, 0o644))
	}
	b, err := os.ReadFile(fixture)
	mustDo(t, err)
	dir := t.TempDir()
	mustDo(t, os.WriteFile(filepath.Join(dir, "state.db"), b, 0o600))
	s := openT(t, dir, Options{Now: clk.Now})
	if rep := s.Report(); rep.Recovered || rep.Created {
		t.Fatalf("fixture: %s", rep)
	}

	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	wantD := Deployment{ID: "vr-1-fixture", Target: "vr-1", Version: "1.2.3", Source: SourceConfig,
		StartedAt: t0, InstanceStartedAt: t0.Add(-time.Minute)}
	if d, ok, err := s.DeploymentByID("vr-1-fixture"); err != nil || !ok || !sameDeployment(d, wantD) {
		t.Errorf("deployment = %+v, %v, %v; want %+v", d, ok, err, wantD)
	}
	wantC := CheckRecord{Check: "health", At: t0, Result: ResultFail, Observed: "503", Expected: "200",
		Reason: "HTTP 503", Duration: 1500 * time.Millisecond}
	if h, err := s.CheckHistory("vr-1", time.Time{}); err != nil || len(h) != 1 || !sameCheck(h[0], wantC) {
		t.Errorf("checks = %+v, %v; want %+v", h, err, wantC)
	}
	if rs, err := s.RuleStates("vr-1"); err != nil || string(rs["fps"]) != `{"below_since":"2026-01-02T03:04:05Z"}` {
		t.Errorf("rule states = %q, %v", rs, err)
	}
	if v, _, err := s.GetMeta("monitor/instance/vr-1"); err != nil || string(v) != "pid 42" {
		t.Errorf("meta = %q, %v", v, err)
	}
	if got := payloads(t, s, "slack", 0); got != `{"text":"kept"}` {
		t.Errorf("outbox = %s", got)
	}
	dl, err := s.DeadLetters("slack")
	if err != nil || len(dl) != 1 || string(dl[0].Payload) != `{"text":"dead"}` || dl[0].Reason != "channel_not_found" ||
		!dl[0].At.Equal(time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)) {
		t.Errorf("dead letters = %+v, %v", dl, err)
	}
	checkInvariants(t, s)
}
