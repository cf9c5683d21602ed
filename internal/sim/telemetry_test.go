package sim

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
	"go.uber.org/zap/zaptest"
)

// telemetryWait bounds every wait for something the server should send.
const telemetryWait = 5 * time.Second

// telemetryEnv is a telemetry server on a loopback port, fed by a bare Sim.
type telemetryEnv struct {
	s   *Sim
	ts  *telemetryServer
	url string
}

// newTelemetryEnv serves a telemetry handler for a Sim built from fast
// intervals, the default faults, and the given adjustments.
func newTelemetryEnv(t *testing.T, adjust func(*Options, *Faults)) *telemetryEnv {
	t.Helper()
	opts := Options{
		// The checklist profile's token is static: currentToken needs no
		// instance state (the godot profile's JWT is covered through Start).
		Profile:          ProfileChecklist,
		Token:            "sim-telemetry-test-token-0123456789",
		FPSInterval:      20 * time.Millisecond,
		TrackingInterval: 10 * time.Millisecond,
		PingInterval:     time.Hour,
		Now:              time.Now,
	}
	f := DefaultFaults("production")
	if adjust != nil {
		adjust(&opts, &f)
	}
	s := &Sim{opts: opts, faults: NewFaultState(f, nil), log: zaptest.NewLogger(t)}
	ts := newTelemetryServer(s)
	s.telemetry = ts
	srv := httptest.NewServer(ts)
	t.Cleanup(func() {
		ts.closeAll()
		srv.Close()
	})
	return &telemetryEnv{s: s, ts: ts, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/"}
}

func (e *telemetryEnv) patch(t *testing.T, body string) {
	t.Helper()
	if err := e.s.faults.Patch([]byte(body)); err != nil {
		t.Fatalf("patch faults %s: %v", body, err)
	}
}

type telemetryFrame struct {
	kind int
	data []byte
	at   time.Time
}

// telemetryClient reads every frame in the background, so a test can
// assert that nothing arrives without breaking the connection with a read
// deadline.
type telemetryClient struct {
	ws     *websocket.Conn
	frames chan telemetryFrame
	pings  chan string // WebSocket pings from the server
	pongs  chan string // WebSocket pongs from the server
	stop   chan struct{}
	done   chan struct{}
	err    error // why the read loop ended; set before done is closed
}

func dialTelemetry(t *testing.T, url string) *telemetryClient {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	_ = resp.Body.Close()
	c := &telemetryClient{
		ws:     ws,
		frames: make(chan telemetryFrame, 4096),
		pings:  make(chan string, 64),
		pongs:  make(chan string, 64),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	ws.SetPingHandler(func(data string) error {
		select {
		case c.pings <- data:
		default:
		}
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	ws.SetPongHandler(func(data string) error {
		select {
		case c.pongs <- data:
		default:
		}
		return nil
	})
	go c.readLoop()
	t.Cleanup(func() {
		_ = ws.Close()
		close(c.stop)
		<-c.done
	})
	return c
}

func (c *telemetryClient) readLoop() {
	defer close(c.done)
	for {
		kind, data, err := c.ws.ReadMessage()
		if err != nil {
			c.err = err
			return
		}
		select {
		case c.frames <- telemetryFrame{kind: kind, data: data, at: time.Now()}:
		case <-c.stop:
			return
		}
	}
}

func (c *telemetryClient) next(t *testing.T) telemetryFrame {
	t.Helper()
	select {
	case f := <-c.frames:
		return f
	case <-c.done:
		// Frames read before the end are still buffered.
		select {
		case f := <-c.frames:
			return f
		default:
		}
		t.Fatalf("connection ended while waiting for a frame: %v", c.err)
	case <-time.After(telemetryWait):
		t.Fatalf("no frame within %v", telemetryWait)
	}
	return telemetryFrame{}
}

func (c *telemetryClient) sendText(t *testing.T, msg string) {
	t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("send %s: %v", msg, err)
	}
}

// closeError waits for the server to end the connection and returns why.
func (c *telemetryClient) closeError(t *testing.T) error {
	t.Helper()
	select {
	case <-c.done:
		return c.err
	case <-time.After(telemetryWait):
		t.Fatalf("connection still open after %v", telemetryWait)
		return nil
	}
}

// drain discards what has arrived so far.
func (c *telemetryClient) drain() {
	for {
		select {
		case <-c.frames:
		case <-c.pings:
		case <-c.pongs:
		default:
			return
		}
	}
}

// telemetryEnvelope is a decoded JSON frame; fields stay raw so tests can check
// their exact encoding.
type telemetryEnvelope struct {
	Type      string          `json:"type"`
	Event     string          `json:"event"`
	Timestamp json.RawMessage `json:"timestamp"`
	Message   string          `json:"message"`
	Data      json.RawMessage `json:"data"`
}

// decodeTelemetryFrame decodes a JSON text frame or a 0x02 gzip frame.
func decodeTelemetryFrame(f telemetryFrame) (telemetryEnvelope, error) {
	payload := f.data
	if f.kind == websocket.BinaryMessage {
		var err error
		if payload, err = gunzipTelemetryFrame(f.data); err != nil {
			return telemetryEnvelope{}, err
		}
	}
	var e telemetryEnvelope
	if err := json.Unmarshal(payload, &e); err != nil {
		return telemetryEnvelope{}, err
	}
	if e.Type == "" {
		return telemetryEnvelope{}, errors.New("no type")
	}
	return e, nil
}

// gunzipTelemetryFrame checks a 0x02 frame's header against its payload and returns
// the JSON inside.
func gunzipTelemetryFrame(b []byte) ([]byte, error) {
	if len(b) < 9 || b[0] != 0x02 {
		return nil, errors.New("not a 0x02 frame")
	}
	want, compressed := binary.BigEndian.Uint32(b[1:5]), binary.BigEndian.Uint32(b[5:9])
	if int(compressed) != len(b)-9 {
		return nil, errors.New("compressed length does not match the frame")
	}
	zr, err := gzip.NewReader(bytes.NewReader(b[9:]))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	if int(want) != len(out) {
		return nil, errors.New("uncompressed length does not match the payload")
	}
	return out, nil
}

// nextEvent skips frames until the event (or message type) named arrives.
func (c *telemetryClient) nextEvent(t *testing.T, name string) (telemetryEnvelope, telemetryFrame) {
	t.Helper()
	deadline := time.Now().Add(telemetryWait)
	for time.Now().Before(deadline) {
		f := c.next(t)
		e, err := decodeTelemetryFrame(f)
		if err != nil {
			continue
		}
		if e.Event == name || (e.Type != "event" && e.Type == name) {
			return e, f
		}
	}
	t.Fatalf("no %q within %v", name, telemetryWait)
	return telemetryEnvelope{}, telemetryFrame{}
}

func telemetryData[T any](t *testing.T, e telemetryEnvelope) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		t.Fatalf("%s %s: data %s: %v", e.Type, e.Event, e.Data, err)
	}
	return v
}

type telemetryFPSData struct {
	FPS           *float64 `json:"fps"`
	FrameTimeMS   *float64 `json:"frame_time_ms"`
	PhysicsTimeMS *float64 `json:"physics_time_ms"`
	MemoryUsageMB *float64 `json:"memory_usage_mb"`
	CPULoad       *float64 `json:"cpu_load"`
}

// checkTelemetryFPS checks the five fields of an fps event and returns the fps.
func checkTelemetryFPS(t *testing.T, e telemetryEnvelope, lo, hi, memory float64) float64 {
	t.Helper()
	d := telemetryData[telemetryFPSData](t, e)
	if d.FPS == nil || d.FrameTimeMS == nil || d.PhysicsTimeMS == nil || d.MemoryUsageMB == nil || d.CPULoad == nil {
		t.Fatalf("fps event lacks a field: %s", e.Data)
	}
	if *d.FPS < lo || *d.FPS > hi {
		t.Errorf("fps = %v, want within [%v, %v]", *d.FPS, lo, hi)
	}
	if got, want := *d.FrameTimeMS, 1000 / *d.FPS; math.Abs(got-want) > 0.01 {
		t.Errorf("frame_time_ms = %v, want 1000/fps = %v", got, want)
	}
	if *d.PhysicsTimeMS <= 0 || *d.PhysicsTimeMS >= *d.FrameTimeMS {
		t.Errorf("physics_time_ms = %v, want in (0, frame time %v)", *d.PhysicsTimeMS, *d.FrameTimeMS)
	}
	if *d.MemoryUsageMB != memory {
		t.Errorf("memory_usage_mb = %v, want %v", *d.MemoryUsageMB, memory)
	}
	if *d.CPULoad < 0 || *d.CPULoad > 1 {
		t.Errorf("cpu_load = %v, want a 0–1 fraction", *d.CPULoad)
	}
	var ts float64
	if err := json.Unmarshal(e.Timestamp, &ts); err != nil || ts < 1e9 || ts > 1e11 {
		t.Errorf("timestamp = %s, want Unix seconds", e.Timestamp)
	}
	return *d.FPS
}

func TestTelemetryFPSAndTrackingFrames(t *testing.T) {
	env := newTelemetryEnv(t, nil)
	c := dialTelemetry(t, env.url)

	first, err := decodeTelemetryFrame(c.next(t))
	if err != nil || first.Event != "vr_initialized" {
		t.Fatalf("first frame = %+v (%v), want the vr_initialized event", first, err)
	}

	const want = 10
	var fpsAt []time.Time
	tracking := 0
	for len(fpsAt) < want {
		f := c.next(t)
		e, err := decodeTelemetryFrame(f)
		if err != nil {
			t.Fatalf("invalid frame %q: %v", f.data, err)
		}
		switch e.Event {
		case "fps":
			checkTelemetryFPS(t, e, 89, 91, 300)
			fpsAt = append(fpsAt, f.at)
		case "vr_tracking":
			tracking++
		default:
			t.Fatalf("unexpected frame %s", f.data)
		}
	}
	// Ten frames at 20 ms take 180 ms; allow for a slow machine, never for
	// a faster rate than configured.
	if span := fpsAt[want-1].Sub(fpsAt[0]); span < 150*time.Millisecond || span > 3*time.Second {
		t.Errorf("%d fps frames spanned %v, want about %v", want, span, (want-1)*20*time.Millisecond)
	}
	// Tracking runs at twice the FPS rate.
	if tracking < want-1 {
		t.Errorf("got %d vr_tracking frames alongside %d fps frames, want about twice as many", tracking, want)
	}
}

func TestTelemetryFPSFollowsFault(t *testing.T) {
	const interval = 300 * time.Millisecond
	env := newTelemetryEnv(t, func(o *Options, _ *Faults) { o.FPSInterval = interval })
	c := dialTelemetry(t, env.url)
	e, _ := c.nextEvent(t, "fps")
	checkTelemetryFPS(t, e, 89, 91, 300)

	set := time.Now()
	env.patch(t, `{"fps":60}`)
	for {
		e, f := c.nextEvent(t, "fps")
		if fps := checkTelemetryFPS(t, e, 0, 100, 300); fps > 80 {
			continue // sent before the patch
		}
		checkTelemetryFPS(t, e, 59, 61, 300)
		if late := f.at.Sub(set); late > interval {
			t.Errorf("fps 60 reported %v after the change, want within one interval (%v)", late, interval)
		}
		break
	}
	// The periodic frames that follow keep the new value.
	e, _ = c.nextEvent(t, "fps")
	checkTelemetryFPS(t, e, 59, 61, 300)
}

func TestTelemetryMemoryGrowth(t *testing.T) {
	env := newTelemetryEnv(t, func(_ *Options, f *Faults) { f.FPSJitter = 0 })
	clock := testkit.NewClock(t)
	env.s.faults = NewFaultState(env.s.faults.Get(), clock.Now)
	c := dialTelemetry(t, env.url)

	e, _ := c.nextEvent(t, "fps")
	checkTelemetryFPS(t, e, 90, 90, 300)

	env.patch(t, `{"memory_growth_mb_per_min":10}`)
	clock.Advance(3 * time.Minute)
	c.drain()
	for {
		e, _ := c.nextEvent(t, "fps")
		if d := telemetryData[telemetryFPSData](t, e); *d.MemoryUsageMB == 300 {
			continue // sampled before the clock moved
		}
		checkTelemetryFPS(t, e, 90, 90, 330)
		break
	}
}

func TestTelemetryTrackingShape(t *testing.T) {
	env := newTelemetryEnv(t, nil)
	c := dialTelemetry(t, env.url)
	e, _ := c.nextEvent(t, "vr_tracking")
	type pose struct {
		Position []float64          `json:"position"`
		Rotation []float64          `json:"rotation"`
		Buttons  map[string]float64 `json:"buttons"`
	}
	poses := telemetryData[map[string]pose](t, e)
	for _, device := range []string{"headset", "left_controller", "right_controller"} {
		p, ok := poses[device]
		if !ok {
			t.Errorf("vr_tracking lacks %q: %s", device, e.Data)
			continue
		}
		if len(p.Position) != 3 {
			t.Errorf("%s position = %v, want [x,y,z]", device, p.Position)
		}
		if len(p.Rotation) != 4 {
			t.Errorf("%s rotation = %v, want a quaternion [x,y,z,w]", device, p.Rotation)
		} else {
			var norm float64
			for _, v := range p.Rotation {
				norm += v * v
			}
			if math.Abs(norm-1) > 0.01 {
				t.Errorf("%s rotation %v is not a unit quaternion", device, p.Rotation)
			}
		}
		if device == "headset" {
			continue
		}
		for _, b := range []string{"trigger", "grip"} {
			if v, ok := p.Buttons[b]; !ok || v < 0 || v > 1 {
				t.Errorf("%s button %s = %v (present %v), want 0–1", device, b, v, ok)
			}
		}
	}
}

func TestTelemetryVREvent(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mode      string
		event     string
		data      map[string]any
		trackings bool
	}{
		{name: "vr", mode: VRModeVR, event: "vr_initialized", data: map[string]any{"mode": "vr"}, trackings: true},
		{
			name: "desktop fallback", mode: VRModeDesktopFallback, event: "warning",
			data: map[string]any{"mode": "desktop_fallback", "message": "VR initialization failed, using desktop fallback"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTelemetryEnv(t, func(_ *Options, f *Faults) { f.VRMode = tc.mode })
			c := dialTelemetry(t, env.url)
			e, err := decodeTelemetryFrame(c.next(t))
			if err != nil || e.Event != tc.event {
				t.Fatalf("first frame = %+v (%v), want the %s event", e, err, tc.event)
			}
			data := telemetryData[map[string]any](t, e)
			for k, v := range tc.data {
				if data[k] != v {
					t.Errorf("data[%q] = %v, want %v", k, data[k], v)
				}
			}
			// Without a headset there is nothing to track.
			tracking := 0
			for fps := 0; fps < 5; {
				e, err := decodeTelemetryFrame(c.next(t))
				if err != nil {
					t.Fatal(err)
				}
				switch e.Event {
				case "fps":
					fps++
				case "vr_tracking":
					tracking++
				}
			}
			if got := tracking > 0; got != tc.trackings {
				t.Errorf("got %d vr_tracking frames over 5 fps frames, want tracking %v", tracking, tc.trackings)
			}
		})
	}
}

