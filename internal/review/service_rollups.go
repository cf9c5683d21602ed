package review

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// Minutes are stored in a small binary form, since the issue bounds 48 h
// of one target's minutes to 1 MB: a realistic minute takes about 40
// bytes where JSON with the Minute's short keys takes 200 (TestRollupSize48h
// measures both the typical and the every-field-set case). The time is the
// store's key and is not repeated.
//
//	byte 0      codec version (1)
//	uvarint     bit i set: minuteFields[i] is non-zero (for a flag: true)
//	then, for each set field in table order:
//	  count     zigzag varint
//	  fixed     zigzag varint of round(value × scale): FPS and MiB to 0.01,
//	            latencies to 10 µs, which is what the reviews print
//	  counter   8-byte big-endian IEEE 754 (the instance's cumulative counters)
//	  flag      nothing
//
// Every field of Minute but At must be in minuteFields: a test fails when
// one is added to the contract and not here, so none is silently dropped.

const minuteCodecVersion = 1

type fieldKind int

const (
	kindCount fieldKind = iota
	kindFixed
	kindCounter
	kindFlag
)

// minuteField is one stored field of a Minute. Append new fields at the
// end: a field's position is its bit.
type minuteField struct {
	name    string // the Minute field's Go name
	kind    fieldKind
	scale   float64                 // kindFixed
	count   func(*Minute) *int      // kindCount
	fixed   func(*Minute) *float64  // kindFixed
	counter func(*Minute) **float64 // kindCounter
	flag    func(*Minute) *bool     // kindFlag
}

var minuteFields = []minuteField{
	{name: "FPSSamples", kind: kindCount, count: func(m *Minute) *int { return &m.FPSSamples }},
	{name: "FPSInBand", kind: kindCount, count: func(m *Minute) *int { return &m.FPSInBand }},
	{name: "FPSMin", kind: kindFixed, scale: 100, fixed: func(m *Minute) *float64 { return &m.FPSMin }},
	{name: "FPSMean", kind: kindFixed, scale: 100, fixed: func(m *Minute) *float64 { return &m.FPSMean }},
	{name: "FPSLow1", kind: kindFixed, scale: 100, fixed: func(m *Minute) *float64 { return &m.FPSLow1 }},
	{name: "MemorySamples", kind: kindCount, count: func(m *Minute) *int { return &m.MemorySamples }},
	{name: "MemoryMaxMB", kind: kindFixed, scale: 100, fixed: func(m *Minute) *float64 { return &m.MemoryMaxMB }},
	{name: "MemoryMeanMB", kind: kindFixed, scale: 100, fixed: func(m *Minute) *float64 { return &m.MemoryMeanMB }},
	{name: "Checks", kind: kindCount, count: func(m *Minute) *int { return &m.Checks }},
	{name: "ChecksPassed", kind: kindCount, count: func(m *Minute) *int { return &m.ChecksPassed }},
	{name: "LatencyP50", kind: kindFixed, scale: 1e5, fixed: func(m *Minute) *float64 { return &m.LatencyP50 }},
	{name: "LatencyP95", kind: kindFixed, scale: 1e5, fixed: func(m *Minute) *float64 { return &m.LatencyP95 }},
	{name: "RateLimitPass", kind: kindFlag, flag: func(m *Minute) *bool { return &m.RateLimitPass }},
	{name: "RateLimitFail", kind: kindFlag, flag: func(m *Minute) *bool { return &m.RateLimitFail }},
	{name: "OwnRequests", kind: kindCount, count: func(m *Minute) *int { return &m.OwnRequests }},
	{name: "OwnErrors", kind: kindCount, count: func(m *Minute) *int { return &m.OwnErrors }},
	{name: "OwnUnauthorized", kind: kindCount, count: func(m *Minute) *int { return &m.OwnUnauthorized }},
	{name: "OwnRateLimited", kind: kindCount, count: func(m *Minute) *int { return &m.OwnRateLimited }},
	{name: "Requests", kind: kindCounter, counter: func(m *Minute) **float64 { return &m.Requests }},
	{name: "Errors", kind: kindCounter, counter: func(m *Minute) **float64 { return &m.Errors }},
	{name: "AuthFailures", kind: kindCounter, counter: func(m *Minute) **float64 { return &m.AuthFailures }},
	{name: "RateLimitViolations", kind: kindCounter, counter: func(m *Minute) **float64 { return &m.RateLimitViolations }},
	{name: "Restarts", kind: kindCount, count: func(m *Minute) *int { return &m.Restarts }},
	{name: "TelemetryConnected", kind: kindFlag, flag: func(m *Minute) *bool { return &m.TelemetryConnected }},
	{name: "VRInitialized", kind: kindFlag, flag: func(m *Minute) *bool { return &m.VRInitialized }},
	{name: "DesktopFallback", kind: kindFlag, flag: func(m *Minute) *bool { return &m.DesktopFallback }},
}

