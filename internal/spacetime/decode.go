package spacetime

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	"github.com/spacetime-vr/spacetime-watch/internal/clock"
)

// ErrInvalidFrame is wrapped by every error Decode returns: the frame was
// malformed or carried an impossible value. A stream counts and skips such
// frames; they never end it.
var ErrInvalidFrame = errors.New("invalid telemetry frame")

// FrameError says which part of a telemetry frame was wrong. errors.Is(err,
// ErrInvalidFrame) holds for every FrameError.
type FrameError struct {
	// Encoding is how the frame arrived.
	Encoding Encoding
	// Field names the offending part: a JSON path ("data.fps", "timestamp"),
	// or a binary header field ("length", "type", "uncompressed_length").
	// Empty when the frame as a whole was unreadable.
	Field string
	// Reason says what was wrong, with the value when it is a number.
	Reason string
	// Err is the underlying error (JSON syntax, gzip), if any.
	Err error
}

// Error names the encoding, the field and the reason.
func (e *FrameError) Error() string {
	msg := "invalid telemetry frame (" + e.Encoding.String() + ")"
	if e.Field != "" {
		msg += ": field " + e.Field
	}
	msg += ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrInvalidFrame) hold.
func (e *FrameError) Is(target error) bool { return target == ErrInvalidFrame }

// Unwrap returns the underlying error.
func (e *FrameError) Unwrap() error { return e.Err }

// DefaultMaxInflatedBytes caps the decompressed size of a binary 0x02 frame.
const DefaultMaxInflatedBytes = 1 << 20

// Ranges Decode enforces. Values outside them are not measurements but bugs
// or garbage, and an alert raised on them would be noise.
const (
	maxFPS         = 1000
	maxMillis      = 3.6e6 // one hour, in ms
	maxMemoryMB    = 1e9   // a petabyte
	maxPlayerCount = 1e6
	// maxUnixSeconds is 9999-12-31T23:59:59Z: beyond it RFC 3339 has no form.
	maxUnixSeconds = 253402300799
	// millisThreshold separates Unix seconds from Unix milliseconds (docs/instance.md, "Events and timestamps"):
	// 1e12 s is the year 33658, 1e12 ms is 2001.
	millisThreshold = 1e12
	// minBinaryValue: in a binary 0x01 packet read in the wrong byte order,
	// ordinary values become denormals (90.0 LE read BE is 6.5e-41), which no
	// real measurement is.
	minBinaryValue = 1e-6
)

// Binary frame types, byte 0 of a binary message (docs/instance.md, "Frames and encodings").
const (
	binaryFPS        = 0x01
	binaryGzipJSON   = 0x02
	binaryPing       = 0x03
	binaryPong       = 0x04
	binaryFPSLength  = 17
	binaryGzipHeader = 9
)

// Decoder turns telemetry WebSocket messages into Frames. The zero value is
// ready to use. A Decoder keeps the state of one stream (the last binary
// frame number, the byte order that worked, reusable buffers), so use one per
// connection (or per target, across reconnects); it is not safe for
// concurrent use.
//
// Decoding a binary 0x01 packet allocates nothing. A plain JSON envelope
// (decode_scan.go: keys without escapes, in ASCII, none repeated) is read
// by a scanner that allocates only the strings the frame carries; any
// other goes through encoding/json, with the same result.
type Decoder struct {
	// Now is the receive clock, for frames without a timestamp (default clock.Now).
	Now func() time.Time
	// MaxInflatedBytes caps the decompressed size of a binary 0x02 frame
	// (default DefaultMaxInflatedBytes): a larger declared size is refused
	// before inflating, and inflation stops one byte past the declared size.
	MaxInflatedBytes int
	// SkipPoses makes a vr_tracking frame a scan rather than a decode, for a
	// caller that uses only its kind and time (the watcher: the rules count
	// it as data, and nothing judges a pose). The envelope is read as usual
	// (Kind, Event, Time, TimeSource), the JSON is checked to be well
	// formed, and its data must be an object naming a headset or a
	// controller; the poses themselves are neither read nor checked, so
	// Frame.Tracking stays nil (no allocation), and Level,
	// Message, Details and Scene empty. A frame that cannot be scanned this
	// way (a key with an escape or outside ASCII, a repeated key, a type
	// other than event) is decoded in full. Default false: poses decoded.
	SkipPoses bool

	// reflectOnly decodes every JSON envelope with encoding/json, never with
	// scanEnvelope: the reference FuzzDecode compares the scanner with.
	reflectOnly bool

	littleEndian bool // the byte order of the last good 0x01 packet
	haveLast     bool
	lastFrame    uint32

	env      wireEnvelope
	zsrc     bytes.Reader
	zr       *gzip.Reader
	inflated []byte
}

