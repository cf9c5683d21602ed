package store

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkRecordCheck measures one check record per call: one fsynced
// transaction, with trimming of a full history (CheckHistory records).
func BenchmarkRecordCheck(b *testing.B) {
	s := openT(b, b.TempDir(), Options{CheckHistory: 2000})
	r := CheckRecord{Check: "health", Result: ResultPass, Observed: "200", Expected: "200", Duration: 12 * time.Millisecond}
	for b.Loop() {
		if err := s.RecordCheck("vr-1", r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordCheckPoll measures a poll's worth, ten records in one call.
func BenchmarkRecordCheckPoll(b *testing.B) {
	s := openT(b, b.TempDir(), Options{CheckHistory: 2000})
	recs := make([]CheckRecord, 10)
	for i := range recs {
		recs[i] = CheckRecord{Check: fmt.Sprintf("check-%d", i), Result: ResultPass, Observed: "ok", Expected: "ok"}
	}
	for b.Loop() {
		if err := s.RecordCheck("vr-1", recs...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen measures start-up on a state of 2000 check records and 50
// deployments: the full verification (walk, bbolt Check) included.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	s := openT(b, dir, Options{})
	recs := make([]CheckRecord, 2000)
	for i := range recs {
		recs[i] = CheckRecord{Check: "health", Result: ResultFail, Reason: "HTTP 503 from /status after 10s"}
	}
	if err := s.RecordCheck("vr-1", recs...); err != nil {
		b.Fatal(err)
	}
	for range 50 {
		if _, err := s.StartDeployment(Deployment{Target: "vr-1", Source: SourceAPI}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s, err := Open(dir, testOptions(Options{}))
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
