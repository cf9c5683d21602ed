package spacetime

import (
	"fmt"
	"testing"
)

func sprintFrame(f Frame) string { return fmt.Sprintf("%v %+v %#v", f, f, f) }

func TestKindNames(t *testing.T) {
	seen := map[string]Kind{}
	for k := Kind(0); k < KindCount; k++ {
		name := k.String()
		if name == "" || name == "invalid" {
			t.Errorf("Kind(%d).String() = %q", k, name)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("kinds %d and %d share the name %q", prev, k, name)
		}
		seen[name] = k
	}
	if got := KindCount.String(); got != "invalid" {
		t.Errorf("KindCount.String() = %q, want invalid", got)
	}
}

func TestKindIsData(t *testing.T) {
	for k := Kind(0); k < KindCount; k++ {
		want := k != KindPong && k != KindPing
		if got := k.IsData(); got != want {
			t.Errorf("%s.IsData() = %v, want %v", k, got, want)
		}
	}
	if KindCount.IsData() {
		t.Error("an out-of-range kind counts as data")
	}
}

func TestEnumStrings(t *testing.T) {
	tests := []struct {
		name string
		got  fmt.Stringer
		want string
	}{
		{"json", EncodingJSON, "json"},
		{"binary", EncodingBinaryFPS, "binary"},
		{"gzip", EncodingGzipJSON, "gzip"},
		{"heartbeat", EncodingBinaryHeartbeat, "binary_heartbeat"},
		{"bad encoding", Encoding(99), "invalid"},
		{"received", TimeReceived, "received"},
		{"seconds", TimeUnixSeconds, "unix_seconds"},
		{"millis", TimeUnixMillis, "unix_millis"},
		{"rfc3339", TimeRFC3339, "rfc3339"},
		{"bad source", TimeSource(99), "invalid"},
	}
	for _, tt := range tests {
		if s := tt.got.String(); s != tt.want {
			t.Errorf("%s: String() = %q, want %q", tt.name, s, tt.want)
		}
	}
}

func TestFrameHasAndReset(t *testing.T) {
	f := Frame{Kind: KindFPS, Fields: FieldFPS | FieldMemory, FPS: 90, MemoryMB: 300}
	if !f.Has(FieldFPS) || !f.Has(FieldFPS|FieldMemory) {
		t.Error("Has misses present fields")
	}
	if f.Has(FieldCPULoad) || f.Has(FieldFPS|FieldCPULoad) {
		t.Error("Has reports an absent field")
	}
	f.Reset()
	if f != (Frame{}) {
		t.Errorf("Reset left %+v", f)
	}
}