// Decode decodes one message of the given WebSocket type
// (websocket.TextMessage or websocket.BinaryMessage) into f, which it resets
// first. It returns an error wrapping ErrInvalidFrame (a *FrameError) when
// the message is malformed or holds an out-of-range value; f then holds
// only Received and Encoding. data is not retained.
func (d *Decoder) Decode(msgType int, data []byte, f *Frame) error {
	now := clock.Now
	if d.Now != nil {
		now = d.Now
	}
	return d.decodeAt(msgType, data, f, now())
}

// decodeAt is Decode with the receive time read by the caller: a Stream
// reads the clock once per frame, for its deadlines and the frame.
func (d *Decoder) decodeAt(msgType int, data []byte, f *Frame, received time.Time) error {
	*f = Frame{Received: received}
	var err error
	switch msgType {
	case websocket.TextMessage:
		f.Encoding = EncodingJSON
		err = d.decodeJSON(data, f)
	case websocket.BinaryMessage:
		err = d.decodeBinary(data, f)
	default:
		err = &FrameError{Field: "message_type", Reason: fmt.Sprintf("WebSocket message type %d is neither text nor binary", msgType)}
	}
	if err != nil {
		*f = Frame{Received: f.Received, Encoding: f.Encoding}
		return err
	}
	if f.TimeSource == TimeReceived {
		f.Time = f.Received
	}
	return nil
}

func (d *Decoder) decodeBinary(data []byte, f *Frame) error {
	if len(data) == 0 {
		return &FrameError{Encoding: EncodingBinaryFPS, Field: "length", Reason: "empty binary frame"}
	}
	switch data[0] {
	case binaryFPS:
		f.Encoding = EncodingBinaryFPS
		return d.decodeFPSPacket(data, f)
	case binaryGzipJSON:
		f.Encoding = EncodingGzipJSON
		payload, err := d.inflate(data)
		if err == nil {
			err = d.decodeJSON(payload, f)
		}
		if cap(d.inflated) > maxKeptMessageBuffer {
			d.inflated = nil // as a Stream's message buffer: one large frame must not pin it
		}
		return err
	case binaryPing, binaryPong:
		// Documented without a layout (docs/instance.md, "Frames and
		// encodings"): the type byte is all that is read.
		f.Encoding = EncodingBinaryHeartbeat
		f.Kind, f.Event = KindPong, "pong"
		if data[0] == binaryPing {
			f.Kind, f.Event = KindPing, "ping"
		}
		return nil
	}
	return &FrameError{Encoding: EncodingBinaryFPS, Field: "type", Reason: fmt.Sprintf("unknown binary frame type 0x%02x (known: 0x01 FPS, 0x02 gzip JSON, 0x03/0x04 heartbeat)", data[0])}
}

// fpsPacket is one reading of a binary 0x01 packet in one byte order.
type fpsPacket struct {
	frame                 uint32
	fps, frameMS, physMS  float64
	badField              string // first implausible field, "" when plausible
	badValue              float64
	increasing, plausible bool
}

func (d *Decoder) readFPSPacket(data []byte, order binary.ByteOrder) fpsPacket {
	p := fpsPacket{
		frame:   order.Uint32(data[1:5]),
		fps:     float64(math.Float32frombits(order.Uint32(data[5:9]))),
		frameMS: float64(math.Float32frombits(order.Uint32(data[9:13]))),
		physMS:  float64(math.Float32frombits(order.Uint32(data[13:17]))),
	}
	switch {
	case !plausibleBinary(p.fps, maxFPS):
		p.badField, p.badValue = "fps", p.fps
	case !plausibleBinary(p.frameMS, maxMillis):
		p.badField, p.badValue = "frame_time_ms", p.frameMS
	case !plausibleBinary(p.physMS, maxMillis):
		p.badField, p.badValue = "physics_time_ms", p.physMS
	}
	p.plausible = p.badField == ""
	p.increasing = !d.haveLast || p.frame > d.lastFrame
	return p
}

func plausibleBinary(v, max float64) bool {
	return inFrameRange(v, 0, max) && (v == 0 || v >= minBinaryValue)
}

