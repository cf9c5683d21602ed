package spacetime

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
)

// BenchmarkDecodeJSONFPS decodes one JSON fps event (the 5-field form of the
// telemetry guide), reusing the frame as a stream does.
func BenchmarkDecodeJSONFPS(b *testing.B) {
	benchmarkDecode(b, Decoder{}, websocket.TextMessage, []byte(benchFPSJSON), nil)
}

// BenchmarkDecodeJSONFPSReflect decodes the same frame with encoding/json,
// as Decode did before the scanner (and still does what it cannot scan).
func BenchmarkDecodeJSONFPSReflect(b *testing.B) {
	benchmarkDecode(b, Decoder{reflectOnly: true}, websocket.TextMessage, []byte(benchFPSJSON), nil)
}

// benchFPSJSON is the 5-field fps event of the telemetry guide.
const benchFPSJSON = `{"type":"event","event":"fps","timestamp":1765900000,"data":{"fps":89.6,"frame_time_ms":11.2,"physics_time_ms":2.4,"memory_usage_mb":731.5,"cpu_load":0.38}}`

// benchTrackingJSON is the simulator's vr_tracking event, 10 of the 12
// frames it sends each second: three poses, two of them with buttons.
const benchTrackingJSON = `{"type":"event","event":"vr_tracking","timestamp":1765900000,"data":{"headset":{"position":[0.0123,1.6842,0.05],"rotation":[0,0.1189,0,0.9929]},"left_controller":{"position":[-0.2877,1.1,-0.4],"rotation":[0,0.0597,0,0.9982],"buttons":{"grip":0.7,"trigger":0}},"right_controller":{"position":[0.3123,1.1,-0.4],"rotation":[0,0.0597,0,0.9982],"buttons":{"grip":0,"trigger":0.84}}}}`

// BenchmarkDecodeJSONTracking decodes the simulator's vr_tracking event.
func BenchmarkDecodeJSONTracking(b *testing.B) {
	benchmarkDecode(b, Decoder{}, websocket.TextMessage, []byte(benchTrackingJSON), nil)
}

// BenchmarkDecodeJSONTrackingSkipPoses scans the same frame as the watcher
// does (Decoder.SkipPoses); it must report 0 allocs/op.
func BenchmarkDecodeJSONTrackingSkipPoses(b *testing.B) {
	benchmarkDecode(b, Decoder{SkipPoses: true}, websocket.TextMessage, []byte(benchTrackingJSON), nil)
}

// BenchmarkDecodeBinaryFPS decodes one binary 0x01 packet with an
// increasing frame number; it must report 0 allocs/op.
func BenchmarkDecodeBinaryFPS(b *testing.B) {
	data := telBinaryFPS(binary.BigEndian, 1, 89.6, 11.2, 2.4)
	n := uint32(1)
	benchmarkDecode(b, Decoder{}, websocket.BinaryMessage, data, func() {
		n++
		binary.BigEndian.PutUint32(data[1:5], n)
	})
}

// BenchmarkDecodeGzipFPS decodes one binary 0x02 frame holding the JSON fps
// event.
func BenchmarkDecodeGzipFPS(b *testing.B) {
	data := telGzip(b, []byte(benchFPSJSON), -1, -1)
	benchmarkDecode(b, Decoder{}, websocket.BinaryMessage, data, nil)
}

