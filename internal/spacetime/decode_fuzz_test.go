package spacetime

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// FuzzDecode feeds arbitrary messages to the decoder: it must never panic,
// and whatever it accepts must hold only finite, in-range values. Seeds are
// in testdata/fuzz/FuzzDecode (JSON frames of every kind, 0x01 in both byte
// orders, 0x02 gzip frames, garbage); `make fuzz` runs it for a while.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, binary bool, data []byte) {
		msgType := websocket.TextMessage
		if binary {
			msgType = websocket.BinaryMessage
		}
		d := Decoder{Now: telClock, MaxInflatedBytes: 64 << 10}
		var fr Frame
		// Twice: the second pass runs with the byte-order state the first left.
		for range 2 {
			if err := d.Decode(msgType, data, &fr); err != nil {
				if fr.Kind != KindUnknown || fr.Fields != 0 || fr.Event != "" {
					t.Fatalf("failed Decode left a filled frame: %+v", fr)
				}
				continue
			}
			checkFrameSane(t, &fr)
		}
		checkSkipPoses(t, msgType, data)
		checkScanner(t, msgType, data)
	})
}

// checkScanner asserts that scanEnvelope reads an envelope exactly as
// encoding/json does: the same verdict, the same frame.
func checkScanner(t *testing.T, msgType int, data []byte) {
	t.Helper()
	fs, fr, errScan, errRef := decodeTwice(msgType, data, Decoder{}, Decoder{reflectOnly: true})
	switch {
	case (errScan == nil) != (errRef == nil):
		t.Fatalf("scanner says %v, encoding/json says %v", errScan, errRef)
	case errScan != nil && errScan.Error() != errRef.Error():
		t.Fatalf("scanner error %q, encoding/json %q", errScan, errRef)
	case !reflect.DeepEqual(fs, fr):
		t.Fatalf("scanner frame\n%+v\nencoding/json frame\n%+v", fs, fr)
	}
}

// checkSkipPoses asserts that Decoder.SkipPoses changes nothing but the
// poses: the same verdict and the same frame, except that a vr_tracking
// frame keeps only its kind, event and time, and may pass although a pose
// in it is malformed.
func checkSkipPoses(t *testing.T, msgType int, data []byte) {
	t.Helper()
	ff, fs, errFull, errSkip := decodeTwice(msgType, data, Decoder{}, Decoder{SkipPoses: true})
	var fe *FrameError
	switch {
	case errSkip != nil && errFull == nil:
		t.Fatalf("SkipPoses refused a frame the full decode accepts (%v): %+v", errSkip, ff)
	case errSkip != nil:
		if errSkip.Error() != errFull.Error() {
			t.Fatalf("SkipPoses error %q, full decode %q", errSkip, errFull)
		}
	case errFull != nil:
		if fs.Kind != KindVRTracking || !errors.As(errFull, &fe) || !strings.HasPrefix(fe.Field, "data.") {
			t.Fatalf("SkipPoses accepted a %s frame the full decode refuses: %v", fs.Kind, errFull)
		}
		checkFrameSane(t, &fs)
	case ff.Kind == KindVRTracking:
		want := Frame{Kind: ff.Kind, Encoding: ff.Encoding, Event: ff.Event, Time: ff.Time, TimeSource: ff.TimeSource, Received: ff.Received}
		if fs != want && !reflect.DeepEqual(fs, ff) { // a frame it cannot scan is decoded in full
			t.Fatalf("SkipPoses frame %+v, want %+v", fs, want)
		}
	case !reflect.DeepEqual(fs, ff):
		t.Fatalf("SkipPoses changed a %s frame: %+v, want %+v", ff.Kind, fs, ff)
	}
}