// decodeFPSPacket reads the 17-byte FPS packet. TELEMETRY_GUIDE says
// big-endian, API_REFERENCE little-endian (docs/instance.md, "Frames and encodings"), so both readings are
// sanity-checked: the byte order that worked last time is preferred; a
// reading that is plausible and has an increasing frame number wins; failing
// that, a merely plausible one does (the frame counter restarts with the
// instance).
func (d *Decoder) decodeFPSPacket(data []byte, f *Frame) error {
	if len(data) != binaryFPSLength {
		return &FrameError{Encoding: EncodingBinaryFPS, Field: "length", Reason: fmt.Sprintf("binary 0x01 frame is %d bytes, want %d", len(data), binaryFPSLength)}
	}
	be := d.readFPSPacket(data, binary.BigEndian)
	le := d.readFPSPacket(data, binary.LittleEndian)
	first, second, firstLE := be, le, false
	if d.littleEndian {
		first, second, firstLE = le, be, true
	}
	var p fpsPacket
	var isLE bool
	switch {
	case first.plausible && first.increasing:
		p, isLE = first, firstLE
	case second.plausible && second.increasing:
		p, isLE = second, !firstLE
	case first.plausible:
		p, isLE = first, firstLE
	case second.plausible:
		p, isLE = second, !firstLE
	default:
		return &FrameError{Encoding: EncodingBinaryFPS, Field: be.badField,
			Reason: fmt.Sprintf("big-endian value %v is implausible, and so is the little-endian reading (%s %v)", be.badValue, le.badField, le.badValue)}
	}
	d.littleEndian, d.haveLast, d.lastFrame = isLE, true, p.frame
	f.Kind, f.Event = KindFPS, "fps"
	f.LittleEndian = isLE
	f.FrameNumber, f.FPS, f.FrameTimeMS, f.PhysicsTimeMS = p.frame, p.fps, p.frameMS, p.physMS
	f.Fields = FieldFrameNumber | FieldFPS | FieldFrameTime | FieldPhysicsTime
	return nil
}

// inflate checks a binary 0x02 frame's header and returns its decompressed
// payload, which stays valid until the next call.
func (d *Decoder) inflate(data []byte) ([]byte, error) {
	if len(data) < binaryGzipHeader {
		return nil, &FrameError{Encoding: EncodingGzipJSON, Field: "length", Reason: fmt.Sprintf("binary 0x02 frame is %d bytes, shorter than its %d-byte header", len(data), binaryGzipHeader)}
	}
	declared := binary.BigEndian.Uint32(data[1:5])
	compressed := binary.BigEndian.Uint32(data[5:9])
	payload := data[binaryGzipHeader:]
	if uint64(compressed) != uint64(len(payload)) {
		return nil, &FrameError{Encoding: EncodingGzipJSON, Field: "compressed_length", Reason: fmt.Sprintf("header says %d bytes, the frame carries %d", compressed, len(payload))}
	}
	limit := d.MaxInflatedBytes
	if limit <= 0 {
		limit = DefaultMaxInflatedBytes
	}
	if uint64(declared) > uint64(limit) {
		return nil, &FrameError{Encoding: EncodingGzipJSON, Field: "uncompressed_length", Reason: fmt.Sprintf("%d bytes declared, over the %d-byte cap", declared, limit)}
	}
	d.zsrc.Reset(payload)
	var err error
	if d.zr == nil {
		d.zr, err = gzip.NewReader(&d.zsrc)
	} else {
		err = d.zr.Reset(&d.zsrc)
	}
	if err != nil {
		return nil, &FrameError{Encoding: EncodingGzipJSON, Field: "payload", Reason: "not gzip", Err: err}
	}
	// One byte more than declared: reading it proves the header lied, and
	// nothing past it is ever inflated (the gzip-bomb guard).
	want := int(declared) + 1
	if cap(d.inflated) < want {
		d.inflated = make([]byte, want)
	}
	buf := d.inflated[:want]
	n, err := io.ReadFull(io.LimitReader(d.zr, int64(want)), buf)
	switch {
	case err == nil:
		return nil, &FrameError{Encoding: EncodingGzipJSON, Field: "uncompressed_length", Reason: fmt.Sprintf("payload inflates to more than the %d bytes declared", declared)}
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		// A truncated gzip stream also ends in ErrUnexpectedEOF; its
		// checksum was then never verified, so make sure the stream ended.
		if _, err := d.zr.Read(buf[:0]); err != nil && err != io.EOF {
			return nil, &FrameError{Encoding: EncodingGzipJSON, Field: "payload", Reason: "corrupt gzip stream", Err: err}
		}
	default:
		return nil, &FrameError{Encoding: EncodingGzipJSON, Field: "payload", Reason: "corrupt gzip stream", Err: err}
	}
	if n != int(declared) {
		return nil, &FrameError{Encoding: EncodingGzipJSON, Field: "uncompressed_length", Reason: fmt.Sprintf("header says %d bytes, the payload inflates to %d", declared, n)}
	}
	return buf[:n], nil
}

