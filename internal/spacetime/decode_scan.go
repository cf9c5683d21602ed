package spacetime

// This file reads plain JSON frames without reflection: a validating
// scanner (eachMember) walks the envelope once, and
//
//   - scanTracking, Decoder.SkipPoses' fast path, takes a vr_tracking
//     frame's kind and time and leaves its poses unread (decoding them
//     through encoding/json cost several times an fps event);
//   - scanEnvelope fills the same wireEnvelope json.Unmarshal would.
//
// Whatever the scanner doubts (an escape in a key, a repeated key, deep
// nesting, malformed JSON) goes to encoding/json, which also words the
// errors. FuzzDecode holds the two paths to the same results.

// scanTracking handles a vr_tracking envelope without decoding its poses.
// scanned is false when data is not such an envelope, or not plain enough
// to scan (see Decoder.SkipPoses): the caller then decodes it in full,
// which also gives any error its usual wording. When scanned is true, err
// is the frame's verdict.
//
// It looks at each byte once: the data object's members are counted as the
// envelope's walk validates them (walkObject), rather than walked again.
// A data object with a key eachMember would refuse (an escape, a byte
// outside ASCII) leaves the whole frame to the decoder.
func scanTracking(data []byte, f *Frame) (scanned bool, err error) {
	var typ, ev, stamp []byte
	var haveData bool
	devices := 0
	i := skipJSONSpace(data, 0)
	end := walkObject(data, i, 1, func(key []byte, i int) int {
		var dst *[]byte
		switch {
		case asciiEqualFold(key, "type"):
			dst = &typ
		case asciiEqualFold(key, "event"):
			dst = &ev
		case asciiEqualFold(key, "timestamp"):
			dst = &stamp
		case asciiEqualFold(key, "data"):
			if haveData {
				return -1 // repeated: encoding/json's merging rules apply
			}
			haveData = true
			if i < len(data) && data[i] == '{' {
				return walkObject(data, i, 2, func(key []byte, i int) int {
					end := jsonValueEnd(data, i, 2)
					if end > 0 && string(data[i:end]) != "null" && isTrackedDevice(key) {
						devices++
					}
					return end
				})
			}
			return jsonValueEnd(data, i, 1) // not an object: no device, the verdict below
		default:
			return jsonValueEnd(data, i, 1)
		}
		if *dst != nil {
			return -1 // repeated: encoding/json's merging rules apply
		}
		end := jsonValueEnd(data, i, 1)
		if end < 0 {
			return -1
		}
		value := data[i:end]
		if dst == &ev && string(value) != `"vr_tracking"` {
			return -1 // another event (or one spelled with escapes): scanEnvelope reads it, in one pass
		}
		*dst = value
		return end
	})
	if end < 0 || !onlySpaceAfter(data, end) || string(ev) != `"vr_tracking"` ||
		(typ != nil && string(typ) != `"event"` && string(typ) != "null") {
		return false, nil
	}
	if stamp != nil {
		var ts wireStamp
		_ = ts.UnmarshalJSON(stamp) // never fails: a bad stamp sets reason
		if ts.reason != "" {
			return true, &FrameError{Encoding: f.Encoding, Field: "timestamp", Reason: ts.reason}
		}
		f.Time, f.TimeSource = ts.t, ts.source
	}
	if devices == 0 {
		return true, &FrameError{Encoding: f.Encoding, Field: "data", Reason: "missing: a vr_tracking frame without headset or controllers"}
	}
	f.Kind, f.Event = KindVRTracking, "vr_tracking"
	return true, nil
}

// isTrackedDevice reports whether a data key names a device whose presence
// makes a vr_tracking frame valid, folded as encoding/json folds ASCII.
func isTrackedDevice(key []byte) bool {
	return asciiEqualFold(key, "headset") ||
		asciiEqualFold(key, "left_controller") || asciiEqualFold(key, "right_controller")
}

// eachMember calls fn with the key (without its quotes) and the raw value
// of each member of the JSON object b, in order, until fn returns false.
// It reports true only when b is a well-formed JSON object (whitespace
// around it allowed) and fn never said false. It reports false, without
// saying why, when fn did, when b is not well-formed JSON or not an object,
// when it nests deeper than maxScanDepth, or when a key has an escape or a
// byte outside ASCII (encoding/json folds such keys in ways a byte
// comparison does not): the callers then leave the frame to encoding/json,
// which is never wrong, so every doubt here may safely say false.
func eachMember(b []byte, fn func(key, value []byte) bool) bool {
	end := walkObject(b, skipJSONSpace(b, 0), 1, func(key []byte, i int) int {
		end := jsonValueEnd(b, i, 1)
		if end < 0 || !fn(key, b[i:end]) {
			return -1
		}
		return end
	})
	return end >= 0 && onlySpaceAfter(b, end)
}

