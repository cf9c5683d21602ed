package spacetime

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// telNow is the receive clock of decoder tests.
var telNow = time.Date(2025, 12, 16, 9, 41, 5, 0, time.UTC)

func telClock() time.Time { return telNow }

// telBinaryFPS builds a binary 0x01 packet in the given byte order.
func telBinaryFPS(order binary.ByteOrder, frame uint32, fps, frameMS, physMS float32) []byte {
	b := make([]byte, 17)
	b[0] = 0x01
	order.PutUint32(b[1:5], frame)
	order.PutUint32(b[5:9], math.Float32bits(fps))
	order.PutUint32(b[9:13], math.Float32bits(frameMS))
	order.PutUint32(b[13:17], math.Float32bits(physMS))
	return b
}

// telGzip builds a binary 0x02 frame around payload. declared and
// compressed override the header's lengths when not negative.
func telGzip(t testing.TB, payload []byte, declared, compressed int) []byte {
	t.Helper()
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	if _, err := w.Write(payload); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if declared < 0 {
		declared = len(payload)
	}
	if compressed < 0 {
		compressed = z.Len()
	}
	b := make([]byte, 9, 9+z.Len())
	b[0] = 0x02
	binary.BigEndian.PutUint32(b[1:5], uint32(declared))
	binary.BigEndian.PutUint32(b[5:9], uint32(compressed))
	return append(b, z.Bytes()...)
}

// telFixture reads testdata/telemetry_<name>.json.
func telFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "telemetry_"+name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unixUTC(sec, nsec int64) time.Time { return time.Unix(sec, nsec).UTC() }