func TestTelemetryAnnounceVR(t *testing.T) {
	env := newTelemetryEnv(t, nil)
	clients := []*telemetryClient{dialTelemetry(t, env.url), dialTelemetry(t, env.url)}
	for _, c := range clients {
		c.nextEvent(t, "vr_initialized")
	}

	env.ts.announceVR()
	for i, c := range clients {
		e, _ := c.nextEvent(t, "vr_initialized")
		if d := telemetryData[map[string]any](t, e); d["mode"] != "vr" {
			t.Errorf("client %d: vr_initialized data = %s", i, e.Data)
		}
	}

	env.patch(t, `{"vr_mode":"desktop_fallback"}`)
	env.ts.announceVR()
	for i, c := range clients {
		e, _ := c.nextEvent(t, "warning")
		if d := telemetryData[map[string]any](t, e); d["mode"] != "desktop_fallback" {
			t.Errorf("client %d: warning data = %s, want the desktop fallback", i, e.Data)
		}
	}
}

func TestTelemetryForwardsEvents(t *testing.T) {
	env := newTelemetryEnv(t, func(_ *Options, f *Faults) { f.TelemetryTimestamp = TimestampMillis })
	c := dialTelemetry(t, env.url)
	c.nextEvent(t, "vr_initialized") // subscribed from here on

	for _, ev := range []Event{
		{Name: "error", Data: map[string]any{"message": "Scene load failed", "details": "File not found"}},
		{Name: "warning", Data: map[string]any{"message": "Low memory"}},
		{Type: "alert", Name: "fps_low"},
	} {
		env.s.events.publish(ev)
		e, _ := c.nextEvent(t, ev.Name)
		wantType := ev.Type
		if wantType == "" {
			wantType = "event"
		}
		if e.Type != wantType {
			t.Errorf("%s: type = %q, want %q", ev.Name, e.Type, wantType)
		}
		var ts int64
		if err := json.Unmarshal(e.Timestamp, &ts); err != nil || ts < 1e12 {
			t.Errorf("%s: timestamp = %s, want Unix milliseconds", ev.Name, e.Timestamp)
		}
		data := telemetryData[map[string]any](t, e)
		if len(data) != len(ev.Data) {
			t.Errorf("%s: data = %s, want %v", ev.Name, e.Data, ev.Data)
		}
		for k, v := range ev.Data {
			if data[k] != v {
				t.Errorf("%s: data[%q] = %v, want %v", ev.Name, k, data[k], v)
			}
		}
	}
}

