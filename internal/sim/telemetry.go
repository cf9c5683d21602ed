package sim

import (
	"bytes"
	"compress/gzip"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// The telemetry WebSocket (docs/instance.md, "Telemetry stream"): JSON text frames by
// default, binary 0x01 FPS packets or 0x02 gzip frames on request, the
// optional auth_required/authenticate handshake of the "secure version", and
// the faults that break the stream (silent, garbage).

const (
	// telemetryReadLimit caps a client message; a bigger one closes the
	// connection with 1009, which is all a command channel needs.
	telemetryReadLimit = 64 << 10
	// telemetryWriteWait bounds every write, so a client that stops
	// reading cannot wedge the writer (and with it closeAll).
	telemetryWriteWait = 5 * time.Second
	// defaultTelemetryAuthTimeout is the secure version's 10 s (docs/instance.md, "Authentication handshake").
	defaultTelemetryAuthTimeout = 10 * time.Second
	// defaultTelemetryCloseGrace bounds the wait for the client's answer to
	// our close frame before the socket is closed anyway.
	defaultTelemetryCloseGrace = time.Second
	// telemetryServerVersion is what the secure version reports.
	telemetryServerVersion = "2.0.0"
	// telemetryGarbageEvery makes every third frame preceded by a malformed one
	// while telemetry_garbage is on.
	telemetryGarbageEvery = 3
)

// telemetryServer serves the telemetry WebSocket. Each connection has one
// writer goroutine (gorilla allows a single concurrent writer, so every frame
// goes through it) and one reader goroutine; the server owns both through wg.
type telemetryServer struct {
	s        *Sim
	log      *zap.Logger
	upgrader websocket.Upgrader

	// authTimeout is how long a client has to authenticate when
	// Options.TelemetryAuth is set (default 10 s; tests shorten it).
	authTimeout time.Duration
	// closeGrace is how long to wait for the client's close reply.
	closeGrace time.Duration

	closeMu sync.Mutex // serialises closeAll, so no wg.Add races a wg.Wait

	mu      sync.Mutex
	conns   map[*telemetryConn]struct{}
	closing bool // set while closeAll waits: new connections are turned away
	wg      sync.WaitGroup
}

// newTelemetryServer returns the handler of s's telemetry stream. It starts
// nothing until a client connects.
func newTelemetryServer(s *Sim) *telemetryServer {
	log := s.log
	if log == nil {
		log = zap.NewNop()
	}
	return &telemetryServer{
		s:   s,
		log: log.Named("telemetry"),
		upgrader: websocket.Upgrader{
			// Godot's WebSocketPeer checks no Origin, and the monitoring
			// clients send none; refusing cross-origin would be a feature
			// the real server lacks.
			CheckOrigin: func(*http.Request) bool { return true },
		},
		authTimeout: defaultTelemetryAuthTimeout,
		closeGrace:  defaultTelemetryCloseGrace,
		conns:       map[*telemetryConn]struct{}{},
	}
}

// ServeHTTP upgrades the request and starts the connection's goroutines. Any
// path is accepted, like Godot's WebSocketPeer; clients use the root (docs/instance.md, "Telemetry stream").
func (t *telemetryServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	closing := t.closing
	t.mu.Unlock()
	if closing {
		http.Error(w, "telemetry server is shutting down", http.StatusServiceUnavailable)
		return
	}
	ws, err := t.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has already answered with an HTTP error.
		t.log.Debug("upgrade refused", zap.String("remote", r.RemoteAddr), zap.Error(err))
		return
	}
	c := &telemetryConn{
		t:          t,
		ws:         ws,
		log:        t.log.With(zap.String("remote", r.RemoteAddr)),
		quit:       make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
		announce:   make(chan struct{}, 1),
		auth:       make(chan bool, 1),
		replies:    make(chan telemetryMessage, 16),
		started:    time.Now(),
		stats:      t.s.stats.client(r.UserAgent()),
	}
	if !t.start(c) {
		// closeAll began during the upgrade.
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server going away"),
			time.Now().Add(time.Second))
		_ = ws.Close()
	}
}

// start registers c and launches its goroutines, unless closeAll is running.
func (t *telemetryServer) start(c *telemetryConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false
	}
	t.conns[c] = struct{}{}
	t.wg.Go(c.readLoop)
	t.wg.Go(c.writeLoop)
	return true
}