// decodeJSON decodes a JSON envelope (a text frame, or an inflated 0x02
// payload) into f. f.Encoding is already set.
func (d *Decoder) decodeJSON(data []byte, f *Frame) error {
	invalid := func(field, reason string, err error) error {
		return &FrameError{Encoding: f.Encoding, Field: field, Reason: reason, Err: err}
	}
	if i := skipJSONSpace(data, 0); i == len(data) || data[i] != '{' {
		return invalid("", "not a JSON object", nil)
	}
	if d.SkipPoses {
		if scanned, err := scanTracking(data, f); scanned {
			return err
		}
	}
	if d.reflectOnly || !scanEnvelope(data, &d.env) {
		if err := d.unmarshalEnvelope(data); err != nil {
			return invalid("", "malformed JSON", err)
		}
	}
	env := &d.env
	if env.Type.bad {
		return invalid("type", "not a string", nil)
	}
	if env.Event.bad {
		return invalid("event", "not a string", nil)
	}
	if err := classifyEnvelope(env, f); err != nil {
		return err
	}
	if env.Timestamp.reason != "" {
		return invalid("timestamp", env.Timestamp.reason, nil)
	}
	f.Time, f.TimeSource = env.Timestamp.t, env.Timestamp.source
	if field, reason := fillFrame(&env.Data, f); field != "" {
		return invalid(field, reason, nil)
	}
	f.Level = orString(env.Data.Level, env.Level)
	f.Message = orString(env.Data.Message, env.Message)
	f.Details = env.Data.Details
	f.Scene = env.Data.Scene
	if f.Kind == KindWarning && announcesDesktop(env) {
		f.Kind = KindDesktopFallback
	}
	return requireFrameData(f)
}

// unmarshalEnvelope decodes data into d.env with encoding/json, for what
// scanEnvelope cannot read. A value of the wrong JSON type in a string or
// object field (message, data) is tolerated as absent; what matters is
// re-checked by the caller. Numbers never cause one: wireFloat reads
// anything.
func (d *Decoder) unmarshalEnvelope(data []byte) error {
	d.env = wireEnvelope{}
	err := json.Unmarshal(data, &d.env)
	var typeErr *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &typeErr) {
		return err
	}
	return nil
}

// classifyEnvelope sets f.Kind and f.Event from the envelope's type and event.
func classifyEnvelope(env *wireEnvelope, f *Frame) error {
	typ, ev := env.Type.s, env.Event.s
	switch {
	case typ == "" && ev == "":
		return &FrameError{Encoding: f.Encoding, Field: "type", Reason: "missing: the envelope has neither type nor event"}
	case typ == "event" || typ == "":
		if ev == "" {
			return &FrameError{Encoding: f.Encoding, Field: "event", Reason: "missing in an envelope of type event"}
		}
		f.Event, f.Kind = ev, eventKind(ev)
	default:
		f.Event, f.Kind = typ, typeKind(typ, env)
		if f.Kind == KindUnknown && ev != "" {
			f.Event, f.Kind = ev, eventKind(ev)
		}
	}
	return nil
}

// eventKind maps the documented event names (docs/instance.md, "Events and timestamps").
func eventKind(ev string) Kind {
	switch ev {
	case "fps", "performance_update":
		return KindFPS
	case "vr_tracking":
		return KindVRTracking
	case "vr_initialized":
		return KindVRInitialized
	case "desktop_fallback", "vr_fallback":
		return KindDesktopFallback
	case "warning":
		return KindWarning
	case "error", "auth_failed":
		return KindError
	case "auth_required":
		return KindAuthRequired
	case "authenticated", "auth_success":
		return KindAuthenticated
	case "pong":
		return KindPong
	case "snapshot":
		return KindSnapshot
	}
	return KindUnknown
}