func TestTelemetryCommands(t *testing.T) {
	env := newTelemetryEnv(t, nil)
	c := dialTelemetry(t, env.url)
	c.nextEvent(t, "vr_initialized")

	snapshot := func(t *testing.T, e telemetryEnvelope) {
		var d struct {
			FPS         float64 `json:"fps"`
			MemoryMB    float64 `json:"memory_mb"`
			PlayerCount *int    `json:"player_count"`
			Scene       string  `json:"scene"`
			VRActive    *bool   `json:"vr_active"`
		}
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("snapshot data %s: %v", e.Data, err)
		}
		if d.FPS < 89 || d.FPS > 91 || d.MemoryMB != 300 || d.PlayerCount == nil || *d.PlayerCount != 1 ||
			d.Scene != DefaultScene || d.VRActive == nil || !*d.VRActive {
			t.Errorf("snapshot data = %s", e.Data)
		}
		if len(e.Timestamp) == 0 {
			t.Error("snapshot has no timestamp")
		}
	}
	pong := func(t *testing.T, e telemetryEnvelope) {
		if len(e.Timestamp) == 0 {
			t.Error("pong has no timestamp")
		}
	}
	errorIs := func(msg string) func(*testing.T, telemetryEnvelope) {
		return func(t *testing.T, e telemetryEnvelope) {
			if e.Message != msg {
				t.Errorf("error message = %q, want %q", e.Message, msg)
			}
		}
	}

	for _, tc := range []struct {
		name  string
		send  string
		reply string
		check func(*testing.T, telemetryEnvelope)
	}{
		{"ping command", `{"command":"ping"}`, "pong", pong},
		{"ping type", `{"type":"ping"}`, "pong", pong},
		{"snapshot command", `{"command":"get_snapshot"}`, "snapshot", snapshot},
		{"snapshot type", `{"type":"get_snapshot"}`, "snapshot", snapshot},
		{"unknown", `{"command":"warp_drive"}`, "error", errorIs("unknown command: warp_drive")},
		{"missing command", `{"token":"x"}`, "error", errorIs(`missing "command"`)},
		{"not JSON", `ping`, "error", errorIs(`invalid command: want a JSON object such as {"command":"ping"}`)},
		{"authenticate without auth", `{"command":"authenticate","token":"x"}`, "error", errorIs("authentication not required")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.sendText(t, tc.send)
			e, _ := c.nextEvent(t, tc.reply)
			tc.check(t, e)
		})
	}
}