func (t *telemetryServer) remove(c *telemetryConn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

// closeAll closes every open connection with 1001 (going away) and waits for
// all their goroutines. Connections are accepted again once it returns.
func (t *telemetryServer) closeAll() {
	t.closeMu.Lock()
	defer t.closeMu.Unlock()

	t.mu.Lock()
	t.closing = true
	conns := make([]*telemetryConn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()

	for _, c := range conns {
		c.shutdown()
	}
	t.wg.Wait()

	t.mu.Lock()
	t.closing = false
	t.mu.Unlock()
}

// announceVR makes every connection send the VR event again (vr_initialized,
// or the desktop-fallback warning), as a restarted instance does. A
// connection still authenticating sends it once, after the handshake.
func (t *telemetryServer) announceVR() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		select {
		case c.announce <- struct{}{}:
		default: // one announcement is already pending
		}
	}
}

// telemetryMessage is one JSON frame. The writer sets Timestamp when it
// sends the frame, in the unit the faults ask for.
type telemetryMessage struct {
	Type      string `json:"type"`
	Event     string `json:"event,omitempty"`
	Timestamp any    `json:"timestamp,omitempty"`
	Message   string `json:"message,omitempty"`
	Data      any    `json:"data,omitempty"`
}

func telemetryEvent(name string, data any) telemetryMessage {
	return telemetryMessage{Type: "event", Event: name, Data: data}
}

func telemetryError(msg string) telemetryMessage {
	return telemetryMessage{Type: "error", Message: msg}
}

// telemetryConn is one client connection.
type telemetryConn struct {
	t   *telemetryServer
	ws  *websocket.Conn
	log *zap.Logger

	quit       chan struct{} // closed by shutdown (closeAll)
	quitOnce   sync.Once
	readerDone chan struct{}
	writerDone chan struct{}

	announce chan struct{}         // announceVR requests, buffered 1
	auth     chan bool             // the reader's verdict on the first message, buffered 1
	replies  chan telemetryMessage // answers to client commands, sent by the writer

	started time.Time       // moves the simulated tracking poses
	stats   *clientCounters // the client's, by User-Agent

	// Writer-only state.
	frameNo uint32 // last 0x01 packet's frame number
	frames  uint64 // valid frames sent, for the garbage cadence
	garbage int    // next entry of telemetryGarbage
}

func (c *telemetryConn) shutdown() {
	c.quitOnce.Do(func() { close(c.quit) })
}

// readLoop reads client messages: the authentication first when required,
// then commands, whose answers it hands to the writer. It ends when the
// connection fails or closes (the writer closes it when it ends).
func (c *telemetryConn) readLoop() {
	defer close(c.readerDone)
	c.ws.SetReadLimit(telemetryReadLimit)
	c.ws.SetPingHandler(c.onPing)

	authed := !c.t.s.opts.TelemetryAuth
	refused := false
	for {
		kind, msg, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		switch {
		case refused:
			// Keep reading only to complete the close handshake.
		case !authed:
			ok := c.checkAuth(kind, msg)
			c.auth <- ok // the only send: the buffer of one never blocks
			authed, refused = ok, !ok
		default:
			select {
			case c.replies <- c.answer(kind, msg):
			case <-c.writerDone:
				return
			}
		}
	}
}

// onPing answers WebSocket pings, except while the stream is silent: a
// half-open connection answers nothing.
func (c *telemetryConn) onPing(data string) error {
	if c.t.s.faults.Get().TelemetrySilent {
		return nil
	}
	err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(telemetryWriteWait))
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	return err
}

// telemetryCommand is a client message; older documents use "type" where
// newer ones use "command" (docs/instance.md, "Intervals and keep-alive"), so both are read.
type telemetryCommand struct {
	Command string `json:"command"`
	Type    string `json:"type"`
	Token   string `json:"token"`
}

func (m telemetryCommand) name() string {
	if m.Command != "" {
		return m.Command
	}
	return m.Type
}