// checkFrameSane asserts the invariants Decode promises for a good frame.
func checkFrameSane(t *testing.T, f *Frame) {
	t.Helper()
	if f.Kind >= KindCount {
		t.Fatalf("kind %d out of range", f.Kind)
	}
	if f.Encoding.String() == "invalid" || f.TimeSource.String() == "invalid" {
		t.Fatalf("bad encoding %d or time source %d", f.Encoding, f.TimeSource)
	}
	ranges := []struct {
		name     string
		v        float64
		min, max float64
	}{
		{"fps", f.FPS, 0, 1000},
		{"frame_time_ms", f.FrameTimeMS, 0, maxMillis},
		{"physics_time_ms", f.PhysicsTimeMS, 0, maxMillis},
		{"render_time_ms", f.RenderTimeMS, 0, maxMillis},
		{"memory_mb", f.MemoryMB, 0, maxMemoryMB},
		{"cpu_load", f.CPULoad, 0, 1},
		{"player_count", f.PlayerCount, 0, maxPlayerCount},
	}
	for _, r := range ranges {
		if !(r.v >= r.min && r.v <= r.max) {
			t.Fatalf("%s = %v, outside %v–%v (frame %+v)", r.name, r.v, r.min, r.max, f)
		}
	}
	if f.Tracking != nil && f.Kind != KindVRTracking {
		t.Fatalf("%s frame with Tracking %+v, want poses only for vr_tracking", f.Kind, f.Tracking)
	}
	if tr := f.Tracking; tr != nil {
		for _, p := range []Pose{tr.Headset, tr.LeftController, tr.RightController} {
			for _, v := range append(p.Position[:], p.Rotation[:]...) {
				if !isFiniteFloat(v) {
					t.Fatalf("pose value %v is not finite (frame %+v)", v, f)
				}
			}
		}
	}
	if f.Kind == KindFPS && !f.Has(FieldFPS) {
		t.Fatalf("fps frame without an fps value: %+v", f)
	}
	if f.Time.IsZero() || f.Time.Year() < 1970 || f.Time.Year() > 9999 {
		t.Fatalf("time %v out of range", f.Time)
	}
	if f.TimeSource != TimeReceived && f.Time.Location() != time.UTC {
		t.Fatalf("time %v is not UTC", f.Time)
	}
	if f.Received != telNow {
		t.Fatalf("Received = %v, want the decoder clock", f.Received)
	}
}

// decodeTwice decodes data with two fresh decoders, a and b, set as
// FuzzDecode's.
func decodeTwice(msgType int, data []byte, a, b Decoder) (fa, fb Frame, errA, errB error) {
	a.Now, a.MaxInflatedBytes = telClock, 64<<10
	b.Now, b.MaxInflatedBytes = telClock, 64<<10
	errA, errB = a.Decode(msgType, data, &fa), b.Decode(msgType, data, &fb)
	return fa, fb, errA, errB
}

// FuzzParseWireFloat holds parseWireFloat's short cut to
// strconv.ParseFloat: the same verdict and the same bits, for anything.
func FuzzParseWireFloat(f *testing.F) {
	for _, s := range []string{
		"0", "7", "90", "007", "1765900000", "1765900000123", "999999999999999",
		"1765900000.123", "89.6", "0.38", "0.1", "00.5", ".5", "5.", ".", "1..2", "1.2.3",
		"99999999999999.9", "0.000000000000001", "9.007199254740993",
		"9007199254740993", "1000000000000000", "-5", "+5", "-0", "1e3", "1.5e2",
		"", " 1", "1 ", "0x10", "1_0", "inf", "NaN", "\u0661",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, errGot := parseWireFloat(b)
		want, errWant := strconv.ParseFloat(string(b), 64)
		if (errGot == nil) != (errWant == nil) || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseWireFloat(%q) = %v, %v; strconv.ParseFloat %v, %v", b, got, errGot, want, errWant)
		}
	})
}

// TestParseExactDecimalTakesTimestamps: the short cut takes what the
// instance sends (Unix milliseconds, Unix seconds with a fraction, plain
// measures) and leaves the rest, including a 16th digit, where float64
// stops being exact, to strconv.ParseFloat.
func TestParseExactDecimalTakesTimestamps(t *testing.T) {
	for s, want := range map[string]float64{
		"0": 0, "90": 90, "89.6": 89.6, "0.38": 0.38, "1765900000": 1765900000,
		"1765900000.123": 1765900000.123, "1765900000123": 1765900000123, "999999999999999": 999999999999999,
	} {
		if v, ok := parseExactDecimal([]byte(s)); !ok || v != want {
			t.Errorf("parseExactDecimal(%q) = %v, %v; want %v, true", s, v, ok, want)
		}
	}
	for _, s := range []string{"", ".", "5.", "1.2.3", "1000000000000000", "1765900000.123456", "-5", "+5", "1e3", " 1", "0x1"} {
		if _, ok := parseExactDecimal([]byte(s)); ok {
			t.Errorf("parseExactDecimal(%q) took it; want it left to strconv.ParseFloat", s)
		}
	}
}