func TestTelemetryWebSocketPings(t *testing.T) {
	env := newTelemetryEnv(t, func(o *Options, _ *Faults) { o.PingInterval = 20 * time.Millisecond })
	c := dialTelemetry(t, env.url)

	select {
	case <-c.pings:
	case <-time.After(telemetryWait):
		t.Fatal("the server sent no WebSocket ping")
	}
	if err := c.ws.WriteControl(websocket.PingMessage, []byte("are-you-there"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-c.pongs:
		if got != "are-you-there" {
			t.Errorf("pong data = %q, want the ping's", got)
		}
	case <-time.After(telemetryWait):
		t.Fatal("the server did not answer a WebSocket ping")
	}
}

func TestTelemetryBinaryFPSPacket(t *testing.T) {
	env := newTelemetryEnv(t, func(_ *Options, f *Faults) {
		f.TelemetryEncoding = EncodingBinary
		f.FPS, f.FPSJitter = 80, 0
	})
	c := dialTelemetry(t, env.url)
	if e, err := decodeTelemetryFrame(c.next(t)); err != nil || e.Event != "vr_initialized" {
		t.Fatalf("first frame = %+v (%v), want vr_initialized as JSON text", e, err)
	}

	// type 0x01, frame 1, fps 80.0 (0x42a00000), frame time 12.5 ms (0x41480000).
	wantPrefix := []byte{0x01, 0, 0, 0, 1, 0x42, 0xa0, 0, 0, 0x41, 0x48, 0, 0}
	var frame uint32
	for packets, text := 0, 0; packets < 3; {
		f := c.next(t)
		if f.kind == websocket.TextMessage {
			if e, err := decodeTelemetryFrame(f); err != nil || e.Event != "vr_tracking" {
				t.Fatalf("text frame %s (%v), want only vr_tracking as text", f.data, err)
			}
			text++
			continue
		}
		packets++
		if len(f.data) != 17 || f.data[0] != 0x01 {
			t.Fatalf("binary frame % x, want a 17-byte 0x01 packet", f.data)
		}
		n := binary.BigEndian.Uint32(f.data[1:5])
		if packets == 1 && !bytes.Equal(f.data[:13], wantPrefix) {
			t.Errorf("first packet % x, want prefix % x", f.data, wantPrefix)
		}
		if packets > 1 && n != frame+1 {
			t.Errorf("frame number %d after %d, want consecutive", n, frame)
		}
		frame = n
		physics := math.Float32frombits(binary.BigEndian.Uint32(f.data[13:17]))
		if physics <= 0 || physics > 12.5 {
			t.Errorf("physics time %v ms, want in (0, 12.5]", physics)
		}
	}
}

func TestTelemetryGzipFrames(t *testing.T) {
	env := newTelemetryEnv(t, func(_ *Options, f *Faults) { f.TelemetryEncoding = EncodingGzip })
	c := dialTelemetry(t, env.url)
	seen := map[string]bool{}
	for i := 0; i < 10; i++ {
		f := c.next(t)
		if f.kind != websocket.BinaryMessage || len(f.data) == 0 || f.data[0] != 0x02 {
			t.Fatalf("frame %d: kind %d, % x…, want a binary 0x02 frame", i, f.kind, f.data[:min(len(f.data), 9)])
		}
		e, err := decodeTelemetryFrame(f)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if i == 0 && e.Event != "vr_initialized" {
			t.Errorf("first event %q, want vr_initialized", e.Event)
		}
		if e.Type != "event" || len(e.Timestamp) == 0 || len(e.Data) == 0 {
			t.Errorf("frame %d: envelope %+v lacks a field", i, e)
		}
		seen[e.Event] = true
	}
	if !seen["fps"] || !seen["vr_tracking"] {
		t.Errorf("events seen %v, want fps and vr_tracking", seen)
	}
}

func TestTelemetryTimestamps(t *testing.T) {
	at := time.Date(2025, 12, 16, 9, 41, 5, 123_000_000, time.UTC)
	for _, tc := range []struct {
		unit string
		want string // the raw JSON
	}{
		{TimestampSeconds, `1765878065.123`},
		{TimestampMillis, `1765878065123`},
		{TimestampRFC3339, `"2025-12-16T09:41:05.123Z"`},
	} {
		t.Run(tc.unit, func(t *testing.T) {
			env := newTelemetryEnv(t, func(o *Options, f *Faults) {
				o.Now = func() time.Time { return at }
				f.TelemetryTimestamp = tc.unit
			})
			c := dialTelemetry(t, env.url)
			for _, name := range []string{"vr_initialized", "fps"} {
				e, _ := c.nextEvent(t, name)
				if string(e.Timestamp) != tc.want {
					t.Errorf("%s timestamp = %s, want %s", name, e.Timestamp, tc.want)
				}
			}
			c.sendText(t, `{"command":"ping"}`)
			if e, _ := c.nextEvent(t, "pong"); string(e.Timestamp) != tc.want {
				t.Errorf("pong timestamp = %s, want %s", e.Timestamp, tc.want)
			}
		})
	}
}

func TestTelemetryAuth(t *testing.T) {
	for _, tc := range []struct {
		name string
		// send is the first client message; %TOKEN% becomes the current
		// token, empty sends nothing.
		send      string
		wantClose int // 0: the stream starts
	}{
		{name: "right token", send: `{"command":"authenticate","token":"%TOKEN%"}`},
		{name: "right token, type spelling", send: `{"type":"auth","token":"%TOKEN%"}`},
		{name: "wrong token", send: `{"command":"authenticate","token":"not-the-token-0123456789"}`, wantClose: websocket.ClosePolicyViolation},
		{name: "empty token", send: `{"command":"authenticate","token":""}`, wantClose: websocket.ClosePolicyViolation},
		{name: "other command first", send: `{"command":"get_snapshot"}`, wantClose: websocket.ClosePolicyViolation},
		{name: "not JSON", send: `hello`, wantClose: websocket.ClosePolicyViolation},
		{name: "timeout", wantClose: websocket.ClosePolicyViolation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTelemetryEnv(t, func(o *Options, _ *Faults) { o.TelemetryAuth = true })
			env.ts.authTimeout = 200 * time.Millisecond
			c := dialTelemetry(t, env.url)

			e, err := decodeTelemetryFrame(c.next(t))
			if err != nil || e.Event != "auth_required" {
				t.Fatalf("first frame = %+v (%v), want auth_required", e, err)
			}
			var req struct {
				Timeout        float64  `json:"timeout_seconds"`
				Methods        []string `json:"auth_methods"`
				MessageSigning *bool    `json:"message_signing"`
				Message        string   `json:"message"`
			}
			if err := json.Unmarshal(e.Data, &req); err != nil || req.Timeout != 0.2 ||
				len(req.Methods) != 1 || req.Methods[0] != "token" || req.MessageSigning == nil || *req.MessageSigning || req.Message == "" {
				t.Errorf("auth_required data = %s (%v)", e.Data, err)
			}

			if tc.send != "" {
				c.sendText(t, strings.ReplaceAll(tc.send, "%TOKEN%", env.s.currentToken()))
			}
			if tc.wantClose != 0 {
				err := c.closeError(t)
				if !websocket.IsCloseError(err, tc.wantClose) {
					t.Fatalf("connection ended with %v, want close code %d", err, tc.wantClose)
				}
				// Nothing but the challenge went out before the close.
				select {
				case f := <-c.frames:
					t.Errorf("unauthenticated client got %s", f.data)
				default:
				}
				return
			}

			e, err = decodeTelemetryFrame(c.next(t))
			if err != nil || e.Event != "authenticated" {
				t.Fatalf("frame after authenticate = %+v (%v), want authenticated", e, err)
			}
			var ok struct {
				Authenticated     bool     `json:"authenticated"`
				Role              string   `json:"role"`
				ServerVersion     string   `json:"server_version"`
				Capabilities      []string `json:"capabilities"`
				SignatureRequired *bool    `json:"signature_required"`
			}
			if err := json.Unmarshal(e.Data, &ok); err != nil || !ok.Authenticated || ok.Role != "readonly" ||
				ok.ServerVersion != "2.0.0" || len(ok.Capabilities) == 0 || ok.SignatureRequired == nil || *ok.SignatureRequired {
				t.Errorf("authenticated data = %s (%v)", e.Data, err)
			}
			if e, err := decodeTelemetryFrame(c.next(t)); err != nil || e.Event != "vr_initialized" {
				t.Fatalf("frame after authenticated = %+v (%v), want vr_initialized", e, err)
			}
			c.nextEvent(t, "fps")
			c.sendText(t, `{"command":"authenticate","token":"x"}`)
			if e, _ := c.nextEvent(t, "error"); e.Message != "already authenticated" {
				t.Errorf("second authenticate: error %q", e.Message)
			}
		})
	}
}