// checkAuth reports whether msg is an authenticate command with the
// current token. Anything else before authentication is refused.
func (c *telemetryConn) checkAuth(kind int, msg []byte) bool {
	var cmd telemetryCommand
	if kind != websocket.TextMessage || json.Unmarshal(msg, &cmd) != nil {
		return false
	}
	if n := cmd.name(); n != "authenticate" && n != "auth" {
		return false
	}
	want := c.t.s.currentToken()
	return want != "" && subtle.ConstantTimeCompare([]byte(cmd.Token), []byte(want)) == 1
}

// answer handles one command after authentication.
func (c *telemetryConn) answer(kind int, msg []byte) telemetryMessage {
	if kind != websocket.TextMessage {
		return telemetryError("commands must be JSON text frames")
	}
	var cmd telemetryCommand
	if err := json.Unmarshal(msg, &cmd); err != nil {
		return telemetryError("invalid command: want a JSON object such as {\"command\":\"ping\"}")
	}
	switch name := cmd.name(); name {
	case "ping":
		return telemetryMessage{Type: "pong"}
	case "get_snapshot":
		return telemetryMessage{Type: "snapshot", Data: telemetrySnapshot(c.t.s.faults.Get())}
	case "authenticate", "auth":
		if c.t.s.opts.TelemetryAuth {
			return telemetryError("already authenticated")
		}
		return telemetryError("authentication not required")
	case "":
		return telemetryError(`missing "command"`)
	default:
		if len(name) > 64 {
			name = name[:64] + "…"
		}
		return telemetryError("unknown command: " + name)
	}
}

// writeLoop sends everything this connection gets: the handshake, the VR
// event, the periodic frames, forwarded events and command answers. Closing
// the socket on exit ends the reader too.
func (c *telemetryConn) writeLoop() {
	c.log.Debug("client connected")
	defer func() {
		close(c.writerDone)
		_ = c.ws.Close()
		c.t.remove(c)
		c.log.Debug("client disconnected")
	}()
	if c.t.s.opts.TelemetryAuth && !c.authenticate() {
		return
	}
	// Subscribe before announcing, so no event published after the VR
	// event can be missed.
	events, unsubscribe := c.t.s.events.subscribe()
	defer unsubscribe()
	select {
	case <-c.announce: // a restart during the handshake: one announcement covers it
	default:
	}
	if c.send(telemetryVREvent(c.t.s.faults.Get())) != nil {
		return
	}
	c.stream(events)
}

// authenticate runs the secure version's handshake (docs/instance.md, "Authentication handshake") and reports
// whether the stream may start.
func (c *telemetryConn) authenticate() bool {
	timeout := c.t.authTimeout
	err := c.send(telemetryEvent("auth_required", map[string]any{
		"message":         `Authentication required: send {"command":"authenticate","token":"<token>"}`,
		"timeout_seconds": timeout.Seconds(),
		"auth_methods":    []string{"token"},
		"message_signing": false,
	}))
	if err != nil {
		return false
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case ok := <-c.auth:
		if !ok {
			c.log.Info("telemetry authentication failed: wrong token or not an authenticate command")
			c.closeWith(websocket.ClosePolicyViolation, "authentication failed")
			return false
		}
	case <-timer.C:
		c.log.Info("telemetry authentication timed out", zap.Duration("timeout", timeout))
		c.closeWith(websocket.ClosePolicyViolation, "authentication timeout")
		return false
	case <-c.quit:
		c.closeWith(websocket.CloseGoingAway, "server going away")
		return false
	case <-c.readerDone:
		return false
	}
	return c.send(telemetryEvent("authenticated", map[string]any{
		"authenticated":      true,
		"user":               "telemetry_client",
		"role":               "readonly",
		"server_version":     telemetryServerVersion,
		"capabilities":       []string{"fps", "vr_tracking", "scene_info", "events"},
		"signature_required": false,
	})) == nil
}

