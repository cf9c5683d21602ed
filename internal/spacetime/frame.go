package spacetime

import "time"

// Kind classifies a decoded telemetry frame (docs/instance.md, "Events and timestamps").
type Kind uint8

// The kinds of telemetry frame. KindUnknown covers every well-formed frame
// whose event or type is none of the others (custom, scene_loaded, alert
// levels other than warning/error, ...): it still proves the stream is alive.
const (
	// KindUnknown is a well-formed frame of an event or type not listed below.
	KindUnknown Kind = iota
	// KindFPS is a frame-rate sample: the JSON fps (or performance_update)
	// event, or a binary 0x01 packet.
	KindFPS
	// KindVRTracking is a headset and controller pose sample.
	KindVRTracking
	// KindVRInitialized announces that the XR interface started.
	KindVRInitialized
	// KindDesktopFallback is a warning announcing that VR failed to start and
	// the instance runs in desktop mode.
	KindDesktopFallback
	// KindWarning is a warning event (or an alert of level warning).
	KindWarning
	// KindError is an error event, an envelope of type error or auth_failed,
	// or an alert of level error/critical.
	KindError
	// KindAuthRequired is the secure server's request for a token (docs/instance.md, "Authentication handshake").
	KindAuthRequired
	// KindAuthenticated is the secure server's acceptance of the token.
	KindAuthenticated
	// KindPong answers the client's {"command":"ping"} (or is a binary 0x04).
	KindPong
	// KindPing is a server heartbeat in the binary 0x03 form; nothing
	// documents an answer, so none is sent.
	KindPing
	// KindSnapshot answers {"command":"get_snapshot"}.
	KindSnapshot

	// KindCount is the number of kinds, for arrays indexed by Kind.
	KindCount
)

var kindNames = [KindCount]string{
	KindUnknown:         "unknown",
	KindFPS:             "fps",
	KindVRTracking:      "vr_tracking",
	KindVRInitialized:   "vr_initialized",
	KindDesktopFallback: "desktop_fallback",
	KindWarning:         "warning",
	KindError:           "error",
	KindAuthRequired:    "auth_required",
	KindAuthenticated:   "authenticated",
	KindPong:            "pong",
	KindPing:            "ping",
	KindSnapshot:        "snapshot",
}

// String returns the kind's snake_case name, suitable as a metric label.
func (k Kind) String() string {
	if k < KindCount {
		return kindNames[k]
	}
	return "invalid"
}

// IsData reports whether a frame of this kind carries information from the
// instance, as opposed to a keep-alive (pong, ping). A stream that delivers
// only keep-alives for StreamOptions.SilenceTimeout is silent.
func (k Kind) IsData() bool { return k != KindPong && k != KindPing && k < KindCount }

// Encoding says how a frame arrived on the wire (docs/instance.md, "Frames and encodings").
type Encoding uint8

const (
	// EncodingJSON is a text frame holding a JSON envelope.
	EncodingJSON Encoding = iota
	// EncodingBinaryFPS is a binary 0x01 packet (17 bytes).
	EncodingBinaryFPS
	// EncodingGzipJSON is a binary 0x02 frame: gzip-compressed JSON envelope.
	EncodingGzipJSON
	// EncodingBinaryHeartbeat is a binary 0x03 (ping) or 0x04 (pong) packet.
	EncodingBinaryHeartbeat
)

// String returns the encoding's name: json, binary, gzip (the sim's
// telemetry_encoding values) or binary_heartbeat.
func (e Encoding) String() string {
	switch e {
	case EncodingJSON:
		return "json"
	case EncodingBinaryFPS:
		return "binary"
	case EncodingGzipJSON:
		return "gzip"
	case EncodingBinaryHeartbeat:
		return "binary_heartbeat"
	}
	return "invalid"
}

// TimeSource says where Frame.Time came from: the documents disagree on the
// timestamp unit (docs/instance.md, "Events and timestamps"), so the decoder records which reading it applied.
type TimeSource uint8

const (
	// TimeReceived means the frame had no timestamp (binary 0x01 never has
	// one) and Time is the decoder's receive time.
	TimeReceived TimeSource = iota
	// TimeUnixSeconds means a number up to 1e12, read as Unix seconds.
	TimeUnixSeconds
	// TimeUnixMillis means a number above 1e12, read as Unix milliseconds.
	TimeUnixMillis
	// TimeRFC3339 means a string in RFC 3339 form (a zone-less form is UTC).
	TimeRFC3339
)

// String returns the source's snake_case name.
func (s TimeSource) String() string {
	switch s {
	case TimeReceived:
		return "received"
	case TimeUnixSeconds:
		return "unix_seconds"
	case TimeUnixMillis:
		return "unix_millis"
	case TimeRFC3339:
		return "rfc3339"
	}
	return "invalid"
}

