package monitor

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// The budget for one telemetry frame end to end (decode, rule
// evaluation, metric update) is 1.5× the bare decode of the same frame, and
// 0 allocs/op for binary frames in steady state. Each BenchmarkProcessFrame*
// has a BenchmarkDecodeFrame* twin that decodes the very same bytes, so the
// ratio can be read off one `make bench` run.

// benchFPSJSON is the frame of spacetime's BenchmarkDecodeJSONFPS: the
// 5-field fps event of the telemetry guide.
const benchFPSJSON = `{"type":"event","event":"fps","timestamp":1765900000,"data":{"fps":89.6,"frame_time_ms":11.2,"physics_time_ms":2.4,"memory_usage_mb":331.5,"cpu_load":0.38}}`

// processFrame is the watcher's work for one WebSocket message: what
// Stream.Next does on the connection's goroutine (decode), then what Run's
// goroutine does (handleFrame). Production splits the two across a channel;
// the benchmark measures them back to back.
func (w *Watcher) processFrame(dec *spacetime.Decoder, f *spacetime.Frame, msgType int, data []byte) {
	if err := dec.Decode(msgType, data, f); err != nil {
		w.metrics.TelemetryFramesInvalid.WithLabelValues(w.target).Inc() // not on this benchmark's path
		return
	}
	w.handleFrame(f)
}

// BenchmarkProcessFrameBinary processes a binary 0x01 FPS packet: decode,
// fps and frame-time gauges, frame counter, ring, rules. Must be 0 allocs/op.
func BenchmarkProcessFrameBinary(b *testing.B) {
	data, next := benchBinaryFrame()
	benchmarkProcessFrame(b, websocket.BinaryMessage, data, next)
}

// BenchmarkDecodeFrameBinary is the bare decode of BenchmarkProcessFrameBinary's frame.
func BenchmarkDecodeFrameBinary(b *testing.B) {
	data, next := benchBinaryFrame()
	benchmarkDecodeFrame(b, websocket.BinaryMessage, data, next)
}

// BenchmarkProcessFrameJSON processes the JSON fps event, which carries
// memory too: the memory rules and gauge move as well.
func BenchmarkProcessFrameJSON(b *testing.B) {
	benchmarkProcessFrame(b, websocket.TextMessage, []byte(benchFPSJSON), nil)
}

// BenchmarkDecodeFrameJSON is the bare decode of BenchmarkProcessFrameJSON's frame.
func BenchmarkDecodeFrameJSON(b *testing.B) {
	benchmarkDecodeFrame(b, websocket.TextMessage, []byte(benchFPSJSON), nil)
}

// benchTrackingJSON is the simulator's vr_tracking event, 10 of the 12
// frames it sends each second: three poses, two of them with buttons.
const benchTrackingJSON = `{"type":"event","event":"vr_tracking","timestamp":1765900000,"data":{"headset":{"position":[0.0123,1.6842,0.05],"rotation":[0,0.1189,0,0.9929]},"left_controller":{"position":[-0.2877,1.1,-0.4],"rotation":[0,0.0597,0,0.9982],"buttons":{"grip":0.7,"trigger":0}},"right_controller":{"position":[0.3123,1.1,-0.4],"rotation":[0,0.0597,0,0.9982],"buttons":{"grip":0,"trigger":0.84}}}}`

// BenchmarkProcessFrameTracking processes the simulator's vr_tracking
// event: data for the telemetry rules, no value to judge.
func BenchmarkProcessFrameTracking(b *testing.B) {
	benchmarkProcessFrame(b, websocket.TextMessage, []byte(benchTrackingJSON), nil)
}

// BenchmarkDecodeFrameTracking is the bare decode of BenchmarkProcessFrameTracking's frame.
func BenchmarkDecodeFrameTracking(b *testing.B) {
	benchmarkDecodeFrame(b, websocket.TextMessage, []byte(benchTrackingJSON), nil)
}

