package spacetime

import "encoding/json"

// This file is Decoder.SkipPoses' fast path: a vr_tracking frame (10 of the
// 12 frames an instance sends each second) is scanned, not decoded. Decoding
// its three poses through encoding/json costs several times an fps event;
// scanning costs one pass over the bytes and allocates nothing.

// scanTracking handles a vr_tracking envelope without decoding its poses.
// scanned is false when data is not such an envelope, or not plain enough
// to scan (see Decoder.SkipPoses): the caller then decodes it in full,
// which also gives any error its usual wording. When scanned is true, err
// is the frame's verdict.
func scanTracking(data []byte, f *Frame) (scanned bool, err error) {
	var typ, ev, stamp, payload []byte
	plain := eachMember(data, func(key, value []byte) bool {
		var dst *[]byte
		switch {
		case asciiEqualFold(string(key), "type"):
			dst = &typ
		case asciiEqualFold(string(key), "event"):
			dst = &ev
		case asciiEqualFold(string(key), "timestamp"):
			dst = &stamp
		case asciiEqualFold(string(key), "data"):
			dst = &payload
		default:
			return true
		}
		if *dst != nil {
			return false // repeated: encoding/json's merging rules apply
		}
		*dst = value
		return true
	})
	if !plain || string(ev) != `"vr_tracking"` || (typ != nil && string(typ) != `"event"` && string(typ) != "null") {
		return false, nil
	}
	if !json.Valid(data) {
		return false, nil // the full decode words the syntax error
	}
	if stamp != nil {
		var ts wireStamp
		_ = ts.UnmarshalJSON(stamp) // never fails: a bad stamp sets reason
		if ts.reason != "" {
			return true, &FrameError{Encoding: f.Encoding, Field: "timestamp", Reason: ts.reason}
		}
		f.Time, f.TimeSource = ts.t, ts.source
	}
	devices := 0
	plain = eachMember(payload, func(key, value []byte) bool {
		if string(value) != "null" && (asciiEqualFold(string(key), "headset") ||
			asciiEqualFold(string(key), "left_controller") || asciiEqualFold(string(key), "right_controller")) {
			devices++
		}
		return true
	})
	if !plain && len(payload) > 0 && payload[0] == '{' {
		return false, nil // an object with an odd key: let the decoder judge
	}
	if devices == 0 {
		return true, &FrameError{Encoding: f.Encoding, Field: "data", Reason: "missing: a vr_tracking frame without headset or controllers"}
	}
	f.Kind, f.Event = KindVRTracking, "vr_tracking"
	return true, nil
}

// eachMember calls fn with the key (without its quotes) and the raw value
// of each member of the JSON object b, in order, until fn returns false.
// It reports false when fn did, when b is not an object, or when a key has
// an escape or a byte outside ASCII (encoding/json folds such keys in ways
// a byte comparison does not). It does not validate values: it finds
// where they end, so it reads well-formed JSON right and any input without
// panicking.
func eachMember(b []byte, fn func(key, value []byte) bool) bool {
	i := skipJSONSpace(b)
	if i == len(b) || b[i] != '{' {
		return false
	}
	i++
	for first := true; ; first = false {
		i += skipJSONSpace(b[i:])
		if i == len(b) {
			return false
		}
		if b[i] == '}' && first {
			return true
		}
		if b[i] != '"' {
			return false
		}
		start := i + 1
		i = start
		for i < len(b) && b[i] != '"' {
			if b[i] == '\\' || b[i] >= 0x80 {
				return false
			}
			i++
		}
		if i == len(b) {
			return false
		}
		key := b[start:i]
		i++
		i += skipJSONSpace(b[i:])
		if i == len(b) || b[i] != ':' {
			return false
		}
		i++
		i += skipJSONSpace(b[i:])
		end := skipJSONValue(b, i)
		if end < 0 {
			return false
		}
		if !fn(key, b[i:end]) {
			return false
		}
		i = end + skipJSONSpace(b[end:])
		if i == len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return true
		default:
			return false
		}
	}
}

// skipJSONValue returns the index just past the JSON value that starts at
// b[i], or -1 when b ends first. Strings honour escapes; objects and arrays
// end at their matching bracket; anything else (numbers, literals) ends at
// the next delimiter.
func skipJSONValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(b) {
				return -1
			}
			i++
			if depth == 0 {
				return i
			}
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return i // the end of a scalar, or a stray bracket
			}
			depth--
			i++
			if depth == 0 {
				return i
			}
		case ',', ':', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
			i++
		default:
			i++
		}
	}
	if depth != 0 {
		return -1
	}
	return i
}