// stream sends the periodic frames until the connection ends.
func (c *telemetryConn) stream(events <-chan Event) {
	opts := c.t.s.opts
	fpsEvery := positiveDuration(opts.FPSInterval, 500*time.Millisecond)
	fpsTick := time.NewTicker(fpsEvery)
	defer fpsTick.Stop()
	trackTick := time.NewTicker(positiveDuration(opts.TrackingInterval, 100*time.Millisecond))
	defer trackTick.Stop()
	pingTick := time.NewTicker(positiveDuration(opts.PingInterval, 30*time.Second))
	defer pingTick.Stop()

	changed := c.t.s.faults.Changed()
	lastFPS := c.t.s.faults.Get().FPS
	for {
		var err error
		select {
		case <-c.quit:
			c.closeWith(websocket.CloseGoingAway, "server going away")
			return
		case <-c.readerDone:
			return
		case <-fpsTick.C:
			err = c.sendFPS()
		case <-trackTick.C:
			err = c.sendTracking()
		case <-pingTick.C:
			err = c.sendPing()
		case <-changed:
			// A new mean FPS is reported at once rather than at the next
			// tick, so a fault shows within a second even with long intervals.
			changed = c.t.s.faults.Changed()
			if f := c.t.s.faults.Get(); f.FPS != lastFPS {
				lastFPS = f.FPS
				fpsTick.Reset(fpsEvery)
				err = c.sendFPS()
			}
		case ev := <-events:
			err = c.send(telemetryForwarded(ev))
		case m := <-c.replies:
			err = c.send(m)
		case <-c.announce:
			err = c.send(telemetryVREvent(c.t.s.faults.Get()))
		}
		if err != nil {
			return
		}
	}
}

// closeWith sends a close frame and waits briefly for the client's reply
// (the reader ends when it arrives); the deferred Close in writeLoop then
// closes the socket.
func (c *telemetryConn) closeWith(code int, reason string) {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
		time.Now().Add(telemetryWriteWait))
	timer := time.NewTimer(c.t.closeGrace)
	defer timer.Stop()
	select {
	case <-c.readerDone:
	case <-timer.C:
	}
}

// send writes one JSON message, as text or as a 0x02 gzip frame.
func (c *telemetryConn) send(m telemetryMessage) error {
	f := c.t.s.faults.Get()
	if f.TelemetrySilent {
		return nil
	}
	m.Timestamp = telemetryTimestamp(c.t.s.now(), f.TelemetryTimestamp)
	b, err := json.Marshal(m)
	if err != nil {
		// Only forwarded event data can fail to encode; dropping it
		// keeps the stream going, as the real server would.
		return nil
	}
	if f.TelemetryEncoding == EncodingGzip {
		return c.writeFrame(f, websocket.BinaryMessage, telemetryGzipFrame(b))
	}
	return c.writeFrame(f, websocket.TextMessage, b)
}

// sendFPS sends one FPS sample: a JSON fps event, or a 0x01 packet in the
// binary encoding.
func (c *telemetryConn) sendFPS() error {
	f := c.t.s.faults.Get()
	sample := sampleTelemetryFPS(f)
	if f.TelemetryEncoding != EncodingBinary {
		return c.send(telemetryEvent("fps", sample))
	}
	if f.TelemetrySilent {
		return nil
	}
	c.frameNo++
	return c.writeFrame(f, websocket.BinaryMessage, telemetryFPSPacket(c.frameNo, sample))
}

func (c *telemetryConn) sendTracking() error {
	f := c.t.s.faults.Get()
	if f.VRMode == VRModeDesktopFallback {
		return nil // no headset, no tracking
	}
	return c.send(telemetryEvent("vr_tracking", telemetryTracking(time.Since(c.started))))
}

// sendPing sends a WebSocket ping, except while silent.
func (c *telemetryConn) sendPing() error {
	if c.t.s.faults.Get().TelemetrySilent {
		return nil
	}
	return c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(telemetryWriteWait))
}

// writeFrame writes one valid frame, preceded by a malformed one on every
// third frame while telemetry_garbage is on. Deadlines use the real clock:
// they are socket deadlines, whatever clock the instance simulates.
func (c *telemetryConn) writeFrame(f Faults, kind int, b []byte) error {
	if f.TelemetryGarbage && c.frames%telemetryGarbageEvery == telemetryGarbageEvery-1 {
		g := telemetryGarbage[c.garbage%len(telemetryGarbage)]
		c.garbage++
		if err := c.write(g.kind, g.data); err != nil {
			return err
		}
	}
	c.frames++
	// Counted before the write, so that a client never holds a frame the
	// count lacks; a write that fails ends the connection, and its frame
	// counts as sent and lost.
	c.stats.frames.Add(1)
	return c.write(kind, b)
}