// typeKind maps envelope types other than "event" (docs/instance.md, "Events and timestamps").
func typeKind(typ string, env *wireEnvelope) Kind {
	switch typ {
	case "alert":
		switch level := orString(env.Level, env.Data.Level); {
		case asciiEqualFold(level, "warning"), asciiEqualFold(level, "warn"):
			return KindWarning
		case asciiEqualFold(level, "error"), asciiEqualFold(level, "critical"):
			return KindError
		}
		return KindUnknown
	case "error", "warning", "auth_failed", "auth_required", "authenticated", "auth_success", "pong", "snapshot":
		return eventKind(typ)
	}
	return KindUnknown
}

// announcesDesktop reports whether a warning says that VR did not start and
// the instance fell back to desktop mode. Nothing documents the wording, so
// any mention of "desktop" in the message or a mode field counts.
func announcesDesktop(env *wireEnvelope) bool {
	return asciiContainsFold(env.Data.Message, "desktop") || asciiContainsFold(env.Message, "desktop") ||
		asciiContainsFold(env.Data.Mode, "desktop") || asciiContainsFold(env.Data.VRMode, "desktop")
}

// requireFrameData checks that a frame has what its kind is for.
func requireFrameData(f *Frame) error {
	switch f.Kind {
	case KindFPS:
		if !f.Has(FieldFPS) {
			return &FrameError{Encoding: f.Encoding, Field: "data.fps", Reason: "missing"}
		}
	case KindVRTracking:
		if t := f.Tracking; t == nil || !t.Headset.Present && !t.LeftController.Present && !t.RightController.Present {
			return &FrameError{Encoding: f.Encoding, Field: "data", Reason: "missing: a vr_tracking frame without headset or controllers"}
		}
	}
	return nil
}

// fillFrame copies what the frame's kind is about from the payload into f,
// checking ranges. It returns the offending field and the reason, or ""
// when all is well. Fields that do not belong to the kind are ignored: an
// event may use the same names for other things (a vr_initialized event's
// "headset" can be the device's name).
func fillFrame(p *wirePayload, f *Frame) (field, reason string) {
	switch f.Kind {
	case KindFPS, KindSnapshot:
		return fillMeasures(p, f)
	case KindVRTracking:
		return fillPoses(p, f)
	case KindAuthenticated:
		if p.SignatureRequired.state == valueBad {
			return "data.signature_required", "not a boolean"
		}
		f.SignatureRequired = p.SignatureRequired.v
		f.HMACSecret = Secret(p.HMACSecret)
	}
	return "", ""
}

func fillMeasures(p *wirePayload, f *Frame) (field, reason string) {
	numbers := [...]struct {
		name     string
		src      *wireFloat
		dst      *float64
		bit      Field
		min, max float64
	}{
		{"data.fps", &p.FPS, &f.FPS, FieldFPS, 0, maxFPS},
		{"data.frame_time_ms", &p.FrameTimeMS, &f.FrameTimeMS, FieldFrameTime, 0, maxMillis},
		{"data.physics_time_ms", &p.PhysicsTimeMS, &f.PhysicsTimeMS, FieldPhysicsTime, 0, maxMillis},
		{"data.render_time_ms", &p.RenderTimeMS, &f.RenderTimeMS, FieldRenderTime, 0, maxMillis},
		{"data.memory_usage_mb", &p.MemoryUsageMB, &f.MemoryMB, FieldMemory, 0, maxMemoryMB},
		{"data.memory_mb", &p.MemoryMB, &f.MemoryMB, FieldMemory, 0, maxMemoryMB},
		{"data.cpu_load", &p.CPULoad, &f.CPULoad, FieldCPULoad, 0, 1},
		{"data.player_count", &p.PlayerCount, &f.PlayerCount, FieldPlayerCount, 0, maxPlayerCount},
	}
	for _, n := range numbers {
		switch n.src.state {
		case valueAbsent:
			continue
		case valueBad:
			return n.name, "not a number"
		}
		if !inFrameRange(n.src.v, n.min, n.max) {
			return n.name, fmt.Sprintf("%v is outside %v–%v", n.src.v, n.min, n.max)
		}
		if f.Has(n.bit) {
			continue // memory_usage_mb wins over memory_mb
		}
		*n.dst = n.src.v
		f.Fields |= n.bit
	}
	switch p.VRActive.state {
	case valueBad:
		return "data.vr_active", "not a boolean"
	case valueOK:
		f.VRActive = p.VRActive.v
		f.Fields |= FieldVRActive
	}
	return "", ""
}