// walkObject walks the JSON object that starts at b[i], whose members'
// values sit at nesting depth depth, and returns the index just past its
// closing brace, or -1. For each member it calls value with the key
// (without its quotes) and the index where the value starts; value must
// return the index just past the well-formed value (jsonValueEnd's
// answer, say), or -1 to stop the walk. Like eachMember, it refuses (-1) a
// key with an escape or a byte outside ASCII.
func walkObject(b []byte, i, depth int, value func(key []byte, i int) int) int {
	if i >= len(b) || b[i] != '{' || depth > maxScanDepth {
		return -1
	}
	i = skipJSONSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i == len(b) || b[i] != '"' {
			return -1
		}
		start := i + 1
		i = start
		for i < len(b) && b[i] != '"' {
			if b[i] == '\\' || b[i] >= 0x80 || b[i] < 0x20 {
				return -1
			}
			i++
		}
		if i == len(b) {
			return -1
		}
		key := b[start:i]
		i = skipJSONSpace(b, i+1)
		if i == len(b) || b[i] != ':' {
			return -1
		}
		i = skipJSONSpace(b, i+1)
		if i = value(key, i); i < 0 {
			return -1
		}
		i = skipJSONSpace(b, i)
		if i == len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipJSONSpace(b, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

// maxScanDepth bounds the nesting eachMember follows; deeper frames go to
// encoding/json (whose own limit is 10,000).
const maxScanDepth = 64

func onlySpaceAfter(b []byte, i int) bool { return skipJSONSpace(b, i) == len(b) }

// jsonValueEnd returns the index just past the well-formed JSON value that
// starts at b[i], or -1 when there is none (or it nests deeper than
// maxScanDepth). What follows the value is the caller's to check.
func jsonValueEnd(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return jsonStringEnd(b, i)
	case c == '{' || c == '[':
		if depth >= maxScanDepth {
			return -1
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipJSONSpace(b, i+1)
		if i < len(b) && b[i] == closing {
			return i + 1
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return -1
				}
				if i = jsonStringEnd(b, i); i < 0 {
					return -1
				}
				i = skipJSONSpace(b, i)
				if i >= len(b) || b[i] != ':' {
					return -1
				}
				i = skipJSONSpace(b, i+1)
			}
			if i = jsonValueEnd(b, i, depth+1); i < 0 {
				return -1
			}
			i = skipJSONSpace(b, i)
			switch {
			case i >= len(b):
				return -1
			case b[i] == closing:
				return i + 1
			case b[i] != ',':
				return -1
			}
			i = skipJSONSpace(b, i+1)
		}
	case c == '-' || ('0' <= c && c <= '9'):
		return jsonNumberEnd(b, i)
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
			return i + len(lit)
		}
	}
	return -1
}

// jsonStringEnd returns the index just past the JSON string that starts at
// b[i] (a quote), or -1 when it is malformed: unterminated, a control
// character, an unknown escape.
func jsonStringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return -1
				}
				for _, h := range b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// jsonNumberEnd returns the index just past the JSON number that starts at
// b[i], or -1 when it is malformed (01, 1., .5, 1e, -).
func jsonNumberEnd(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if j := skipDigits(b, i+1); j > i+1 {
			i = j
		} else {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if j := skipDigits(b, i); j > i {
			i = j
		} else {
			return -1
		}
	}
	return i
}

// skipDigits returns the index of the first byte of b at or after i that
// is not a decimal digit, or len(b).
func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// scanEnvelope fills env exactly as json.Unmarshal into a zero wireEnvelope
// would, without reflection, when data is plain: well-formed JSON whose
// envelope and data keys have no escape and stay in ASCII, each at most
// once, and whose string values have neither. The typed values go through
// the same UnmarshalJSON methods encoding/json would call. It reports false
// when data is not plain; the caller then uses json.Unmarshal, which also
// words any syntax error. FuzzDecode checks the two agree.
func scanEnvelope(data []byte, env *wireEnvelope) bool {
	*env = wireEnvelope{}
	return scanMembers(data, envelopeFields[:], env)
}

// scanMembers stores each member of the JSON object raw that fields name
// (keys folded as encoding/json folds ASCII) into dst, skipping the others.
// It reports false when raw is not an object, a known key repeats, or a key
// or a value is not plain.
func scanMembers[T any](raw []byte, fields []wireField[T], dst *T) bool {
	var seen uint32 // TestScannerKnowsEveryWireField keeps the tables within 32
	return eachMember(raw, func(key, value []byte) bool {
		for i := range fields {
			if asciiEqualFold(key, fields[i].name) {
				if seen&(1<<i) != 0 {
					return false
				}
				seen |= 1 << i
				return fields[i].set(dst, value)
			}
		}
		return true // a key the type does not have: skipped
	})
}