func (c *telemetryConn) write(kind int, b []byte) error {
	if err := c.ws.SetWriteDeadline(time.Now().Add(telemetryWriteWait)); err != nil {
		return err
	}
	return c.ws.WriteMessage(kind, b)
}

// telemetryGarbage is what telemetry_garbage mixes into the stream: the
// hostile inputs a client must count and skip (docs/reliability.md scenario 10).
var telemetryGarbage = []struct {
	kind int
	data []byte
}{
	// Truncated JSON.
	{websocket.TextMessage, []byte(`{"type":"event","event":"fps","timestamp":1765900000,"data":{"fps":89.`)},
	// Wrong types and impossible values.
	{websocket.TextMessage, []byte(`{"type":"event","event":"fps","timestamp":1765900000,"data":{"fps":"fast"}}`)},
	{websocket.TextMessage, []byte(`{"type":"event","event":"fps","timestamp":1765900000,"data":{"fps":-5}}`)},
	{websocket.TextMessage, []byte(`{"type":"event","event":"fps","timestamp":1765900000,"data":{"fps":NaN}}`)},
	// An unknown binary type byte.
	{websocket.BinaryMessage, []byte{0x7f, 0xde, 0xad, 0xbe, 0xef}},
	// A 0x01 packet of 7 bytes instead of 17.
	{websocket.BinaryMessage, []byte{0x01, 0x00, 0x00, 0x00, 0x01, 0x42, 0xb4}},
	// A 0x02 packet whose lengths lie and whose payload is not gzip.
	{websocket.BinaryMessage, []byte{0x02, 0, 0, 0x10, 0, 0, 0, 0x10, 0, 'n', 'o', 't', ' ', 'g', 'z'}},
}

// telemetryFPSSample is the data of an fps event (docs/instance.md, "Events and timestamps").
type telemetryFPSSample struct {
	FPS           float64 `json:"fps"`
	FrameTimeMS   float64 `json:"frame_time_ms"`
	PhysicsTimeMS float64 `json:"physics_time_ms"`
	MemoryUsageMB float64 `json:"memory_usage_mb"`
	CPULoad       float64 `json:"cpu_load"`
}

// sampleFPS draws one sample around the faults' mean: uniform jitter in
// [-FPSJitter, +FPSJitter], never below 0. At 0 FPS the frame time is
// reported as 100 s (a hung frame) rather than infinity, which JSON cannot
// carry.
func sampleTelemetryFPS(f Faults) telemetryFPSSample {
	fps := f.FPS
	if f.FPSJitter > 0 {
		fps += (rand.Float64()*2 - 1) * f.FPSJitter
	}
	fps = roundPlaces(max(fps, 0), 2)
	frame := 1000 / max(fps, 0.01)
	physics := min(1.5+rand.Float64(), frame/2)
	// A slower frame rate reads as a busier CPU.
	cpu := 0.3 + 0.1*rand.Float64() + 0.5*max(0, 1-fps/90)
	return telemetryFPSSample{
		FPS:           fps,
		FrameTimeMS:   roundPlaces(frame, 2),
		PhysicsTimeMS: roundPlaces(physics, 2),
		MemoryUsageMB: roundPlaces(f.MemoryMB, 2),
		CPULoad:       roundPlaces(min(cpu, 1), 3),
	}
}

// fpsPacket is the 17-byte 0x01 packet (docs/instance.md, "Frames and encodings", TELEMETRY_GUIDE layout): type,
// uint32 frame number, float32 fps, frame time and physics time, all
// big-endian.
func telemetryFPSPacket(frame uint32, s telemetryFPSSample) []byte {
	b := make([]byte, 17)
	b[0] = 0x01
	binary.BigEndian.PutUint32(b[1:5], frame)
	binary.BigEndian.PutUint32(b[5:9], math.Float32bits(float32(s.FPS)))
	binary.BigEndian.PutUint32(b[9:13], math.Float32bits(float32(s.FrameTimeMS)))
	binary.BigEndian.PutUint32(b[13:17], math.Float32bits(float32(s.PhysicsTimeMS)))
	return b
}

