package monitor

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// hostileFrame is one WebSocket message of the hostile flood.
type hostileFrame struct {
	kind int
	data []byte
}

// hostileFrames are the inputs of reliability scenario 10 that pass the
// read limit and must be counted and skipped: malformed JSON, wrong types,
// NaN and negative FPS, broken binary packets, a gzip bomb (a 60-KB packet
// that inflates to 64 MiB) and a 256-KB JSON frame under the 1-MiB
// read limit. Built once: the flood test measures the watcher, not them.
var hostileFrames = sync.OnceValue(func() []hostileFrame {
	var bomb bytes.Buffer
	bomb.Write(make([]byte, 9))
	zw := gzip.NewWriter(&bomb)
	zeros := make([]byte, 1<<20)
	for range 64 {
		_, _ = zw.Write(zeros)
	}
	_ = zw.Close()
	packet := bomb.Bytes()
	packet[0] = 0x02
	binary.BigEndian.PutUint32(packet[1:5], 64<<20)
	binary.BigEndian.PutUint32(packet[5:9], uint32(len(packet)-9))
	return []hostileFrame{
		{websocket.TextMessage, []byte(`{"type":"event","event":"fps","data":{"fps":89.`)},
		{websocket.TextMessage, []byte(`{"type":"event","event":"fps","data":{"fps":"fast"}}`)},
		{websocket.TextMessage, []byte(`{"type":"event","event":"fps","data":{"fps":-5}}`)},
		{websocket.TextMessage, []byte(`{"type":"event","event":"fps","data":{"fps":NaN}}`)},
		{websocket.BinaryMessage, []byte{0x7f, 0xde, 0xad, 0xbe, 0xef}},
		{websocket.BinaryMessage, []byte{0x01, 0x00, 0x00, 0x00, 0x01, 0x42, 0xb4}},
		{websocket.BinaryMessage, packet},
		{websocket.TextMessage, []byte(`{"type":"event","event":"fps","data":{"fps":90,"junk":"` + strings.Repeat("x", 256<<10) + `"}`)},
	}
})

// oversizedFrame is the 10-MB frame of the flood, refused by the read limit.
var oversizedFrame = sync.OnceValue(func() []byte { return bytes.Repeat([]byte("x"), 10<<20) })

// liveHeapBound is the most the live heap may grow under the hostile flood.
// The budget is an RSS under 64 MiB for the whole daemon; the
// watcher's share, with the default 1-MiB read limit and 1-MiB inflation
// cap, is a few frames' buffers.
const liveHeapBound = 8 << 20

// TestWatcherMemoryUnderHostileFlood is the memory half of reliability
// scenario 10: 10 connections, each 80 hostile frames (a gzip bomb and
// 256-KB frames among them) then a 10-MB frame, which the read limit
// refuses (close 1009) before the watcher redials: 800 bad frames and
// 100 MB in 10-MB frames offered in all. The live heap (after a GC,
// sampled through the flood) grows by less than liveHeapBound, and every
// bad frame is counted. With a 32-MiB read limit it grows by about 66 MiB.
func TestWatcherMemoryUnderHostileFlood(t *testing.T) {
	const conns, perConn = 10, 80
	frames, big := hostileFrames(), oversizedFrame()
	ws := testkit.StartWSServer(t, func(n int, c *websocket.Conn) {
		if n > conns {
			streamFrames(c)
			return
		}
		go func() { // read, so that the client's close is seen
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
		for i := range perConn {
			f := frames[i%len(frames)]
			if err := c.WriteMessage(f.kind, f.data); err != nil {
				return
			}
		}
		_ = c.WriteMessage(websocket.TextMessage, big) // fails once the client closes
	})
	env := newWatchEnv(t, []string{ws.URL}, func(o *WatcherOptions) {
		// The default read limit and timeouts: a slow run (-race) must not
		// find the garbage-only stream silent before it has read it all.
		o.Stream.PongWait, o.Stream.SilenceTimeout = 0, 0
		o.BackoffMax = o.BackoffInitial // redial at once: the flood, not the backoff, is under test
	})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	env.start(t)
	var peak uint64
	deadline := time.Now().Add(60 * time.Second)
	for env.w.Status().Reconnects < conns {
		if time.Now().After(deadline) {
			t.Fatalf("flood not over after 60s: %+v", env.w.Status())
		}
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		peak = max(peak, m.HeapAlloc)
		time.Sleep(20 * time.Millisecond)
	}
	eventually(t, "connected after the flood", func() bool { return env.connected(t) == 1 })
	invalid := env.must(t, "spacetime_telemetry_frames_invalid_total", "target", watchTarget)
	if invalid != conns*perConn {
		t.Errorf("%v invalid frames counted, want %d", invalid, conns*perConn)
	}
	growth := int64(peak) - int64(before.HeapAlloc)
	t.Logf("live heap %.1f MiB before, peak %.1f MiB during the flood (growth %.1f MiB, bound %d MiB)",
		mib(before.HeapAlloc), mib(peak), float64(growth)/(1<<20), liveHeapBound>>20)
	if growth > liveHeapBound {
		t.Errorf("live heap grew by %.1f MiB under the flood, want under %d MiB", float64(growth)/(1<<20), liveHeapBound>>20)
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// BenchmarkProcessHostileFrame is what one hostile frame costs the
// watcher once past the read limit (decode, count, skip), round robin
// over hostileFrames: B/op is bytes allocated per frame.
func BenchmarkProcessHostileFrame(b *testing.B) {
	w, dec, f := warmWatcher(b, websocket.TextMessage, []byte(benchFPSJSON), nil)
	frames := hostileFrames()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h := frames[i%len(frames)]
		w.processFrame(dec, f, h.kind, h.data)
		i++
	}
	b.ReportMetric(float64(i)/float64(len(frames)), "rounds")
}