// Field is a bit set of the optional values a frame carried. A value whose
// bit is clear was absent from the frame and reads as zero.
type Field uint16

// The optional values of a Frame, with the JSON data fields they come from.
const (
	FieldFPS         Field = 1 << iota // fps
	FieldFrameTime                     // frame_time_ms
	FieldPhysicsTime                   // physics_time_ms
	FieldRenderTime                    // render_time_ms
	FieldMemory                        // memory_usage_mb, or a snapshot's memory_mb
	FieldCPULoad                       // cpu_load
	FieldFrameNumber                   // binary 0x01 frame number
	FieldVRActive                      // vr_active
	FieldPlayerCount                   // player_count
)

// Pose is one tracked device of a vr_tracking frame. The documents disagree
// on its shape (docs/instance.md, "Events and timestamps"): positions come as [x,y,z] or {x,y,z}, rotations as a
// quaternion [x,y,z,w] or as Euler angles {x,y,z} in degrees. Present is
// false when the device was absent from the frame.
type Pose struct {
	// Present is true when the frame mentioned the device.
	Present bool
	// Position is x, y, z in metres.
	Position [3]float64
	// Rotation is a quaternion x, y, z, w; or, when RotationEuler is true,
	// Euler angles x, y, z in degrees (and Rotation[3] is 0).
	Rotation [4]float64
	// RotationEuler says that Rotation holds Euler angles.
	RotationEuler bool
}

// Tracking is the poses of a vr_tracking frame (Frame.Tracking).
type Tracking struct {
	// Headset, LeftController and RightController are the tracked devices;
	// at least one is Present.
	Headset, LeftController, RightController Pose
}

// Frame is one decoded telemetry message. Decoder.Decode fills a Frame the
// caller owns and reuses, so that decoding a binary FPS packet allocates
// nothing; it resets every field first. Values are finite and within the
// ranges Decode enforces (see Decoder).
//
// The fields are laid out so that a reset touches few cache lines (four,
// from eight): the small ones together, the poses out of line.
type Frame struct {
	// Kind classifies the frame.
	Kind Kind
	// Encoding says how it arrived.
	Encoding Encoding
	// TimeSource says how Time was read.
	TimeSource TimeSource
	// LittleEndian is true when a binary 0x01 packet only made sense read
	// little-endian (the API_REFERENCE layout, docs/instance.md, "Frames and encodings").
	LittleEndian bool
	// VRActive is a snapshot's vr_active.
	VRActive bool
	// SignatureRequired is an authenticated frame's signature_required: later
	// client commands must carry an HMAC signature (docs/instance.md, "Authentication handshake").
	SignatureRequired bool
	// Fields says which of the optional values below were present.
	Fields Field
	// FrameNumber is the binary 0x01 frame counter.
	FrameNumber uint32

	// Event is the event name as sent ("fps", "custom", "scene_loaded"), or
	// the envelope type when the envelope has no event ("pong", "alert").
	Event string
	// Time is when the instance says the frame was produced, in UTC; the
	// receive time when it said nothing (see TimeSource).
	Time time.Time
	// Received is the decoder's clock when Decode was called.
	Received time.Time

	// FPS is frames per second, 0–1000.
	FPS float64
	// FrameTimeMS, PhysicsTimeMS and RenderTimeMS are milliseconds, ≥ 0.
	FrameTimeMS, PhysicsTimeMS, RenderTimeMS float64
	// MemoryMB is memory use in MB (telemetry uses MB; HTTP uses bytes).
	MemoryMB float64
	// CPULoad is a 0–1 fraction.
	CPULoad float64
	// PlayerCount is a snapshot's player_count.
	PlayerCount float64

	// Level is an alert's level ("warning", "critical").
	Level string
	// Message and Details are the human text of error, warning and alert frames.
	Message, Details string
	// Scene is a snapshot's scene path.
	Scene string
	// HMACSecret is an authenticated frame's hmac_secret, the signing key.
	HMACSecret Secret

	// Tracking is a vr_tracking frame's poses, decoded into a Tracking of
	// its own (never shared with another Frame, nor reused); nil for every
	// other kind, and when the decoder skips poses (Decoder.SkipPoses)
	// and could scan the frame: one it cannot scan is decoded in full,
	// poses included, so a SkipPoses reader may still find Tracking set.
	Tracking *Tracking
}

// Has reports whether every value in fields was present in the frame.
func (f *Frame) Has(fields Field) bool { return f.Fields&fields == fields }

// Reset clears the frame for reuse.
func (f *Frame) Reset() { *f = Frame{} }