// BenchmarkProcessFrameGzip processes the JSON fps event as a 0x02 frame.
func BenchmarkProcessFrameGzip(b *testing.B) {
	benchmarkProcessFrame(b, websocket.BinaryMessage, benchGzipFrame(b, benchFPSJSON), nil)
}

// BenchmarkDecodeFrameGzip is the bare decode of BenchmarkProcessFrameGzip's frame.
func BenchmarkDecodeFrameGzip(b *testing.B) {
	benchmarkDecodeFrame(b, websocket.BinaryMessage, benchGzipFrame(b, benchFPSJSON), nil)
}

// benchBinaryFrame returns a 0x01 packet and a function that advances its
// frame number, as a live stream does (the decoder checks it increases).
func benchBinaryFrame() ([]byte, func()) {
	data := make([]byte, 17)
	data[0] = 0x01
	binary.BigEndian.PutUint32(data[1:5], 1)
	binary.BigEndian.PutUint32(data[5:9], math.Float32bits(89.6))
	binary.BigEndian.PutUint32(data[9:13], math.Float32bits(11.2))
	binary.BigEndian.PutUint32(data[13:17], math.Float32bits(2.4))
	n := uint32(1)
	return data, func() {
		n++
		binary.BigEndian.PutUint32(data[1:5], n)
	}
}

func benchGzipFrame(b *testing.B, payload string) []byte {
	var buf bytes.Buffer
	buf.Write(make([]byte, 9))
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(payload)); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	data[0] = 0x02
	binary.BigEndian.PutUint32(data[1:5], uint32(len(payload)))
	binary.BigEndian.PutUint32(data[5:9], uint32(len(data)-9))
	return data
}

// benchClock advances by the stream's 500 ms per reading, without
// allocating, so that the rules see a steady 2 frames per second.
type benchClock struct{ t time.Time }

func (c *benchClock) now() time.Time {
	c.t = c.t.Add(500 * time.Millisecond)
	return c.t
}

// warmWatcher returns a watcher that has processed enough frames for the
// steady state: the ring full, every rule window full, no transition.
func warmWatcher(tb testing.TB, msgType int, data []byte, next func()) (*Watcher, *spacetime.Decoder, *spacetime.Frame) {
	tb.Helper()
	clock := &benchClock{t: time.Now()}
	opts := testWatcherOptions("vr-1", "ws://127.0.0.1:8081/")
	opts.Now = clock.now
	w, err := NewWatcher(opts)
	if err != nil {
		tb.Fatal(err)
	}
	w.begin(clock.now())
	dec := &spacetime.Decoder{Now: clock.now, SkipPoses: w.streamOpts.SkipPoses} // as Stream makes it
	f := &spacetime.Frame{}
	for range max(config.WatcherRingSize, 2*20*60) + 1 {
		if next != nil {
			next()
		}
		w.processFrame(dec, f, msgType, data)
	}
	// A vr_tracking frame carries no value for the ring; otherwise the ring
	// spans its config.WatcherSampleSpan.
	if !w.run.live || (f.Kind != spacetime.KindVRTracking && (w.run.ring.n == 0 || w.run.ring.buf[w.run.ring.head].at > clock.t.Add(-config.WatcherSampleSpan).UnixNano())) {
		tb.Fatal("warm-up did not reach the steady state")
	}
	for _, s := range w.run.engine.States() {
		switch {
		case s.State == RuleInactive:
		case s.State == RuleUnknown && (s.Rule == RuleMemoryHigh || s.Rule == RuleMemoryGrowth):
			// binary frames carry no memory, and nothing polls /performance here
		case s.State == RuleFiring && s.Rule == RuleMemoryUnwatched:
		default:
			tb.Fatalf("warm-up left rule %s %s", s.Rule, s.State)
		}
	}
	return w, dec, f
}

func benchmarkProcessFrame(b *testing.B, msgType int, data []byte, next func()) {
	w, dec, f := warmWatcher(b, msgType, data, next)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if next != nil {
			next()
		}
		w.processFrame(dec, f, msgType, data)
	}
}