func TestTelemetrySilent(t *testing.T) {
	const interval = 20 * time.Millisecond
	env := newTelemetryEnv(t, func(o *Options, _ *Faults) {
		o.FPSInterval = interval
		o.PingInterval = interval
	})
	c := dialTelemetry(t, env.url)
	c.nextEvent(t, "fps")

	env.patch(t, `{"telemetry_silent":true}`)
	// A frame may have been on the wire when the fault was set.
	time.Sleep(2 * interval)
	c.drain()
	c.sendText(t, `{"command":"ping"}`)
	if err := c.ws.WriteControl(websocket.PingMessage, []byte("silent?"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// Absence can only be shown by waiting: ten FPS and ping intervals.
	select {
	case f := <-c.frames:
		t.Fatalf("silent stream sent %q", f.data)
	case p := <-c.pongs:
		t.Fatalf("silent stream answered a ping (%q)", p)
	case <-c.pings:
		t.Fatal("silent stream sent a ping")
	case <-c.done:
		t.Fatalf("silent stream closed the connection: %v", c.err)
	case <-time.After(10 * interval):
	}

	env.patch(t, `{"telemetry_silent":false}`)
	c.nextEvent(t, "fps")
	c.sendText(t, `{"command":"ping"}`)
	c.nextEvent(t, "pong")
	if err := c.ws.WriteControl(websocket.PingMessage, []byte("back"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case p := <-c.pongs:
			if p == "back" {
				return
			}
		case <-time.After(telemetryWait):
			t.Fatal("no pong after the stream resumed")
		}
	}
}

// validTelemetryFrame reports whether a frame is one a correct client should accept
// on a JSON stream: a text JSON envelope whose fps, if any, is a number >= 0.
func validTelemetryFrame(f telemetryFrame) bool {
	if f.kind != websocket.TextMessage {
		return false
	}
	e, err := decodeTelemetryFrame(f)
	if err != nil {
		return false
	}
	if e.Event != "fps" {
		return true
	}
	var d struct {
		FPS *float64 `json:"fps"`
	}
	return json.Unmarshal(e.Data, &d) == nil && d.FPS != nil && *d.FPS >= 0
}

func TestTelemetryGarbage(t *testing.T) {
	env := newTelemetryEnv(t, func(_ *Options, f *Faults) { f.TelemetryGarbage = true })
	c := dialTelemetry(t, env.url)

	const n = 90 // with one bad frame per three good ones: ~22 bad ones, every kind three times
	var valid, validFPS, badText, badBinary int
	for i := 0; i < n; i++ {
		f := c.next(t)
		switch {
		case validTelemetryFrame(f):
			valid++
			if e, _ := decodeTelemetryFrame(f); e.Event == "fps" {
				validFPS++
			}
		case f.kind == websocket.TextMessage:
			badText++
		default:
			badBinary++
		}
	}
	if bad := badText + badBinary; bad < n/5 || valid < n/2 {
		t.Errorf("%d valid and %d malformed frames out of %d, want about one malformed per three valid", valid, bad, n)
	}
	if badText == 0 || badBinary == 0 || validFPS == 0 {
		t.Errorf("malformed text %d, malformed binary %d, valid fps %d: want all three", badText, badBinary, validFPS)
	}

	env.patch(t, `{"telemetry_garbage":false}`)
	time.Sleep(20 * time.Millisecond) // let a frame already on the wire arrive
	c.drain()
	for i := 0; i < 20; i++ {
		if f := c.next(t); !validTelemetryFrame(f) {
			t.Fatalf("malformed frame %q after telemetry_garbage was cleared", f.data)
		}
	}
}

func TestTelemetryCloseAll(t *testing.T) {
	env := newTelemetryEnv(t, func(o *Options, _ *Faults) { o.TelemetryAuth = true })
	env.ts.authTimeout = time.Minute // closeAll must not wait for it

	authed := dialTelemetry(t, env.url)
	authed.nextEvent(t, "auth_required")
	authed.sendText(t, `{"command":"authenticate","token":"`+env.s.currentToken()+`"}`)
	authed.nextEvent(t, "fps")
	pending := dialTelemetry(t, env.url)
	pending.nextEvent(t, "auth_required")

	start := time.Now()
	env.ts.closeAll()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closeAll took %v", d)
	}
	for name, c := range map[string]*telemetryClient{"authenticated": authed, "pending": pending} {
		if err := c.closeError(t); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Errorf("%s client ended with %v, want close 1001", name, err)
		}
	}
	env.ts.mu.Lock()
	left := len(env.ts.conns)
	env.ts.mu.Unlock()
	if left != 0 {
		t.Errorf("%d connections still registered after closeAll", left)
	}

	// Served again afterwards.
	again := dialTelemetry(t, env.url)
	again.nextEvent(t, "auth_required")
}