// fillPoses decodes the poses into a new Tracking: a Frame copied by its
// user keeps its own.
func fillPoses(p *wirePayload, f *Frame) (field, reason string) {
	t := new(Tracking)
	f.Tracking = t
	poses := [...]struct {
		name string
		src  *wirePose
		dst  *Pose
	}{
		{"data.headset", p.Headset, &t.Headset},
		{"data.left_controller", p.LeftController, &t.LeftController},
		{"data.right_controller", p.RightController, &t.RightController},
	}
	for _, ps := range poses {
		if sub, reason := ps.src.pose(ps.dst); reason != "" {
			return ps.name + sub, reason
		}
	}
	return "", ""
}

func inFrameRange(v, min, max float64) bool {
	// NaN fails both comparisons; ±Inf fails one.
	return v >= min && v <= max
}

// skipJSONSpace returns the index of the first byte of b at or after i
// that is not JSON whitespace, or len(b).
func skipJSONSpace(b []byte, i int) int {
	for ; i < len(b); i++ {
		if c := b[i]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return i
		}
	}
	return len(b)
}

func orString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// asciiEqualFold is strings.EqualFold for ASCII, which is all these names
// use. s may be a []byte, a key the scanner compares without converting it.
func asciiEqualFold[S string | []byte](s S, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if asciiLower(s[i]) != asciiLower(t[i]) {
			return false
		}
	}
	return true
}

// asciiContainsFold reports whether s contains the lower-case ASCII word sub,
// ignoring case, without allocating.
func asciiContainsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if asciiEqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

func asciiLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// The wire types below mirror the JSON envelope. Their UnmarshalJSON methods
// never fail: a value of the wrong shape is recorded as bad so that Decode
// can name the field, rather than aborting encoding/json half-way.

// wireEnvelope is the JSON envelope: {"type","event","timestamp","data"},
// plus the top-level level and message of alert and error types.
type wireEnvelope struct {
	Type      wireName    `json:"type"`
	Event     wireName    `json:"event"`
	Timestamp wireStamp   `json:"timestamp"`
	Level     string      `json:"level"`
	Message   string      `json:"message"`
	Data      wirePayload `json:"data"`
}

// wirePayload is the union of every documented data object.
type wirePayload struct {
	FPS           wireFloat `json:"fps"`
	FrameTimeMS   wireFloat `json:"frame_time_ms"`
	PhysicsTimeMS wireFloat `json:"physics_time_ms"`
	RenderTimeMS  wireFloat `json:"render_time_ms"`
	MemoryUsageMB wireFloat `json:"memory_usage_mb"`
	MemoryMB      wireFloat `json:"memory_mb"`
	CPULoad       wireFloat `json:"cpu_load"`
	PlayerCount   wireFloat `json:"player_count"`
	VRActive      wireBool  `json:"vr_active"`

	Scene   string `json:"scene"`
	Level   string `json:"level"`
	Message string `json:"message"`
	Details string `json:"details"`
	Mode    string `json:"mode"`
	VRMode  string `json:"vr_mode"`

	// The poses are pointers, nil when absent (or null): three wirePoses
	// in line made the envelope that Decode zeroes for every JSON frame
	// 840 bytes, most of it for vr_tracking frames alone.
	Headset         *wirePose `json:"headset"`
	LeftController  *wirePose `json:"left_controller"`
	RightController *wirePose `json:"right_controller"`

	SignatureRequired wireBool `json:"signature_required"`
	HMACSecret        string   `json:"hmac_secret"`
}

type valueState uint8

const (
	valueAbsent valueState = iota // missing or null
	valueOK
	valueBad
)

// wireFloat is a number, or a string holding one ("90.5"): documents
// disagree on types, so both are read. NaN and Inf parse, and are refused
// later by the range checks.
type wireFloat struct {
	v     float64
	state valueState
}

func (w *wireFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	s := b
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := parseWireFloat(s)
	if err != nil {
		w.state = valueBad
		return nil
	}
	w.v, w.state = v, valueOK
	return nil
}

// parseWireFloat parses b without allocating (the compiler does not copy a
// []byte converted for a call that does not keep it). What the instance
// sends most (timestamps in Unix milliseconds or in seconds with a
// fraction, measures such as 89.6) takes parseExactDecimal's short cut;
// anything else goes to strconv.ParseFloat, with the same result to the
// bit either way (FuzzParseWireFloat).
func parseWireFloat(b []byte) (float64, error) {
	if v, ok := parseExactDecimal(b); ok {
		return v, nil
	}
	return strconv.ParseFloat(string(b), 64)
}

