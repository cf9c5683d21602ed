package spacetime

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestDecodeSkipPoses(t *testing.T) {
	tracked := Frame{Kind: KindVRTracking, Encoding: EncodingJSON, Event: "vr_tracking",
		Time: unixUTC(1765900000, 0), TimeSource: TimeUnixSeconds, Received: telNow}
	untimed := Frame{Kind: KindVRTracking, Encoding: EncodingJSON, Event: "vr_tracking", Time: telNow, Received: telNow}
	tests := []struct {
		name      string
		data      string
		want      Frame
		wantField string // the FrameError's field when the frame is refused
		refused   bool   // refused with a FrameError (on wantField, "" for malformed JSON)
		full      bool   // the frame is decoded in full: poses present
	}{
		{name: "the simulator's frame", data: benchTrackingJSON, want: tracked},
		{name: "a malformed pose is not read", want: untimed,
			data: `{"event":"vr_tracking","data":{"headset":{"position":"up"}}}`},
		{name: "keys fold as encoding/json folds them", want: tracked,
			data: `{"Type":"event","EVENT":"vr_tracking","Timestamp":1765900000,"Data":{"Right_Controller":{}}}`},
		{name: "one controller is enough", want: untimed,
			data: `{"event":"vr_tracking","type":null,"data":{"left_controller":{"position":[1,2,3]},"buttons":{"a":[1,{"b":"}"}]}}}`},
		{name: "no device", wantField: "data",
			data: `{"event":"vr_tracking","data":{"headset":null,"scene":"lobby"}}`},
		{name: "data not an object", wantField: "data", data: `{"event":"vr_tracking","data":[{"headset":{}}]}`},
		{name: "no data", wantField: "data", data: `{"event":"vr_tracking"}`},
		{name: "bad timestamp", wantField: "timestamp", data: `{"event":"vr_tracking","timestamp":-4,"data":{"headset":{}}}`},
		{name: "malformed JSON", refused: true, data: `{"event":"vr_tracking","data":{"headset":{}}`},
		{name: "trailing garbage", refused: true, data: `{"event":"vr_tracking","data":{"headset":{}}} x`},
		{name: "a repeated key is decoded in full", full: true,
			data: `{"event":"vr_tracking","event":"vr_tracking","data":{"headset":{"position":[1,2,3]}}}`},
		{name: "an escaped key is decoded in full", full: true,
			data: `{"ev\u0065nt":"vr_tracking","data":{"headset":{"position":[1,2,3]}}}`},
		{name: "another type is decoded in full", full: true,
			data: `{"type":"custom","event":"vr_tracking","data":{"headset":{"position":[1,2,3]}}}`},
		{name: "data before the event", want: tracked,
			data: `{"data":{"headset":{}} , "timestamp":1765900000,"event":"vr_tracking"}`},
		{name: "a device named deeper in data does not count", wantField: "data",
			data: `{"event":"vr_tracking","data":{"buttons":{"headset":{}},"headset":null}}`},
		{name: "an escaped key in data is decoded in full", full: true,
			data: `{"event":"vr_tracking","data":{"headset":{"position":[1,2,3]},"sc\u0065ne":"x"}}`},
		{name: "a key outside ASCII in data is decoded in full", full: true,
			data: `{"event":"vr_tracking","data":{"headset":{"position":[1,2,3]},"szène":"x"}}`},
		{name: "a repeated data is decoded in full", full: true,
			data: `{"event":"vr_tracking","data":{"headset":null},"data":{"headset":{"position":[1,2,3]}}}`},
		{name: "data nested to the scanner's depth is scanned", want: untimed,
			data: `{"event":"vr_tracking","data":{"headset":{"position":[1,2,3]},"x":` +
				strings.Repeat("[", maxScanDepth-2) + strings.Repeat("]", maxScanDepth-2) + `}}`},
		{name: "data nested past the scanner's depth is decoded in full", full: true,
			data: `{"event":"vr_tracking","data":{"headset":{"position":[1,2,3]},"x":` +
				strings.Repeat("[", maxScanDepth-1) + strings.Repeat("]", maxScanDepth-1) + `}}`},
		{name: "malformed data", refused: true,
			data: `{"event":"vr_tracking","data":{"headset":{},}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decoder{Now: telClock, SkipPoses: true}
			var f Frame
			err := d.Decode(websocket.TextMessage, []byte(tc.data), &f)
			var fe *FrameError
			switch {
			case tc.wantField != "" || tc.refused:
				if !errors.As(err, &fe) || fe.Field != tc.wantField {
					t.Fatalf("Decode = %v, want a FrameError on field %q", err, tc.wantField)
				}
				var full Frame
				if want := (&Decoder{Now: telClock}).Decode(websocket.TextMessage, []byte(tc.data), &full); want == nil || want.Error() != err.Error() {
					t.Errorf("error %q, the full decode says %v", err, want)
				}
			case err != nil:
				t.Fatalf("Decode: %v", err)
			case tc.full:
				if f.Kind != KindVRTracking || f.Tracking == nil || !f.Tracking.Headset.Present || f.Tracking.Headset.Position != [3]float64{1, 2, 3} {
					t.Errorf("frame %+v, want the full decode's headset at 1,2,3", f)
				}
			case f != tc.want:
				t.Errorf("frame\n got %+v\nwant %+v", f, tc.want)
			}
		})
	}
}

// TestDecodeSkipPosesLeavesOtherFramesAlone: only vr_tracking frames take
// the fast path.
func TestDecodeSkipPosesLeavesOtherFramesAlone(t *testing.T) {
	for _, name := range []string{"fps", "snapshot", "authenticated", "alert", "error", "custom", "performance_update"} {
		data := telFixture(t, name)
		var full, skip Frame
		if err := (&Decoder{Now: telClock}).Decode(websocket.TextMessage, data, &full); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := (&Decoder{Now: telClock, SkipPoses: true}).Decode(websocket.TextMessage, data, &skip); err != nil {
			t.Fatalf("%s with SkipPoses: %v", name, err)
		}
		if skip != full {
			t.Errorf("%s with SkipPoses:\n got %+v\nwant %+v", name, skip, full)
		}
	}
}

// TestDecodeSkipPosesAllocatesNothing: the point of the fast path, beside
// its speed (BenchmarkDecodeJSONTrackingSkipPoses).
func TestDecodeSkipPosesAllocatesNothing(t *testing.T) {
	if testkit.RaceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	d := Decoder{Now: telClock, SkipPoses: true}
	var f Frame
	data := []byte(benchTrackingJSON)
	allocs := testing.AllocsPerRun(1000, func() {
		if err := d.Decode(websocket.TextMessage, data, &f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a vr_tracking frame with SkipPoses allocates %v times, want 0", allocs)
	}
}

// TestScannerKnowsEveryWireField: a member added to wireEnvelope or
// wirePayload must be added to the scanner's tables, or the scanner would
// skip it where encoding/json reads it.
func TestScannerKnowsEveryWireField(t *testing.T) {
	check := func(typ reflect.Type, names []string) {
		t.Helper()
		for i := range typ.NumField() {
			tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if tag != "" && !slices.Contains(names, tag) {
				t.Errorf("%s.%s (json %q) is not in the scanner's table", typ.Name(), typ.Field(i).Name, tag)
			}
		}
		if len(names) > 32 {
			t.Errorf("%s: %d fields, more than the scanner's 32-bit seen mask", typ.Name(), len(names))
		}
	}
	var env, payload []string
	for _, f := range envelopeFields {
		env = append(env, f.name)
	}
	for _, f := range payloadFields {
		payload = append(payload, f.name)
	}
	check(reflect.TypeFor[wireEnvelope](), env)
	check(reflect.TypeFor[wirePayload](), payload)
}

func TestScanEnvelopeFallsBack(t *testing.T) {
	for _, data := range []string{
		`{"event":"fps","data":{"fps":90,"FPS":80}}`,              // repeated, folded
		`{"event":"fps","data":{"fps":90,"message":"caf\u00e9"}}`, // escaped string
		`{"event":"fps","data":{"fps":90,"message":"café"}}`,      // outside ASCII
		`{"event":"fps","data":{"\u0066ps":90}}`,                  // escaped key
		`{"event":"fps","data":{"fps":90}`,                        // malformed
	} {
		var env wireEnvelope
		if scanEnvelope([]byte(data), &env) {
			t.Errorf("scanEnvelope(%s) = true, want false: encoding/json must read it", data)
		}
	}
	var env wireEnvelope
	if !scanEnvelope([]byte(benchFPSJSON), &env) || env.Data.FPS.v != 89.6 || env.Event.s != "fps" {
		t.Errorf("scanEnvelope(fps event) = %+v, want it read", env)
	}
}

// TestJSONValueEndAgreesWithValid: the scanner's validation says a value is
// well formed exactly when encoding/json does (FuzzDecode explores further).
func TestJSONValueEndAgreesWithValid(t *testing.T) {
	for _, v := range []string{
		`0`, `-0`, `01`, `-`, `1.`, `.5`, `1.5`, `1e`, `1e+`, `1E5`, `-1.5e-3`, `1x`, `+1`,
		`"a"`, `"a`, "\"a\x01\"", `"\/\b\f\n\r\t\"\\"`, `"\u12aF"`, `"\u12G4"`, `"\x"`, `"\u12"`, "\"caf\xc3\xa9\"",
		`true`, `tru`, `false`, `nul`, `null`, `nullx`,
		`[]`, `[ ]`, `[1,]`, `[,1]`, `[1 2]`, `[[1],[2,[3]]]`, `[1`,
		`{}`, `{ }`, `{"a":1}`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{1:2}`, `{"a":1 "b":2}`, `{"a":[{"b":null}]}`,
		`{"a":1}}`, ` {"a" : [ 1 , { } ] } `,
	} {
		end := jsonValueEnd([]byte(v), skipJSONSpace([]byte(v), 0), 1)
		got := end >= 0 && onlySpaceAfter([]byte(v), end)
		if want := json.Valid([]byte(v)); got != want {
			t.Errorf("%q: scanner says valid=%v, encoding/json %v", v, got, want)
		}
	}
	deep := strings.Repeat("[", maxScanDepth+1) + strings.Repeat("]", maxScanDepth+1)
	if jsonValueEnd([]byte(deep), 0, 1) >= 0 {
		t.Errorf("nesting past maxScanDepth scanned; want it left to encoding/json")
	}
	for _, obj := range []string{`{"a":1} x`, `{"a":1`, `{"a":1,}`, `[{"a":1}]`} {
		if eachMember([]byte(obj), func(_, _ []byte) bool { return true }) {
			t.Errorf("eachMember(%s) = true, want false", obj)
		}
	}
}