func TestTelemetryCloseAllSilent(t *testing.T) {
	env := newTelemetryEnv(t, func(_ *Options, f *Faults) { f.TelemetrySilent = true })
	c := dialTelemetry(t, env.url)
	// Nothing arrives while silent; wait until the server has registered
	// the connection before closing.
	deadline := time.Now().Add(telemetryWait)
	for {
		env.ts.mu.Lock()
		n := len(env.ts.conns)
		env.ts.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("connection never registered")
		}
		time.Sleep(time.Millisecond)
	}
	env.ts.closeAll()
	if err := c.closeError(t); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("silent client ended with %v, want close 1001", err)
	}
}

func TestTelemetryReadLimit(t *testing.T) {
	env := newTelemetryEnv(t, nil)
	c := dialTelemetry(t, env.url)
	c.nextEvent(t, "vr_initialized")
	c.sendText(t, `{"command":"`+strings.Repeat("x", telemetryReadLimit)+`"}`)
	if err := c.closeError(t); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("oversized command ended the connection with %v, want close 1009", err)
	}
}

// postTelemetryControl POSTs body to the control API, as curl would.
func postTelemetryControl(t *testing.T, s *Sim, path, body string) {
	t.Helper()
	resp, err := http.Post("http://"+s.Info().Control+path, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s %s: %s %s", path, body, resp.Status, b)
	}
}