// gzipFrame wraps a JSON frame as a 0x02 packet (docs/instance.md, "Frames and encodings"): type, uint32
// uncompressed length, uint32 compressed length (big-endian), gzip payload.
func telemetryGzipFrame(payload []byte) []byte {
	var buf bytes.Buffer
	buf.Write(make([]byte, 9))
	zw := gzip.NewWriter(&buf)
	// Writes to a bytes.Buffer cannot fail.
	_, _ = zw.Write(payload)
	_ = zw.Close()
	b := buf.Bytes()
	b[0] = 0x02
	binary.BigEndian.PutUint32(b[1:5], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[5:9], uint32(len(b)-9))
	return b
}

// telemetryTimestamp renders t in one of the three documented forms (docs/instance.md, "Events and timestamps"):
// Unix seconds with millisecond fraction, Unix milliseconds, or RFC 3339.
func telemetryTimestamp(t time.Time, unit string) any {
	switch unit {
	case TimestampMillis:
		return t.UnixMilli()
	case TimestampRFC3339:
		return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	default:
		return float64(t.UnixMilli()) / 1000
	}
}

// vrMessage is the event a starting instance sends: vr_initialized, or a
// warning when OpenXR failed and the game fell back to the desktop.
func telemetryVREvent(f Faults) telemetryMessage {
	if f.VRMode == VRModeDesktopFallback {
		return telemetryEvent("warning", map[string]any{
			"message": "VR initialization failed, using desktop fallback",
			"mode":    VRModeDesktopFallback,
		})
	}
	return telemetryEvent("vr_initialized", map[string]any{
		"mode":            VRModeVR,
		"runtime":         "OpenXR",
		"headset":         "Simulated HMD",
		"refresh_rate_hz": 90,
	})
}

// forwardedMessage turns an event published through the control API into a
// frame.
func telemetryForwarded(ev Event) telemetryMessage {
	m := telemetryMessage{Type: ev.Type, Event: ev.Name, Data: ev.Data}
	if m.Type == "" {
		m.Type = "event"
	}
	if ev.Data == nil {
		m.Data = map[string]any{}
	}
	return m
}

// snapshotData answers get_snapshot (API_REFERENCE shape, docs/instance.md, "Events and timestamps").
func telemetrySnapshot(f Faults) map[string]any {
	return map[string]any{
		"fps":          sampleTelemetryFPS(f).FPS,
		"memory_mb":    roundPlaces(f.MemoryMB, 2),
		"player_count": 1,
		"scene":        f.Scene,
		"vr_active":    f.VRMode == VRModeVR,
	}
}

// telemetryPose is one tracked device: position [x,y,z] in metres, rotation
// as a quaternion [x,y,z,w] (the TELEMETRY_GUIDE form, docs/instance.md, "Events and timestamps").
type telemetryPose struct {
	Position [3]float64         `json:"position"`
	Rotation [4]float64         `json:"rotation"`
	Buttons  map[string]float64 `json:"buttons,omitempty"`
}

// trackingData is a player standing still and looking around slowly.
func telemetryTracking(elapsed time.Duration) map[string]telemetryPose {
	p := elapsed.Seconds()
	yaw := 0.3 * math.Sin(p/3)
	yawQ := func(a float64) [4]float64 {
		return [4]float64{0, roundPlaces(math.Sin(a/2), 4), 0, roundPlaces(math.Cos(a/2), 4)}
	}
	sway := roundPlaces(0.02*math.Sin(p), 4)
	trigger := roundPlaces((1+math.Sin(p*2))/2, 2)
	return map[string]telemetryPose{
		"headset": {
			Position: [3]float64{sway, roundPlaces(1.68+0.01*math.Sin(p/2), 4), 0.05},
			Rotation: yawQ(yaw),
		},
		"left_controller": {
			Position: [3]float64{roundPlaces(-0.3+sway, 4), 1.1, -0.4},
			Rotation: yawQ(yaw / 2),
			Buttons:  map[string]float64{"trigger": 0, "grip": 0.7},
		},
		"right_controller": {
			Position: [3]float64{roundPlaces(0.3+sway, 4), 1.1, -0.4},
			Rotation: yawQ(yaw / 2),
			Buttons:  map[string]float64{"trigger": trigger, "grip": 0},
		},
	}
}

func roundPlaces(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func positiveDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