func benchmarkDecode(b *testing.B, d Decoder, msgType int, data []byte, next func()) {
	var f Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if next != nil {
			next()
		}
		if err := d.Decode(msgType, data, &f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamNextBinaryFPS is one binary 0x01 frame end to end over
// loopback: gorilla's read, the stream's deadlines and counters, and the
// decode. Compare with BenchmarkDecodeBinaryFPS. The server's writes run in
// the same process and are counted too (gorilla's server write path does
// not allocate).
func BenchmarkStreamNextBinaryFPS(b *testing.B) {
	packet := telBinaryFPS(binary.BigEndian, 1, 89.6, 11.2, 2.4)
	up := websocket.Upgrader{}
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		wg.Go(func() { readAll(c, nil) })
		for n := uint32(2); ; n++ {
			binary.BigEndian.PutUint32(packet[1:5], n)
			if c.WriteMessage(websocket.BinaryMessage, packet) != nil {
				break
			}
		}
		wg.Wait()
	}))
	defer srv.Close()
	s, err := Dial(context.Background(), StreamOptions{URLs: []string{"ws" + strings.TrimPrefix(srv.URL, "http") + "/"}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var f Frame
	for range 100 { // reach steady state: buffers grown
		if err := s.Next(ctx, &f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(packet)))
	b.ResetTimer()
	for b.Loop() {
		if err := s.Next(ctx, &f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWireStamp reads a timestamp in each numeric form the instance
// and the simulator send (docs/instance.md, "Events and timestamps").
func BenchmarkWireStamp(b *testing.B) {
	for _, stamp := range []string{"1765900000.123", "1765900000123", "1765900000"} {
		b.Run(stamp, func(b *testing.B) {
			raw := []byte(stamp)
			for b.Loop() {
				var ts wireStamp
				_ = ts.UnmarshalJSON(raw)
				if ts.reason != "" {
					b.Fatal(ts.reason)
				}
			}
		})
	}
}

// BenchmarkStreamArmDeadline is the read deadline's share of a frame on a
// real loopback connection: the clock reading a frame takes, then
// armDeadline, which sets the socket's deadline only when it must
// (DeadlineSlackDivisor).
func BenchmarkStreamArmDeadline(b *testing.B) {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		readAll(c, nil)
	}))
	defer srv.Close()
	s, err := Dial(context.Background(), StreamOptions{URLs: []string{"ws" + strings.TrimPrefix(srv.URL, "http") + "/"}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for b.Loop() {
		s.lastAny = clock.Now()
		s.lastData = s.lastAny
		s.armDeadline()
	}
}

// BenchmarkReadMessage copies the vr_tracking event out of a reader that
// ends as gorilla's message reader does (the data, then 0 and io.EOF):
// with readMessage into a reused slice, as Stream.Next does, and with a
// reused bytes.Buffer's ReadFrom, as it did before.
func BenchmarkReadMessage(b *testing.B) {
	data := []byte(benchTrackingJSON)
	var r bytes.Reader
	b.Run("readMessage", func(b *testing.B) {
		var msg []byte
		b.ReportAllocs()
		for b.Loop() {
			r.Reset(data)
			var err error
			if msg, err = readMessage(msg[:0], &r); err != nil || len(msg) != len(data) {
				b.Fatal(len(msg), err)
			}
		}
	})
	b.Run("bytes.Buffer", func(b *testing.B) {
		var buf bytes.Buffer
		b.ReportAllocs()
		for b.Loop() {
			r.Reset(data)
			buf.Reset()
			if _, err := buf.ReadFrom(&r); err != nil || buf.Len() != len(data) {
				b.Fatal(buf.Len(), err)
			}
		}
	})
}

// BenchmarkDecodeBinaryFPSColdFrames decodes the binary 0x01 packet into
// one of 8,192 frames in a shuffled turn, as a fleet's streams do (each
// frame 83 ms after its stream's last, in no order a prefetcher guesses),
// so that the frame is not in the CPU's nearer caches: what a frame's size
// costs, which BenchmarkDecodeBinaryFPS, one frame reused, does not show.
func BenchmarkDecodeBinaryFPSColdFrames(b *testing.B) {
	data := telBinaryFPS(binary.BigEndian, 1, 89.6, 11.2, 2.4)
	frames := make([]Frame, 8192)
	order := rand.New(rand.NewPCG(1, 2)).Perm(len(frames))
	d := Decoder{}
	n, i := uint32(1), 0
	for b.Loop() {
		n++
		binary.BigEndian.PutUint32(data[1:5], n)
		if err := d.Decode(websocket.BinaryMessage, data, &frames[order[i]]); err != nil {
			b.Fatal(err)
		}
		i = (i + 1) % len(frames)
	}
}

// BenchmarkDecodeJSONFPSColdStreams decodes the JSON fps event with one of
// 4,096 decoders into its own frame, in a shuffled turn, as a fleet's
// streams do: the decoder's envelope, which a JSON frame's decode resets,
// is then as cold as the frame (see BenchmarkDecodeBinaryFPSColdFrames).
func BenchmarkDecodeJSONFPSColdStreams(b *testing.B) {
	data := []byte(benchFPSJSON)
	decs := make([]Decoder, 4096)
	frames := make([]Frame, len(decs))
	order := rand.New(rand.NewPCG(1, 2)).Perm(len(decs))
	i := 0
	for b.Loop() {
		k := order[i]
		if err := decs[k].Decode(websocket.TextMessage, data, &frames[k]); err != nil {
			b.Fatal(err)
		}
		i = (i + 1) % len(decs)
	}
}