// authenticateTelemetry completes the handshake with token and returns once the
// VR event has arrived.
func authenticateTelemetry(t *testing.T, c *telemetryClient, token string) {
	t.Helper()
	c.nextEvent(t, "auth_required")
	c.sendText(t, `{"command":"authenticate","token":"`+token+`"}`)
	if e, err := decodeTelemetryFrame(c.next(t)); err != nil || e.Event != "authenticated" {
		t.Fatalf("after authenticate: %+v (%v), want authenticated", e, err)
	}
	c.nextEvent(t, "vr_initialized")
}

// TestTelemetryThroughStart drives a whole godot-profile instance the way an
// operator does: the JWT from Info authenticates the stream, POST /faults
// changes the FPS (the acceptance: ~60 FPS within a second with the
// default 0.5 s interval), POST /events and POST /restart reach the stream,
// and telemetry_down drops the connection until it is cleared.
func TestTelemetryThroughStart(t *testing.T) {
	s, err := Start(t.Context(), Options{
		Profile:          ProfileGodot,
		TelemetryAuth:    true,
		APIAddress:       "127.0.0.1:0",
		TelemetryAddress: "127.0.0.1:0",
		ControlAddress:   "127.0.0.1:0",
		Logger:           zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	url := "ws://" + s.Info().Telemetry + "/"

	c := dialTelemetry(t, url)
	authenticateTelemetry(t, c, s.Info().Token)

	set := time.Now()
	postTelemetryControl(t, s, "/faults", `{"fps":60}`)
	for {
		e, f := c.nextEvent(t, "fps")
		if d := telemetryData[telemetryFPSData](t, e); *d.FPS > 80 {
			continue // sampled before the change
		}
		checkTelemetryFPS(t, e, 59, 61, 300)
		if late := f.at.Sub(set); late > time.Second {
			t.Errorf("fps 60 reported %v after POST /faults, want within a second", late)
		}
		break
	}

	postTelemetryControl(t, s, "/events", `{"event":"error","data":{"message":"Scene load failed"}}`)
	if e, _ := c.nextEvent(t, "error"); !strings.Contains(string(e.Data), "Scene load failed") {
		t.Errorf("forwarded error data = %s", e.Data)
	}

	postTelemetryControl(t, s, "/restart", `{}`)
	c.nextEvent(t, "vr_initialized")

	postTelemetryControl(t, s, "/faults", `{"telemetry_down":true}`)
	if err := c.closeError(t); err == nil {
		t.Error("connection survived telemetry_down")
	}
	postTelemetryControl(t, s, "/faults", `{"telemetry_down":false}`)
	// The restart signed a new JWT; it is the one the stream accepts now.
	authenticateTelemetry(t, dialTelemetry(t, url), s.Info().Token)
}