// wireField is one JSON member the scanner knows: its key and how to store
// its raw value. set reports false when the value is not plain.
type wireField[T any] struct {
	name string
	set  func(dst *T, raw []byte) bool
}

// envelopeFields are wireEnvelope's members, by their JSON names.
var envelopeFields = [...]wireField[wireEnvelope]{
	{"type", func(e *wireEnvelope, b []byte) bool { return e.Type.UnmarshalJSON(b) == nil }},
	{"event", func(e *wireEnvelope, b []byte) bool { return e.Event.UnmarshalJSON(b) == nil }},
	{"timestamp", func(e *wireEnvelope, b []byte) bool { return e.Timestamp.UnmarshalJSON(b) == nil }},
	{"level", func(e *wireEnvelope, b []byte) bool { return plainString(b, &e.Level) }},
	{"message", func(e *wireEnvelope, b []byte) bool { return plainString(b, &e.Message) }},
	{"data", func(e *wireEnvelope, b []byte) bool { return scanPayload(b, &e.Data) }},
}

// payloadFields are wirePayload's members, by their JSON names.
var payloadFields = [...]wireField[wirePayload]{
	{"fps", func(p *wirePayload, b []byte) bool { return p.FPS.UnmarshalJSON(b) == nil }},
	{"frame_time_ms", func(p *wirePayload, b []byte) bool { return p.FrameTimeMS.UnmarshalJSON(b) == nil }},
	{"physics_time_ms", func(p *wirePayload, b []byte) bool { return p.PhysicsTimeMS.UnmarshalJSON(b) == nil }},
	{"render_time_ms", func(p *wirePayload, b []byte) bool { return p.RenderTimeMS.UnmarshalJSON(b) == nil }},
	{"memory_usage_mb", func(p *wirePayload, b []byte) bool { return p.MemoryUsageMB.UnmarshalJSON(b) == nil }},
	{"memory_mb", func(p *wirePayload, b []byte) bool { return p.MemoryMB.UnmarshalJSON(b) == nil }},
	{"cpu_load", func(p *wirePayload, b []byte) bool { return p.CPULoad.UnmarshalJSON(b) == nil }},
	{"player_count", func(p *wirePayload, b []byte) bool { return p.PlayerCount.UnmarshalJSON(b) == nil }},
	{"vr_active", func(p *wirePayload, b []byte) bool { return p.VRActive.UnmarshalJSON(b) == nil }},
	{"scene", func(p *wirePayload, b []byte) bool { return plainString(b, &p.Scene) }},
	{"level", func(p *wirePayload, b []byte) bool { return plainString(b, &p.Level) }},
	{"message", func(p *wirePayload, b []byte) bool { return plainString(b, &p.Message) }},
	{"details", func(p *wirePayload, b []byte) bool { return plainString(b, &p.Details) }},
	{"mode", func(p *wirePayload, b []byte) bool { return plainString(b, &p.Mode) }},
	{"vr_mode", func(p *wirePayload, b []byte) bool { return plainString(b, &p.VRMode) }},
	{"headset", func(p *wirePayload, b []byte) bool { return unmarshalPose(&p.Headset, b) == nil }},
	{"left_controller", func(p *wirePayload, b []byte) bool { return unmarshalPose(&p.LeftController, b) == nil }},
	{"right_controller", func(p *wirePayload, b []byte) bool { return unmarshalPose(&p.RightController, b) == nil }},
	{"signature_required", func(p *wirePayload, b []byte) bool { return p.SignatureRequired.UnmarshalJSON(b) == nil }},
	{"hmac_secret", func(p *wirePayload, b []byte) bool { return plainString(b, &p.HMACSecret) }},
}

// scanPayload fills p from the data member's raw value. A value that is not
// an object leaves p zero, as encoding/json does (with a type error the
// decoder tolerates).
func scanPayload(raw []byte, p *wirePayload) bool {
	if len(raw) == 0 || raw[0] != '{' {
		return true
	}
	return scanMembers(raw, payloadFields[:], p)
}

// plainString stores a JSON string without escapes or bytes outside ASCII
// in dst. null, or a value of another type, leaves dst empty, as
// encoding/json does (the type error is tolerated). It reports false for a
// string it would have to unescape.
func plainString(raw []byte, dst *string) bool {
	if len(raw) < 2 || raw[0] != '"' {
		return true
	}
	s := raw[1 : len(raw)-1]
	for _, c := range s {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	*dst = string(s)
	return true
}