// maxExactDigits is the most digits parseExactDecimal converts:
// 10^15-1 < 2^53, below which float64 holds every integer exactly.
const maxExactDigits = 15

// exactPow10 are the powers of ten float64 holds exactly, up to
// maxExactDigits.
var exactPow10 = [maxExactDigits + 1]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseExactDecimal converts b when it is plain decimal digits (1 to
// maxExactDigits of them, leading zeros included) with at most one point
// between them: no sign, exponent or space. The digits without the point
// make an integer float64 holds exactly, as it does the power of ten to
// divide it by, so the one rounding of that division is the correctly
// rounded value strconv.ParseFloat returns too (Clinger's fast path,
// which strconv takes as well, after its more general parse).
func parseExactDecimal(b []byte) (float64, bool) {
	var mant uint64
	digits, frac := 0, -1 // frac counts the digits after the point; -1: no point
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			if digits++; digits > maxExactDigits {
				return 0, false
			}
			mant = mant*10 + uint64(c-'0')
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, false
		}
	}
	switch {
	case digits == 0 || frac == 0:
		return 0, false
	case frac < 0:
		return float64(mant), true
	}
	return float64(mant) / exactPow10[frac], true
}

// wireBool is a JSON boolean.
type wireBool struct {
	v     bool
	state valueState
}

func (w *wireBool) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
	case "true":
		w.v, w.state = true, valueOK
	case "false":
		w.v, w.state = false, valueOK
	default:
		w.state = valueBad
	}
	return nil
}

// wireName is the envelope's type or event. Known names are interned, so
// that decoding them allocates nothing.
type wireName struct {
	s   string
	bad bool
}

var knownNames = [...]string{
	"event", "fps", "vr_tracking", "vr_initialized", "warning", "error",
	"auth_required", "authenticated", "pong", "snapshot", "alert", "custom",
	"performance_update", "auth_success", "auth_failed", "desktop_fallback",
	"vr_fallback", "vr_focus_gained", "vr_focus_lost", "telemetry_connected",
	"scene_loaded", "player_position",
}

func (w *wireName) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '"' {
		w.bad = true
		return nil
	}
	raw := b[1 : len(b)-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		if err := json.Unmarshal(b, &w.s); err != nil {
			w.bad = true
		}
		return nil
	}
	for _, n := range knownNames {
		if string(raw) == n {
			w.s = n
			return nil
		}
	}
	w.s = string(raw)
	return nil
}

// wireStamp is the envelope's timestamp, normalised as it is read (docs/instance.md, "Events and timestamps"):
// a number above 1e12 is Unix milliseconds, a smaller one Unix seconds
// (fractions allowed), a string RFC 3339 (with or without fraction, or with
// no zone, meaning UTC) or a number in quotes.
type wireStamp struct {
	t      time.Time
	source TimeSource
	reason string // why the timestamp is unusable; "" when usable or absent
}

// Zone-less layouts seen in hand-written examples; read as UTC. Fractional
// seconds are accepted by time.Parse even though the layouts omit them.
var zonelessLayouts = [...]string{"2006-01-02T15:04:05", "2006-01-02 15:04:05"}

func (w *wireStamp) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) == 0 || b[0] != '"' {
		w.fromNumber(b)
		return nil
	}
	s := b[1 : len(b)-1]
	if len(s) > 0 && (s[0] >= '0' && s[0] <= '9') && !bytes.ContainsAny(s, "-:T ") {
		w.fromNumber(s)
		return nil
	}
	str := string(s)
	if t, err := time.Parse(time.RFC3339Nano, str); err == nil {
		w.set(t, TimeRFC3339)
		return nil
	}
	for _, layout := range zonelessLayouts {
		if t, err := time.Parse(layout, str); err == nil {
			w.set(t, TimeRFC3339)
			return nil
		}
	}
	if len(str) > 40 {
		str = str[:40] + "…"
	}
	w.reason = fmt.Sprintf("%q is neither RFC 3339 nor a Unix time", str)
	return nil
}