// fpsFrame is the frame testdata/telemetry_fps.json decodes to.
func fpsFrame() Frame {
	return Frame{
		Kind: KindFPS, Encoding: EncodingJSON, Event: "fps",
		Time: unixUTC(1765900000, 0), TimeSource: TimeUnixSeconds, Received: telNow,
		Fields: FieldFPS | FieldFrameTime | FieldPhysicsTime | FieldMemory | FieldCPULoad,
		FPS:    89.6, FrameTimeMS: 11.2, PhysicsTimeMS: 2.4, MemoryMB: 731.5, CPULoad: 0.38,
	}
}

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		name    string
		msgType int
		data    []byte
		want    func() Frame
	}{
		{
			name: "fps event, unix seconds", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"fps","timestamp":1765900000,"data":{"fps":89.6,"frame_time_ms":11.2,"physics_time_ms":2.4,"memory_usage_mb":731.5,"cpu_load":0.38}}`),
			want: fpsFrame,
		},
		{
			name: "fps fixture from the telemetry guide", msgType: websocket.TextMessage,
			data: telFixture(t, "fps"), want: fpsFrame,
		},
		{
			name: "fractional unix seconds", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"fps","timestamp":1765900000.25,"data":{"fps":90}}`),
			want: func() Frame {
				return Frame{Kind: KindFPS, Event: "fps", Time: unixUTC(1765900000, 250e6), TimeSource: TimeUnixSeconds,
					Received: telNow, Fields: FieldFPS, FPS: 90}
			},
		},
		{
			name: "unix milliseconds (above 1e12)", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"fps","timestamp":1765900000123,"data":{"fps":90}}`),
			want: func() Frame {
				return Frame{Kind: KindFPS, Event: "fps", Time: unixUTC(1765900000, 123e6), TimeSource: TimeUnixMillis,
					Received: telNow, Fields: FieldFPS, FPS: 90}
			},
		},
		{
			name: "RFC 3339", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"fps","timestamp":"2025-12-16T09:41:05Z","data":{"fps":90}}`),
			want: func() Frame {
				return Frame{Kind: KindFPS, Event: "fps", Time: unixUTC(1765878065, 0), TimeSource: TimeRFC3339,
					Received: telNow, Fields: FieldFPS, FPS: 90}
			},
		},
		{
			name: "RFC 3339 with nanoseconds and an offset, normalised to UTC", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"fps","timestamp":"2025-12-16T10:41:05.123456789+01:00","data":{"fps":90}}`),
			want: func() Frame {
				return Frame{Kind: KindFPS, Event: "fps", Time: unixUTC(1765878065, 123456789), TimeSource: TimeRFC3339,
					Received: telNow, Fields: FieldFPS, FPS: 90}
			},
		},
		{
			name: "zone-less timestamp read as UTC", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"fps","timestamp":"2025-12-16T09:41:05.5","data":{"fps":90}}`),
			want: func() Frame {
				return Frame{Kind: KindFPS, Event: "fps", Time: unixUTC(1765878065, 5e8), TimeSource: TimeRFC3339,
					Received: telNow, Fields: FieldFPS, FPS: 90}
			},
		},
		{
			name: "unix seconds in quotes", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"fps","timestamp":"1765900000","data":{"fps":"90.5"}}`),
			want: func() Frame {
				return Frame{Kind: KindFPS, Event: "fps", Time: unixUTC(1765900000, 0), TimeSource: TimeUnixSeconds,
					Received: telNow, Fields: FieldFPS, FPS: 90.5}
			},
		},
		{
			name: "no timestamp: receive time", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"fps","data":{"fps":90,"timestamp_is_not_here":1}}`),
			want: func() Frame {
				return Frame{Kind: KindFPS, Event: "fps", Time: telNow, TimeSource: TimeReceived,
					Received: telNow, Fields: FieldFPS, FPS: 90}
			},
		},
		{
			name: "performance_update without a type is an fps sample", msgType: websocket.TextMessage,
			data: telFixture(t, "performance_update"),
			want: func() Frame {
				return Frame{Kind: KindFPS, Event: "performance_update", Time: telNow, Received: telNow,
					Fields: FieldFPS | FieldFrameTime | FieldVRActive, FPS: 72, FrameTimeMS: 13.9, VRActive: true}
			},
		},
		{
			name: "vr_tracking with arrays and quaternions", msgType: websocket.TextMessage,
			data: telFixture(t, "vr_tracking"),
			want: func() Frame {
				return Frame{Kind: KindVRTracking, Event: "vr_tracking", Time: unixUTC(1765900000, 0), TimeSource: TimeUnixSeconds, Received: telNow,
					Tracking: &Tracking{
						Headset:         Pose{Present: true, Position: [3]float64{0, 1.68, 0.05}, Rotation: [4]float64{0, 0.1, 0, 0.99}},
						LeftController:  Pose{Present: true, Position: [3]float64{-0.3, 1.1, -0.4}, Rotation: [4]float64{0, 0, 0, 1}},
						RightController: Pose{Present: true, Position: [3]float64{0.3, 1.1, -0.4}, Rotation: [4]float64{0, 0, 0, 1}},
					},
				}
			},
		},
		{
			name: "vr_tracking with objects and Euler angles, ms timestamp", msgType: websocket.TextMessage,
			data: telFixture(t, "vr_tracking_euler"),
			want: func() Frame {
				return Frame{Kind: KindVRTracking, Event: "vr_tracking", Time: unixUTC(1701518400, 0), TimeSource: TimeUnixMillis, Received: telNow,
					Tracking: &Tracking{Headset: Pose{Present: true, Position: [3]float64{0, 1.7, 0}, Rotation: [4]float64{0, 90, 0, 0}, RotationEuler: true}}}
			},
		},
		{
			name: "vr_tracking in the runbook's bare x,y,z form", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"vr_tracking","data":{"headset":{"x":1,"y":2,"z":3}}}`),
			want: func() Frame {
				return Frame{Kind: KindVRTracking, Event: "vr_tracking", Time: telNow, Received: telNow,
					Tracking: &Tracking{Headset: Pose{Present: true, Position: [3]float64{1, 2, 3}}}}
			},
		},
		{
			name: "vr_initialized", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"vr_initialized","timestamp":1765900000,"data":{"interface":"OpenXR"}}`),
			want: func() Frame {
				return Frame{Kind: KindVRInitialized, Event: "vr_initialized", Time: unixUTC(1765900000, 0), TimeSource: TimeUnixSeconds, Received: telNow}
			},
		},
		{
			name: "fields of other kinds are ignored", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"vr_initialized","data":{"headset":"Quest 3","fps":"high","signature_required":"no"}}`),
			want: func() Frame {
				return Frame{Kind: KindVRInitialized, Event: "vr_initialized", Time: telNow, Received: telNow}
			},
		},
		{
			name: "warning announcing the desktop fallback", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"warning","data":{"message":"VR initialization failed, falling back to Desktop mode"}}`),
			want: func() Frame {
				return Frame{Kind: KindDesktopFallback, Event: "warning", Time: telNow, Received: telNow,
					Message: "VR initialization failed, falling back to Desktop mode"}
			},
		},
		{
			name: "warning with a desktop mode field", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"warning","data":{"message":"no headset","vr_mode":"desktop_fallback"}}`),
			want: func() Frame {
				return Frame{Kind: KindDesktopFallback, Event: "warning", Time: telNow, Received: telNow, Message: "no headset"}
			},
		},
		{
			name: "plain warning", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"warning","data":{"message":"shader cache miss"}}`),
			want: func() Frame {
				return Frame{Kind: KindWarning, Event: "warning", Time: telNow, Received: telNow, Message: "shader cache miss"}
			},
		},
		{
			name: "error event", msgType: websocket.TextMessage,
			data: telFixture(t, "error"),
			want: func() Frame {
				return Frame{Kind: KindError, Event: "error", Time: unixUTC(1765900000, 0), TimeSource: TimeUnixSeconds, Received: telNow,
					Message: "Scene load failed", Details: "File not found"}
			},
		},
		{
			name: "envelope of type error", msgType: websocket.TextMessage,
			data: []byte(`{"type":"error","message":"unknown command"}`),
			want: func() Frame {
				return Frame{Kind: KindError, Event: "error", Time: telNow, Received: telNow, Message: "unknown command"}
			},
		},
		{
			name: "auth_failed", msgType: websocket.TextMessage,
			data: []byte(`{"type":"auth_failed","message":"invalid token"}`),
			want: func() Frame {
				return Frame{Kind: KindError, Event: "auth_failed", Time: telNow, Received: telNow, Message: "invalid token"}
			},
		},
		{
			name: "alert of level warning", msgType: websocket.TextMessage,
			data: telFixture(t, "alert"),
			want: func() Frame {
				return Frame{Kind: KindWarning, Event: "alert", Time: unixUTC(1765900000, 0), TimeSource: TimeUnixSeconds, Received: telNow,
					Level: "warning", Message: "FPS dropped below 80"}
			},
		},
		{
			name: "alert of level critical", msgType: websocket.TextMessage,
			data: []byte(`{"type":"alert","level":"CRITICAL","message":"memory"}`),
			want: func() Frame {
				return Frame{Kind: KindError, Event: "alert", Time: telNow, Received: telNow, Level: "CRITICAL", Message: "memory"}
			},
		},
		{
			name: "auth_required", msgType: websocket.TextMessage,
			data: telFixture(t, "auth_required"),
			want: func() Frame {
				return Frame{Kind: KindAuthRequired, Event: "auth_required", Time: unixUTC(1701518400, 0), TimeSource: TimeUnixMillis, Received: telNow,
					Message: "Authentication required"}
			},
		},
		{
			name: "authenticated, with signing", msgType: websocket.TextMessage,
			data: telFixture(t, "authenticated"),
			want: func() Frame {
				return Frame{Kind: KindAuthenticated, Event: "authenticated", Time: unixUTC(1701518400, 0), TimeSource: TimeUnixMillis, Received: telNow,
					SignatureRequired: true, HMACSecret: "0123456789abcdef"}
			},
		},
		{
			name: "auth_success type", msgType: websocket.TextMessage,
			data: []byte(`{"type":"auth_success"}`),
			want: func() Frame {
				return Frame{Kind: KindAuthenticated, Event: "auth_success", Time: telNow, Received: telNow}
			},
		},
		{
			name: "pong", msgType: websocket.TextMessage,
			data: []byte(` {"type":"pong"}`),
			want: func() Frame { return Frame{Kind: KindPong, Event: "pong", Time: telNow, Received: telNow} },
		},
		{
			name: "snapshot", msgType: websocket.TextMessage,
			data: telFixture(t, "snapshot"),
			want: func() Frame {
				return Frame{Kind: KindSnapshot, Event: "snapshot", Time: unixUTC(1765878065, 0), TimeSource: TimeRFC3339, Received: telNow,
					Fields: FieldFPS | FieldMemory | FieldPlayerCount | FieldVRActive, FPS: 90, MemoryMB: 2048, PlayerCount: 1, VRActive: true,
					Scene: "res://vr_main.tscn"}
			},
		},
		{
			name: "custom event", msgType: websocket.TextMessage,
			data: telFixture(t, "custom"),
			want: func() Frame {
				return Frame{Kind: KindUnknown, Event: "custom", Time: unixUTC(1765900000, 0), TimeSource: TimeUnixSeconds, Received: telNow}
			},
		},
		{
			name: "undocumented event whose data is not an object", msgType: websocket.TextMessage,
			data: []byte(`{"type":"event","event":"terrain\u005fmodified","data":[1,2,3],"message":7}`),
			want: func() Frame {
				return Frame{Kind: KindUnknown, Event: "terrain_modified", Time: telNow, Received: telNow}
			},
		},
		{
			name: "binary 0x01 big-endian", msgType: websocket.BinaryMessage,
			data: telBinaryFPS(binary.BigEndian, 7, 89.5, 11.25, 2.5),
			want: func() Frame {
				return Frame{Kind: KindFPS, Encoding: EncodingBinaryFPS, Event: "fps", Time: telNow, Received: telNow,
					Fields:      FieldFrameNumber | FieldFPS | FieldFrameTime | FieldPhysicsTime,
					FrameNumber: 7, FPS: 89.5, FrameTimeMS: 11.25, PhysicsTimeMS: 2.5}
			},
		},
		{
			name: "binary 0x01 little-endian fallback", msgType: websocket.BinaryMessage,
			data: telBinaryFPS(binary.LittleEndian, 7, 89.5, 11.25, 2.5),
			want: func() Frame {
				return Frame{Kind: KindFPS, Encoding: EncodingBinaryFPS, Event: "fps", Time: telNow, Received: telNow, LittleEndian: true,
					Fields:      FieldFrameNumber | FieldFPS | FieldFrameTime | FieldPhysicsTime,
					FrameNumber: 7, FPS: 89.5, FrameTimeMS: 11.25, PhysicsTimeMS: 2.5}
			},
		},
		{
			name: "binary 0x02 gzip JSON", msgType: websocket.BinaryMessage,
			data: telGzip(t, telFixture(t, "fps"), -1, -1),
			want: func() Frame {
				f := fpsFrame()
				f.Encoding = EncodingGzipJSON
				return f
			},
		},
		{
			name: "binary 0x03 heartbeat", msgType: websocket.BinaryMessage,
			data: []byte{0x03},
			want: func() Frame {
				return Frame{Kind: KindPing, Encoding: EncodingBinaryHeartbeat, Event: "ping", Time: telNow, Received: telNow}
			},
		},
		{
			name: "binary 0x04 pong", msgType: websocket.BinaryMessage,
			data: []byte{0x04, 0, 0},
			want: func() Frame {
				return Frame{Kind: KindPong, Encoding: EncodingBinaryHeartbeat, Event: "pong", Time: telNow, Received: telNow}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decoder{Now: telClock}
			var got Frame
			if err := d.Decode(tt.msgType, tt.data, &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if want := tt.want(); !reflect.DeepEqual(got, want) {
				t.Errorf("Decode:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestDecodeInvalid(t *testing.T) {
	fps := func(data string) []byte {
		return []byte(`{"type":"event","event":"fps","data":` + data + `}`)
	}
	stamped := func(ts string) []byte {
		return []byte(`{"type":"event","event":"fps","timestamp":` + ts + `,"data":{"fps":90}}`)
	}
	tracking := func(data string) []byte {
		return []byte(`{"type":"event","event":"vr_tracking","data":` + data + `}`)
	}
	var bomb bytes.Buffer
	bomb.Write(make([]byte, 4<<20))

	tests := []struct {
		name      string
		msgType   int
		data      []byte
		wantField string
		wantText  string // a substring of the error text
	}{
		{"malformed JSON", websocket.TextMessage, []byte(`{"type":"event",`), "", "malformed JSON"},
		{"empty text frame", websocket.TextMessage, nil, "", "not a JSON object"},
		{"JSON array", websocket.TextMessage, []byte(`[{"type":"pong"}]`), "", "not a JSON object"},
		{"plain text", websocket.TextMessage, []byte(`pong`), "", "not a JSON object"},
		{"neither type nor event", websocket.TextMessage, []byte(`{"data":{"fps":90}}`), "type", "missing"},
		{"event envelope without event", websocket.TextMessage, []byte(`{"type":"event","data":{}}`), "event", "missing"},
		{"type not a string", websocket.TextMessage, []byte(`{"type":5,"event":"fps"}`), "type", "not a string"},
		{"event not a string", websocket.TextMessage, []byte(`{"type":"event","event":["fps"]}`), "event", "not a string"},
		{"fps without data", websocket.TextMessage, []byte(`{"type":"event","event":"fps"}`), "data.fps", "missing"},
		{"fps with data not an object", websocket.TextMessage, fps(`"90"`), "data.fps", "missing"},
		{"fps missing from data", websocket.TextMessage, fps(`{"frame_time_ms":11}`), "data.fps", "missing"},
		{"negative fps", websocket.TextMessage, fps(`{"fps":-1}`), "data.fps", "-1 is outside 0–1000"},
		{"fps over 1000", websocket.TextMessage, fps(`{"fps":1000.5}`), "data.fps", "outside"},
		{"NaN fps", websocket.TextMessage, fps(`{"fps":"NaN"}`), "data.fps", "NaN is outside"},
		{"infinite fps", websocket.TextMessage, fps(`{"fps":"-Inf"}`), "data.fps", "outside"},
		{"huge fps", websocket.TextMessage, fps(`{"fps":1e999}`), "data.fps", "not a number"},
		{"boolean fps", websocket.TextMessage, fps(`{"fps":true}`), "data.fps", "not a number"},
		{"negative frame time", websocket.TextMessage, fps(`{"fps":90,"frame_time_ms":-0.1}`), "data.frame_time_ms", "outside"},
		{"negative memory", websocket.TextMessage, fps(`{"fps":90,"memory_usage_mb":-5}`), "data.memory_usage_mb", "outside"},
		{"cpu load over 1", websocket.TextMessage, fps(`{"fps":90,"cpu_load":1.5}`), "data.cpu_load", "outside"},
		{"vr_active not a boolean", websocket.TextMessage, []byte(`{"type":"snapshot","data":{"vr_active":"yes"}}`), "data.vr_active", "not a boolean"},
		{"timestamp neither number nor time", websocket.TextMessage, stamped(`"yesterday"`), "timestamp", "neither RFC 3339 nor a Unix time"},
		{"negative timestamp", websocket.TextMessage, stamped(`-5`), "timestamp", "not a positive Unix time"},
		{"zero timestamp", websocket.TextMessage, stamped(`0`), "timestamp", "not a positive Unix time"},
		{"timestamp past year 9999", websocket.TextMessage, stamped(`1e300`), "timestamp", "past the year 9999"},
		{"seconds past year 9999 below the ms threshold", websocket.TextMessage, stamped(`5e11`), "timestamp", "past the year 9999"},
		{"boolean timestamp", websocket.TextMessage, stamped(`true`), "timestamp", "neither a number nor a string"},
		{"RFC 3339 before 1970", websocket.TextMessage, stamped(`"1969-12-31T23:59:59Z"`), "timestamp", "outside the years"},
		{"vr_tracking without devices", websocket.TextMessage, tracking(`{}`), "data", "without headset or controllers"},
		{"vr_tracking position too short", websocket.TextMessage, tracking(`{"headset":{"position":[1,2]}}`), "data.headset.position", "want [x,y,z]"},
		{"vr_tracking position not numbers", websocket.TextMessage, tracking(`{"headset":{"position":["a","b","c"]}}`), "data.headset.position", "want [x,y,z]"},
		{"vr_tracking rotation with a gap", websocket.TextMessage, tracking(`{"left_controller":{"position":[1,2,3],"rotation":{"x":0,"z":1,"w":1}}}`), "data.left_controller.rotation", "quaternion"},
		{"vr_tracking device not an object", websocket.TextMessage, tracking(`{"right_controller":[1,2,3]}`), "data.right_controller", "not an object"},
		{"vr_tracking bare form missing z", websocket.TextMessage, tracking(`{"headset":{"x":1,"y":2}}`), "data.headset.z", "finite"},
		{"unknown WebSocket message type", websocket.PingMessage, []byte{1}, "message_type", "neither text nor binary"},
		{"empty binary frame", websocket.BinaryMessage, nil, "length", "empty"},
		{"unknown binary type", websocket.BinaryMessage, []byte{0x09, 1, 2}, "type", "unknown binary frame type 0x09"},
		{"0x01 one byte short", websocket.BinaryMessage, telBinaryFPS(binary.BigEndian, 1, 90, 11, 2)[:16], "length", "16 bytes, want 17"},
		{"0x01 one byte long", websocket.BinaryMessage, append(telBinaryFPS(binary.BigEndian, 1, 90, 11, 2), 0), "length", "18 bytes, want 17"},
		{"0x01 NaN fps", websocket.BinaryMessage, telBinaryFPS(binary.BigEndian, 1, float32(math.NaN()), 11, 2), "fps", "implausible"},
		{"0x01 fps over 1000", websocket.BinaryMessage, telBinaryFPS(binary.BigEndian, 1, 1500, 11, 2), "fps", "1500"},
		{"0x01 negative fps", websocket.BinaryMessage, telBinaryFPS(binary.BigEndian, 1, -90, 11, 2), "fps", "-90"},
		{"0x01 infinite frame time", websocket.BinaryMessage, telBinaryFPS(binary.BigEndian, 1, 90, float32(math.Inf(1)), 2), "frame_time_ms", "implausible"},
		{"0x02 shorter than its header", websocket.BinaryMessage, []byte{0x02, 0, 0, 0, 1}, "length", "header"},
		{"0x02 compressed length mismatch", websocket.BinaryMessage, telGzip(t, []byte(`{"type":"pong"}`), -1, 5), "compressed_length", "header says 5 bytes"},
		{"0x02 declared size over the cap", websocket.BinaryMessage, telGzip(t, []byte(`{"type":"pong"}`), 2<<20, -1), "uncompressed_length", "over the 1048576-byte cap"},
		{"0x02 gzip bomb declared small", websocket.BinaryMessage, telGzip(t, bomb.Bytes(), 1000, -1), "uncompressed_length", "more than the 1000 bytes declared"},
		{"0x02 declared size too large", websocket.BinaryMessage, telGzip(t, []byte(`{"type":"pong"}`), 100, -1), "uncompressed_length", "inflates to 15"},
		{"0x02 not gzip", websocket.BinaryMessage, append([]byte{0x02, 0, 0, 0, 3, 0, 0, 0, 3}, "abc"...), "payload", "not gzip"},
		{"0x02 truncated gzip", websocket.BinaryMessage, truncatedGzip(t), "payload", "corrupt gzip"},
		{"0x02 gzip of malformed JSON", websocket.BinaryMessage, telGzip(t, []byte(`{"type":`), -1, -1), "", "malformed JSON"},
		{"0x02 gzip of an fps frame with bad fps", websocket.BinaryMessage, telGzip(t, fps(`{"fps":-3}`), -1, -1), "data.fps", "outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decoder{Now: telClock}
			got := Frame{Kind: KindSnapshot, FPS: 12} // stale values must not survive
			err := d.Decode(tt.msgType, tt.data, &got)
			if err == nil {
				t.Fatalf("Decode succeeded with %+v, want an error on field %q", got, tt.wantField)
			}
			if !errors.Is(err, ErrInvalidFrame) {
				t.Errorf("errors.Is(%v, ErrInvalidFrame) = false", err)
			}
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FrameError: %v", err, err)
			}
			if fe.Field != tt.wantField {
				t.Errorf("Field = %q, want %q (error: %v)", fe.Field, tt.wantField, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
			if tt.wantField != "" && !strings.Contains(err.Error(), "field "+tt.wantField) {
				t.Errorf("error %q does not name field %q", err, tt.wantField)
			}
			if want := (Frame{Received: telNow, Encoding: got.Encoding}); !reflect.DeepEqual(got, want) {
				t.Errorf("frame after a failed Decode = %+v, want only Received and Encoding", got)
			}
		})
	}
}

// truncatedGzip is a 0x02 frame whose gzip stream lacks its trailer, with
// the header's lengths consistent with what remains.
func truncatedGzip(t *testing.T) []byte {
	full := telGzip(t, []byte(`{"type":"pong"}`), -1, -1)
	cut := full[:len(full)-4]
	binary.BigEndian.PutUint32(cut[5:9], uint32(len(cut)-9))
	return cut
}

// TestDecodeBinaryByteOrder follows one decoder across packets: the byte
// order that worked is kept, a frame counter that restarts is accepted, and
// when both readings are plausible the increasing frame number decides.
func TestDecodeBinaryByteOrder(t *testing.T) {
	zeros := func(frame [4]byte) []byte { // fps and times 0: plausible in both orders
		return append([]byte{0x01, frame[0], frame[1], frame[2], frame[3]}, make([]byte, 12)...)
	}
	steps := []struct {
		name      string
		data      []byte
		wantLE    bool
		wantFrame uint32
	}{
		{"first packet big-endian", telBinaryFPS(binary.BigEndian, 5, 90, 11, 2), false, 5},
		{"next big-endian", telBinaryFPS(binary.BigEndian, 6, 90, 11, 2), false, 6},
		{"frame counter restarts with the instance", telBinaryFPS(binary.BigEndian, 1, 90, 11, 2), false, 1},
		{"both plausible: the increasing reading wins", zeros([4]byte{1, 0, 0, 0}), false, 1 << 24},
		{"both plausible and neither increasing: the known order wins", zeros([4]byte{0, 0, 0, 1}), false, 1},
		{"little-endian packets switch the order", telBinaryFPS(binary.LittleEndian, 3, 60, 16, 3), true, 3},
		{"both plausible and increasing: little-endian is now preferred", zeros([4]byte{4, 0, 0, 1}), true, 1<<24 | 4},
		{"big-endian again", telBinaryFPS(binary.BigEndian, 9, 90, 11, 2), false, 9},
	}
	d := Decoder{Now: telClock}
	for _, s := range steps {
		var f Frame
		if err := d.Decode(websocket.BinaryMessage, s.data, &f); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if f.LittleEndian != s.wantLE || f.FrameNumber != s.wantFrame {
			t.Errorf("%s: LittleEndian=%v FrameNumber=%d, want %v %d", s.name, f.LittleEndian, f.FrameNumber, s.wantLE, s.wantFrame)
		}
	}
}

// TestDecodeReusesFrame checks that a frame reused across kinds carries
// nothing over, and that Decode keeps no reference to its input.
func TestDecodeReusesFrame(t *testing.T) {
	d := Decoder{Now: telClock}
	var f Frame
	if err := d.Decode(websocket.TextMessage, telFixture(t, "vr_tracking"), &f); err != nil {
		t.Fatal(err)
	}
	data := []byte(`{"type":"event","event":"scene_loaded","data":{"message":"res://a.tscn"}}`)
	if err := d.Decode(websocket.TextMessage, data, &f); err != nil {
		t.Fatal(err)
	}
	want := Frame{Kind: KindUnknown, Event: "scene_loaded", Time: telNow, Received: telNow, Message: "res://a.tscn"}
	for i := range data {
		data[i] = 'x'
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("reused frame:\n got %+v\nwant %+v", f, want)
	}
}

// TestDecodeTrackingIsTheFramesOwn: a copy of a vr_tracking frame keeps
// its poses when the frame is reused for the next one (Frame.Tracking is
// never shared nor reused), and a frame of another kind has none.
func TestDecodeTrackingIsTheFramesOwn(t *testing.T) {
	d := Decoder{Now: telClock}
	var f Frame
	if err := d.Decode(websocket.TextMessage, telFixture(t, "vr_tracking"), &f); err != nil {
		t.Fatal(err)
	}
	kept := f
	want := *kept.Tracking
	if err := d.Decode(websocket.TextMessage, []byte(`{"type":"event","event":"vr_tracking","data":{"headset":{"x":1,"y":2,"z":3}}}`), &f); err != nil {
		t.Fatal(err)
	}
	if *kept.Tracking != want || kept.Tracking == f.Tracking {
		t.Errorf("the copy's poses %+v changed with the next frame's %+v, want them kept as %+v", *kept.Tracking, *f.Tracking, want)
	}
	if err := d.Decode(websocket.TextMessage, []byte(telFPSJSON), &f); err != nil || f.Tracking != nil {
		t.Errorf("fps frame: Tracking %+v, %v; want none", f.Tracking, err)
	}
}

func TestDecodeBinaryFPSAllocatesNothing(t *testing.T) {
	d := Decoder{}
	var f Frame
	packet := telBinaryFPS(binary.BigEndian, 1, 90, 11, 2)
	n := uint32(1)
	allocs := testing.AllocsPerRun(1000, func() {
		n++
		binary.BigEndian.PutUint32(packet[1:5], n)
		if err := d.Decode(websocket.BinaryMessage, packet, &f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("decoding a binary 0x01 packet allocates %v times, want 0", allocs)
	}
}

func TestDecodeSecretNeverPrinted(t *testing.T) {
	d := Decoder{Now: telClock}
	var f Frame
	if err := d.Decode(websocket.TextMessage, telFixture(t, "authenticated"), &f); err != nil {
		t.Fatal(err)
	}
	if s := strings.Join([]string{f.HMACSecret.String(), sprintFrame(f)}, " "); strings.Contains(s, "0123456789abcdef") {
		t.Errorf("the hmac_secret is printed: %s", s)
	}
	if f.HMACSecret.Reveal() != "0123456789abcdef" {
		t.Errorf("HMACSecret.Reveal() = %q", f.HMACSecret.Reveal())
	}
}

// TestDecoderDropsGrownInflateBuffer: a gzip frame that inflates past
// maxKeptMessageBuffer is decoded, and its buffer is not kept; a small one's
// is, for the next frame.
func TestDecoderDropsGrownInflateBuffer(t *testing.T) {
	var d Decoder
	var f Frame
	big := []byte(`{"event":"custom","data":{"note":"` + strings.Repeat("x", 2*maxKeptMessageBuffer) + `"}}`)
	if err := d.Decode(websocket.BinaryMessage, telGzip(t, big, -1, -1), &f); err != nil {
		t.Fatalf("decoding a large gzip frame: %v", err)
	}
	if f.Encoding != EncodingGzipJSON || f.Event != "custom" {
		t.Fatalf("decoded %+v", f)
	}
	if cap(d.inflated) > maxKeptMessageBuffer {
		t.Errorf("the decoder keeps a %d-byte inflate buffer after a large frame", cap(d.inflated))
	}
	if err := d.Decode(websocket.BinaryMessage, telGzip(t, telFixture(t, "fps"), -1, -1), &f); err != nil {
		t.Fatal(err)
	}
	if d.inflated == nil {
		t.Error("a small frame's inflate buffer was not kept")
	}
}
