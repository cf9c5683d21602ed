package review

import (
	"encoding/binary"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func svcPtr(v float64) *float64 { return &v }

// svcRealisticMinute is minute i of a healthy day: 10 Hz telemetry every
// minute, a round of ten checks every fifth with the instance's counters.
func svcRealisticMinute(at time.Time, i int) Minute {
	f := float64(i)
	m := Minute{
		At:         at,
		FPSSamples: 600, FPSInBand: 570 + i%30,
		FPSMin: 83.123456 + math.Mod(f, 7)/3, FPSMean: 89.987654 + math.Mod(f, 11)/7, FPSLow1: 84.55555 + math.Mod(f, 5)/9,
		MemorySamples: 600, MemoryMaxMB: 250.123456 + f/97, MemoryMeanMB: 249.87654 + f/101,
		OwnRequests: 1 + i%3, TelemetryConnected: true, VRInitialized: true,
	}
	if i%5 == 0 {
		m.Checks, m.ChecksPassed = 10, 9+i%2
		m.LatencyP50, m.LatencyP95 = 0.012345678+f/1e7, 0.045678912+f/1e7
		m.RateLimitPass = true
		m.OwnUnauthorized, m.OwnRateLimited = i%2, 1
		m.Requests, m.Errors = svcPtr(100000+37*f), svcPtr(12+f/100)
		m.AuthFailures, m.RateLimitViolations = svcPtr(3+f/500), svcPtr(f/700)
	}
	return m
}

func TestMinuteCodecRoundTrip(t *testing.T) {
	at := testkit.BaseTime(t).Add(34 * time.Minute)
	full := svcRealisticMinute(at, 5)
	full.RateLimitFail, full.OwnErrors, full.Restarts, full.DesktopFallback = true, 7, 2, true
	full.Requests = svcPtr(1.5e12) // counters keep every digit
	rounded := full
	rounded.FPSMin, rounded.FPSMean, rounded.FPSLow1 = 84.79, 90.7, 84.56
	rounded.MemoryMaxMB, rounded.MemoryMeanMB = 250.18, 249.93
	rounded.LatencyP50, rounded.LatencyP95 = 0.01235, 0.04568
	tests := []struct {
		name    string
		in, out Minute
	}{
		{"empty", Minute{At: at}, Minute{At: at}},
		{"every field", full, rounded},
		{"not finite is not stored", Minute{At: at, FPSMean: math.NaN(), MemoryMaxMB: math.Inf(1)}, Minute{At: at}},
		{"negative", Minute{At: at, FPSMin: -1.5, OwnErrors: -3}, Minute{At: at, FPSMin: -1.5, OwnErrors: -3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeMinute(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeMinute(at, b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.out) {
				t.Errorf("round trip (%d bytes):\n got %+v\nwant %+v", len(b), got, tt.out)
			}
		})
	}
	good, _ := encodeMinute(full)
	for name, bad := range map[string][]byte{
		"empty":          nil,
		"newer codec":    {2, 0},
		"cut short":      good[:len(good)-3],
		"trailing bytes": append(append([]byte{}, good...), 0),
		"unknown field":  binary.AppendUvarint([]byte{1}, 1<<len(minuteFields)),
	} {
		if _, err := decodeMinute(at, bad); err == nil {
			t.Errorf("%s: decodeMinute(%x) accepted", name, bad)
		}
	}
}

// TestMinuteCodecCoversMinute fails when the contract's Minute gains a
// field the codec does not store (it would be dropped silently).
func TestMinuteCodecCoversMinute(t *testing.T) {
	known := map[string]bool{"At": true} // the store's key
	for _, f := range minuteFields {
		if known[f.name] {
			t.Errorf("minuteFields lists %s twice", f.name)
		}
		known[f.name] = true
	}
	typ := reflect.TypeFor[Minute]()
	for i := range typ.NumField() {
		if name := typ.Field(i).Name; !known[name] {
			t.Errorf("Minute.%s is not stored: add it at the end of minuteFields in service_rollups.go", name)
		}
		delete(known, typ.Field(i).Name)
	}
	for name := range known {
		t.Errorf("minuteFields lists %s, which Minute does not have", name)
	}
	if len(minuteFields) > 64 {
		t.Errorf("%d fields do not fit the 64-bit mask", len(minuteFields))
	}
}

// TestRollupSize48h measures what the issue bounds: 48 h of one target's
// minutes, encoded as the service stores them, take at most 1 MB of the
// state file (bbolt's pages, keys and overhead included), realistic
// minutes and minutes with every field set alike.
func TestRollupSize48h(t *testing.T) {
	const minutes = 48 * 60
	t0 := testkit.BaseTime(t)
	st, err := store.Open(t.TempDir(), storetest.Options(store.Options{NoSync: true, Now: func() time.Time { return t0.Add(minutes * time.Minute) }}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	full := func(m Minute) Minute {
		m.Checks, m.ChecksPassed, m.LatencyP50, m.LatencyP95 = 10, 10, 0.0123456, 0.0456789
		m.RateLimitPass, m.RateLimitFail, m.OwnErrors, m.OwnUnauthorized, m.OwnRateLimited = true, true, 99, 99, 99
		m.Requests, m.Errors, m.AuthFailures, m.RateLimitViolations = svcPtr(123456789), svcPtr(1234567), svcPtr(123456), svcPtr(12345)
		m.Restarts, m.DesktopFallback = 1, true
		return m
	}
	for _, tc := range []struct {
		target string
		minute func(time.Time, int) Minute
		limit  int
	}{
		{"realistic", svcRealisticMinute, 1_000_000},
		{"every-field", func(at time.Time, i int) Minute { return full(svcRealisticMinute(at, i)) }, 1_000_000},
	} {
		var values int
		recs := make([]store.RollupRecord, 0, 60)
		for i := range minutes {
			at := t0.Add(time.Duration(i) * time.Minute)
			v, err := encodeMinute(tc.minute(at, i))
			if err != nil {
				t.Fatal(err)
			}
			values += len(v)
			recs = append(recs, store.RollupRecord{At: at, Value: v})
			if len(recs) == 1 { // one put a minute, as the service does
				if err := st.PutRollups(tc.target, recs...); err != nil {
					t.Fatal(err)
				}
				recs = recs[:0]
			}
		}
		u, err := st.RollupUsage(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d minutes, %d B of values (%.0f B each), %d B of pages", tc.target, u.Records, values, float64(values)/minutes, u.Bytes)
		if u.Records != minutes {
			t.Errorf("%s: kept %d minutes, want %d", tc.target, u.Records, minutes)
		}
		if u.Bytes > tc.limit {
			t.Errorf("%s: 48 h take %d bytes, more than %d", tc.target, u.Bytes, tc.limit)
		}
	}
}