func (w *wireStamp) fromNumber(b []byte) {
	v, err := parseWireFloat(b)
	switch {
	case err != nil:
		w.reason = "neither a number nor a string"
		return
	case !(v > 0):
		w.reason = fmt.Sprintf("%v is not a positive Unix time", v)
		return
	}
	source, perSecond := TimeUnixSeconds, 1.0
	if v > millisThreshold {
		source, perSecond = TimeUnixMillis, 1000
	}
	whole := math.Floor(v / perSecond)
	if whole > maxUnixSeconds {
		w.reason = fmt.Sprintf("%v is past the year 9999 in seconds and in milliseconds", v)
		return
	}
	// Split before scaling, so that 1765900000123 ms keeps its exact 123 ms.
	nanos := math.Round((v - whole*perSecond) * (1e9 / perSecond))
	w.set(time.Unix(int64(whole), int64(nanos)), source)
}

func (w *wireStamp) set(t time.Time, source TimeSource) {
	if y := t.Year(); y < 1970 || y > 9999 {
		w.reason = fmt.Sprintf("%s is outside the years 1970–9999", t.UTC().Format(time.RFC3339))
		return
	}
	w.t, w.source = t.UTC(), source
}

// wirePose is one tracked device: {"position":[..],"rotation":[..]} or the
// runbook's bare {"x","y","z"} position.
type wirePose struct {
	present  bool
	bad      bool
	Position wireVec   `json:"position"`
	Rotation wireVec   `json:"rotation"`
	X        wireFloat `json:"x"`
	Y        wireFloat `json:"y"`
	Z        wireFloat `json:"z"`
}

// unmarshalPose is what encoding/json does with a *wirePose member: null
// leaves it nil, anything else goes to a new wirePose's UnmarshalJSON.
func unmarshalPose(dst **wirePose, b []byte) error {
	if string(b) == "null" {
		*dst = nil
		return nil
	}
	*dst = new(wirePose)
	return (*dst).UnmarshalJSON(b)
}

func (w *wirePose) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	type fields wirePose // without the method, to avoid recursion
	var tmp fields
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &tmp) != nil {
		*w = wirePose{present: true, bad: true}
		return nil
	}
	*w = wirePose(tmp)
	w.present = true
	return nil
}

// pose copies the device into dst, returning the offending sub-field and
// reason when a coordinate is missing or not finite. A nil w is absent.
func (w *wirePose) pose(dst *Pose) (sub, reason string) {
	if w == nil || !w.present {
		return "", ""
	}
	if w.bad {
		return "", "not an object of position and rotation"
	}
	dst.Present = true
	switch {
	case w.Position.state != valueAbsent:
		if w.Position.state == valueBad || w.Position.n < 3 {
			return ".position", "want [x,y,z] or {x,y,z} of finite numbers"
		}
		copy(dst.Position[:], w.Position.v[:3])
	case w.X.state != valueAbsent || w.Y.state != valueAbsent || w.Z.state != valueAbsent:
		for i, c := range [...]*wireFloat{&w.X, &w.Y, &w.Z} {
			if c.state != valueOK || !isFiniteFloat(c.v) {
				return "." + string("xyz"[i]), "want a finite number"
			}
			dst.Position[i] = c.v
		}
	}
	switch {
	case w.Rotation.state == valueAbsent:
	case w.Rotation.state == valueBad || w.Rotation.n < 3:
		return ".rotation", "want a quaternion [x,y,z,w] or Euler angles {x,y,z} of finite numbers"
	default:
		dst.Rotation = w.Rotation.v
		dst.RotationEuler = w.Rotation.n == 3
	}
	return "", ""
}

// wireVec is a vector as [x,y,z(,w)] or {x,y,z(,w)}; n counts the
// components present (3 or 4). Any missing or non-finite component among
// the first n makes it bad.
type wireVec struct {
	v     [4]float64
	n     int
	state valueState
}

func (w *wireVec) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var c [4]wireFloat
	var err error
	switch {
	case len(b) > 0 && b[0] == '[':
		err = json.Unmarshal(b, &c)
	case len(b) > 0 && b[0] == '{':
		var o struct{ X, Y, Z, W wireFloat }
		err = json.Unmarshal(b, &o)
		c = [4]wireFloat{o.X, o.Y, o.Z, o.W}
	default:
		w.state = valueBad
		return nil
	}
	w.state = valueBad
	if err != nil {
		return nil
	}
	n := 0
	for n < 4 && c[n].state == valueOK && isFiniteFloat(c[n].v) {
		w.v[n] = c[n].v
		n++
	}
	// Components after the first gap must be absent, not bad.
	for _, rest := range c[n:] {
		if rest.state != valueAbsent {
			return nil
		}
	}
	if n >= 3 {
		w.n, w.state = n, valueOK
	}
	return nil
}

func isFiniteFloat(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