// BenchmarkProcessFrameTrackingColdWatchers processes the vr_tracking
// event with one of 512 warm watchers in a shuffled turn, as a fleet's
// readers do (each target's frame 83 ms after its last), so that the
// watcher's state is not in the CPU's nearer caches: what the number of
// cache lines a frame touches costs, which BenchmarkProcessFrameTracking,
// one watcher, does not show.
func BenchmarkProcessFrameTrackingColdWatchers(b *testing.B) {
	data := []byte(benchTrackingJSON)
	type reader struct {
		w   *Watcher
		dec *spacetime.Decoder
		f   *spacetime.Frame
	}
	readers := make([]reader, 512)
	for i := range readers {
		w, dec, f := warmWatcher(b, websocket.TextMessage, data, nil)
		readers[i] = reader{w, dec, f}
	}
	order := rand.New(rand.NewPCG(1, 2)).Perm(len(readers))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := &readers[order[i]]
		r.w.processFrame(r.dec, r.f, websocket.TextMessage, data)
		i = (i + 1) % len(readers)
	}
}

// TestProcessFrameAllocatesNothing asserts what BenchmarkProcessFrameBinary,
// BenchmarkProcessFrameTracking and BenchmarkProcessFrameJSON report: the
// simulator's frames, end to end (decode, rules, metrics, ring), allocate
// nothing in steady state.
func TestProcessFrameAllocatesNothing(t *testing.T) {
	if testkit.RaceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	binaryData, binaryNext := benchBinaryFrame()
	for _, tc := range []struct {
		name    string
		msgType int
		data    []byte
		next    func()
	}{
		{"binary", websocket.BinaryMessage, binaryData, binaryNext},
		{"vr_tracking", websocket.TextMessage, []byte(benchTrackingJSON), func() {}},
		{"JSON fps", websocket.TextMessage, []byte(benchFPSJSON), func() {}},
	} {
		w, dec, f := warmWatcher(t, tc.msgType, tc.data, tc.next)
		allocs := testing.AllocsPerRun(1000, func() {
			tc.next()
			w.processFrame(dec, f, tc.msgType, tc.data)
		})
		if allocs != 0 {
			t.Errorf("processing a %s frame allocates %v times, want 0", tc.name, allocs)
		}
	}
}

// TestTickAllocatesNothing: the tick every watcher runs each second
// (rules, metrics, the published status) allocates nothing in steady state,
// frames flowing between ticks, so that a fleet's ticks make no garbage.
func TestTickAllocatesNothing(t *testing.T) {
	if testkit.RaceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	data := []byte(benchFPSJSON)
	w, dec, f := warmWatcher(t, websocket.TextMessage, data, nil)
	allocs := testing.AllocsPerRun(1000, func() {
		w.processFrame(dec, f, websocket.TextMessage, data)
		w.tick(w.now())
	})
	if allocs != 0 {
		t.Errorf("a frame and a tick allocate %v times, want 0", allocs)
	}
	if st := w.Status(); len(st.Rules) == 0 || st.LastFrame.IsZero() {
		t.Errorf("the tick published no rules or no last frame: %+v", st)
	}
}

// BenchmarkTick is one watcher's per-second tick in steady state, a frame
// handled before each.
func BenchmarkTick(b *testing.B) {
	data := []byte(benchFPSJSON)
	w, dec, f := warmWatcher(b, websocket.TextMessage, data, nil)
	b.ReportAllocs()
	for b.Loop() {
		w.processFrame(dec, f, websocket.TextMessage, data)
		w.tick(w.now())
	}
}

func benchmarkDecodeFrame(b *testing.B, msgType int, data []byte, next func()) {
	clock := &benchClock{t: time.Now()}
	dec := spacetime.Decoder{Now: clock.now, SkipPoses: true} // as the watcher's stream decodes
	var f spacetime.Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if next != nil {
			next()
		}
		if err := dec.Decode(msgType, data, &f); err != nil {
			b.Fatal(err)
		}
	}
}