// fixedValue is x in the field's fixed point; 0 for what cannot be stored
// (NaN, infinities, beyond ±2^53: the Recorder never produces them).
func fixedValue(x, scale float64) int64 {
	v := math.Round(x * scale)
	if math.IsNaN(v) || math.Abs(v) > 1<<53 {
		return 0
	}
	return int64(v)
}

// encodeMinute encodes m for the store (m.At is the key, not encoded).
func encodeMinute(m Minute) ([]byte, error) {
	var mask uint64
	body := make([]byte, 0, 64)
	for i, f := range minuteFields {
		switch f.kind {
		case kindCount:
			if v := *f.count(&m); v != 0 {
				mask |= 1 << i
				body = binary.AppendVarint(body, int64(v))
			}
		case kindFixed:
			if v := fixedValue(*f.fixed(&m), f.scale); v != 0 {
				mask |= 1 << i
				body = binary.AppendVarint(body, v)
			}
		case kindCounter:
			if p := *f.counter(&m); p != nil {
				mask |= 1 << i
				body = binary.BigEndian.AppendUint64(body, math.Float64bits(*p))
			}
		case kindFlag:
			if *f.flag(&m) {
				mask |= 1 << i
			}
		}
	}
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(body))
	out = append(out, minuteCodecVersion)
	out = binary.AppendUvarint(out, mask)
	return append(out, body...), nil
}

var errShortMinute = errors.New("minute record ends early")

// decodeMinute decodes a stored minute that started at at.
func decodeMinute(at time.Time, b []byte) (Minute, error) {
	if len(b) == 0 || b[0] != minuteCodecVersion {
		if len(b) == 0 {
			return Minute{}, errShortMinute
		}
		return Minute{}, fmt.Errorf("minute codec version %d is not %d", b[0], minuteCodecVersion)
	}
	b = b[1:]
	mask, n := binary.Uvarint(b)
	if n <= 0 {
		return Minute{}, errShortMinute
	}
	b = b[n:]
	if mask>>len(minuteFields) != 0 {
		return Minute{}, fmt.Errorf("minute record has fields %#x this build does not know", mask>>len(minuteFields)<<len(minuteFields))
	}
	m := Minute{At: at.UTC()}
	for i, f := range minuteFields {
		if mask&(1<<i) == 0 {
			continue
		}
		switch f.kind {
		case kindCount, kindFixed:
			v, n := binary.Varint(b)
			if n <= 0 {
				return Minute{}, errShortMinute
			}
			b = b[n:]
			if f.kind == kindCount {
				*f.count(&m) = int(v)
			} else {
				*f.fixed(&m) = float64(v) / f.scale
			}
		case kindCounter:
			if len(b) < 8 {
				return Minute{}, errShortMinute
			}
			v := math.Float64frombits(binary.BigEndian.Uint64(b))
			*f.counter(&m) = &v
			b = b[8:]
		case kindFlag:
			*f.flag(&m) = true
		}
	}
	if len(b) != 0 {
		return Minute{}, fmt.Errorf("minute record has %d bytes past its fields", len(b))
	}
	return m, nil
}

// baselineLookback is how far before a deployment's start its reviews read
// minutes: Compute takes the instance's counters last reported before the
// window as the baseline of their first increase, and /status is read
// once a round (5 minutes by default).
const baselineLookback = 30 * time.Minute

// windowMinutes returns the minutes a review is computed over: from
// baselineLookback before the deployment's start to its due time (Compute
// cuts the window itself, at the due time or now).
func (s *Service) windowMinutes(target string, sl slot) ([]Minute, int, error) {
	return s.loadMinutes(target, sl.dep.StartedAt.Truncate(time.Minute).Add(-baselineLookback), sl.due)
}

// maxPendingMinutes bounds the minutes kept in memory while the store
// refuses writes (a full disk): three hours, the newest.
const maxPendingMinutes = 180

// rollupRecords encodes target's minutes for the store, refusing them as
// the store would (store.CheckRollups).
func rollupRecords(target string, minutes []Minute) ([]store.RollupRecord, error) {
	recs := make([]store.RollupRecord, 0, len(minutes))
	for _, m := range minutes {
		v, err := encodeMinute(m)
		if err != nil {
			return nil, fmt.Errorf("encode minute %s of %s: %w", m.At.Format(time.RFC3339), target, err)
		}
		recs = append(recs, store.RollupRecord{At: m.At.UTC().Truncate(time.Minute), Value: v})
	}
	return recs, store.CheckRollups(target, recs)
}

// loadMinutes returns target's stored minutes with from <= At < to, oldest
// first. A minute that does not decode is skipped and counted in bad: a
// review over the rest is worth more than none.
func (s *Service) loadMinutes(target string, from, to time.Time) (minutes []Minute, bad int, err error) {
	recs, err := s.st.Rollups(target, from, to)
	if err != nil {
		return nil, 0, err
	}
	minutes = make([]Minute, 0, len(recs))
	for _, r := range recs {
		m, err := decodeMinute(r.At, r.Value)
		if err != nil {
			bad++
			continue
		}
		minutes = append(minutes, m)
	}
	return minutes, bad, nil
}
