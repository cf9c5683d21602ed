package spacetime

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// startTelServer is testkit.StartWSServer for a handler that needs no
// connection number.
func startTelServer(t *testing.T, handle func(c *websocket.Conn)) *testkit.WSServer {
	t.Helper()
	return testkit.StartWSServer(t, func(_ int, c *websocket.Conn) { handle(c) })
}

// startTelPipeServer is startTelServer on in-memory connections, for a
// stream in a synctest bubble: dial with ts.Dial (StreamOptions.NetDial).
func startTelPipeServer(t *testing.T, handle func(c *websocket.Conn)) *testkit.WSServer {
	t.Helper()
	return testkit.StartWSPipeServer(t, func(_ int, c *websocket.Conn) { handle(c) })
}

// readAll reads client messages until the connection ends, sending text
// ones to got (if not nil) and returning the close code (0 if none).
func readAll(c *websocket.Conn, got chan<- string) int {
	for {
		kind, msg, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			return 0
		}
		if got != nil && kind == websocket.TextMessage {
			select {
			case got <- string(msg):
			default:
			}
		}
	}
}

const telFPSJSON = `{"type":"event","event":"fps","timestamp":1765900000,"data":{"fps":90,"frame_time_ms":11.1}}`

// fastOptions are stream options scaled down for tests.
func fastOptions(urls ...string) StreamOptions {
	return StreamOptions{
		URLs:           urls,
		DialTimeout:    2 * time.Second,
		PongWait:       2 * time.Second,
		PingPeriod:     time.Second,
		SilenceTimeout: 3 * time.Second,
		WriteTimeout:   time.Second,
	}
}

func dialT(t *testing.T, opts StreamOptions) *Stream {
	t.Helper()
	s, err := Dial(context.Background(), opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// nextT reads one frame within a generous deadline.
func nextT(t *testing.T, s *Stream) Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var f Frame
	if err := s.Next(ctx, &f); err != nil {
		t.Fatalf("Next: %v", err)
	}
	return f
}

// refusedURL is a ws:// URL on which nothing listens.
func refusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "ws://" + addr + "/"
}

// mustRecv waits for a value on ch.
func mustRecv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestStreamDecodesEveryEncoding(t *testing.T) {
	ts := startTelServer(t, func(c *websocket.Conn) {
		c.WriteMessage(websocket.TextMessage, []byte(telFPSJSON))
		c.WriteMessage(websocket.BinaryMessage, telBinaryFPS(binary.BigEndian, 1, 72, 13.9, 2))
		c.WriteMessage(websocket.BinaryMessage, telGzip(t, []byte(telFPSJSON), -1, -1))
		c.WriteMessage(websocket.TextMessage, []byte(`{"type":"pong"}`))
		readAll(c, nil)
	})
	opts := fastOptions(ts.URL)
	opts.Now = telClock
	s := dialT(t, opts)
	want := []struct {
		kind Kind
		enc  Encoding
		fps  float64
	}{
		{KindFPS, EncodingJSON, 90},
		{KindFPS, EncodingBinaryFPS, 72},
		{KindFPS, EncodingGzipJSON, 90},
		{KindPong, EncodingJSON, 0},
	}
	for i, w := range want {
		f := nextT(t, s)
		if f.Kind != w.kind || f.Encoding != w.enc || f.FPS != w.fps {
			t.Errorf("frame %d: %s/%s fps %v, want %s/%s fps %v", i, f.Kind, f.Encoding, f.FPS, w.kind, w.enc, w.fps)
		}
		if f.Received != telNow || (f.TimeSource == TimeReceived && f.Time != telNow) {
			t.Errorf("frame %d: Received %v Time %v (%s), want the injected clock", i, f.Received, f.Time, f.TimeSource)
		}
	}
	st := s.Stats()
	if st.Frames[KindFPS] != 3 || st.Frames[KindPong] != 1 || st.Invalid != 0 || st.Total() != 4 {
		t.Errorf("Stats = %+v, want 3 fps, 1 pong, 0 invalid", st)
	}
	if s.URL() != ts.URL {
		t.Errorf("URL() = %q, want %q", s.URL(), ts.URL)
	}
}

func TestStreamSkipsAndCountsInvalidFrames(t *testing.T) {
	garbage := []struct {
		kind int
		data []byte
	}{
		{websocket.TextMessage, []byte(`{"type":"event","event":"fps",`)},
		{websocket.TextMessage, []byte(`{"type":"event","event":"fps","data":{"fps":"NaN"}}`)},
		{websocket.TextMessage, []byte(`{"type":"event","event":"fps","data":{"fps":-20}}`)},
		{websocket.BinaryMessage, []byte{0x7f, 1, 2, 3}},
		{websocket.BinaryMessage, []byte{0x01, 1, 2}},
	}
	ts := startTelServer(t, func(c *websocket.Conn) {
		for _, g := range garbage {
			c.WriteMessage(g.kind, g.data)
		}
		c.WriteMessage(websocket.TextMessage, []byte(telFPSJSON))
		readAll(c, nil)
	})
	var mu sync.Mutex
	var seen []error
	opts := fastOptions(ts.URL)
	opts.OnInvalid = func(err error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, err)
	}
	s := dialT(t, opts)
	if f := nextT(t, s); f.Kind != KindFPS || f.FPS != 90 {
		t.Fatalf("Next = %s fps %v, want the valid fps frame after the garbage", f.Kind, f.FPS)
	}
	if st := s.Stats(); st.Invalid != uint64(len(garbage)) || st.Frames[KindFPS] != 1 {
		t.Errorf("Stats = %+v, want %d invalid and 1 fps", st, len(garbage))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != len(garbage) {
		t.Fatalf("OnInvalid called %d times, want %d", len(seen), len(garbage))
	}
	for _, err := range seen {
		if !errors.Is(err, ErrInvalidFrame) {
			t.Errorf("OnInvalid got %v, which does not wrap ErrInvalidFrame", err)
		}
	}
}

func TestDialTriesURLsInOrder(t *testing.T) {
	ts := startTelServer(t, func(c *websocket.Conn) {
		c.WriteMessage(websocket.TextMessage, []byte(telFPSJSON))
		readAll(c, nil)
	})
	notWS := httptest.NewServer(http.NotFoundHandler())
	defer notWS.Close()
	notWSURL := "ws" + strings.TrimPrefix(notWS.URL, "http") + "/"

	s := dialT(t, fastOptions(refusedURL(t), notWSURL, ts.URL))
	if s.URL() != ts.URL {
		t.Errorf("URL() = %q, want the third URL %q", s.URL(), ts.URL)
	}
	if f := nextT(t, s); f.Kind != KindFPS {
		t.Errorf("first frame %s, want fps", f.Kind)
	}
}

func TestDialFailureListsEveryURL(t *testing.T) {
	// A listener that accepts TCP but never answers the handshake.
	blackhole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer blackhole.Close()
	var held sync.WaitGroup
	held.Go(func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := blackhole.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	})
	defer held.Wait()
	defer blackhole.Close()

	refused := refusedURL(t)
	silent := "ws://" + blackhole.Addr().String() + "/"
	opts := fastOptions(refused, silent)
	opts.DialTimeout = 200 * time.Millisecond
	start := time.Now()
	_, err = Dial(context.Background(), opts)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Dial took %s with a 200ms DialTimeout", took)
	}
	var de *DialError
	if !errors.As(err, &de) {
		t.Fatalf("Dial error %v (%T), want a *DialError", err, err)
	}
	if len(de.Attempts) != 2 || de.Attempts[0].URL != refused || de.Attempts[1].URL != silent {
		t.Errorf("Attempts = %+v, want %s then %s", de.Attempts, refused, silent)
	}
	msg := err.Error()
	for _, want := range []string{refused, silent, "within 200ms", "2 tried"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("errors.Is(err, ECONNREFUSED) = false for %v", err)
	}
}

func TestDialCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Dial(ctx, fastOptions(refusedURL(t))); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestDialRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts StreamOptions
		want string
	}{
		{"no URL", StreamOptions{}, "URLs is empty"},
		{"ping period not below pong wait", StreamOptions{URLs: []string{"ws://x/"}, PongWait: time.Second, PingPeriod: time.Second}, "PingPeriod (1s) must be shorter than PongWait (1s)"},
		{"negative timeout", StreamOptions{URLs: []string{"ws://x/"}, SilenceTimeout: -time.Second}, "SilenceTimeout is negative"},
		{"negative read limit", StreamOptions{URLs: []string{"ws://x/"}, ReadLimit: -1}, "ReadLimit is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Dial(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Dial = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	got, err := StreamOptions{URLs: []string{"ws://x/"}, PongWait: 10 * time.Second}.withDefaults()
	if err != nil || got.PingPeriod != 9*time.Second || got.SilenceTimeout != DefaultSilenceTimeout || got.ReadLimit != DefaultReadLimit {
		t.Errorf("defaults with PongWait 10s = %+v, %v; want PingPeriod 9s and the other defaults", got, err)
	}
}

// countingToken is a TokenSource that counts its calls.
type countingToken struct {
	tok                Secret
	calls, invalidated atomic.Int32
}

func (c *countingToken) Token(context.Context) (Secret, error) {
	c.calls.Add(1)
	return c.tok, nil
}

func (c *countingToken) Invalidate() { c.invalidated.Add(1) }

const telSentinel = "sentinel-telemetry-token-9f8e7d"

func TestStreamAnswersAuthRequired(t *testing.T) {
	got := make(chan string, 8)
	ts := startTelServer(t, func(c *websocket.Conn) {
		c.WriteMessage(websocket.TextMessage, telFixture(t, "auth_required"))
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		got <- string(msg)
		c.WriteMessage(websocket.TextMessage, []byte(`{"type":"event","event":"authenticated","data":{"authenticated":true}}`))
		c.WriteMessage(websocket.TextMessage, []byte(telFPSJSON))
		readAll(c, nil)
	})
	tok := &countingToken{tok: telSentinel}
	opts := fastOptions(ts.URL)
	opts.Token = tok
	s := dialT(t, opts)
	for _, want := range []Kind{KindAuthRequired, KindAuthenticated, KindFPS} {
		if f := nextT(t, s); f.Kind != want {
			t.Fatalf("frame %s, want %s", f.Kind, want)
		}
	}
	var cmd struct{ Command, Token string }
	raw := mustRecv(t, got, "the authenticate command")
	if err := json.Unmarshal([]byte(raw), &cmd); err != nil || cmd.Command != "authenticate" || cmd.Token != telSentinel {
		t.Errorf("server got %s (%v), want {\"command\":\"authenticate\",\"token\":%q}", raw, err, telSentinel)
	}
	if tok.calls.Load() != 1 {
		t.Errorf("token fetched %d times, want once", tok.calls.Load())
	}
}

func TestStreamNeverSendsTokenUnasked(t *testing.T) {
	got := make(chan string, 64)
	ts := startTelServer(t, func(c *websocket.Conn) {
		for range 3 {
			c.WriteMessage(websocket.TextMessage, []byte(telFPSJSON))
		}
		readAll(c, got)
		close(got)
	})
	tok := &countingToken{tok: telSentinel}
	opts := fastOptions(ts.URL)
	opts.Token = tok
	opts.PongWait, opts.PingPeriod = time.Second, 100*time.Millisecond // let some pings go out
	s := dialT(t, opts)
	for range 3 {
		nextT(t, s)
	}
	// Wait for two command pings, so that the connection has carried client
	// traffic, then end it.
	for range 2 {
		if msg := mustRecv(t, got, "a ping command"); msg != `{"command":"ping"}` {
			t.Errorf("client sent %s, want only ping commands", msg)
		}
	}
	s.Close()
	for msg := range got {
		if strings.Contains(msg, telSentinel) || strings.Contains(msg, "authenticate") {
			t.Errorf("client sent %s without being asked to authenticate", msg)
		}
	}
	if tok.calls.Load() != 0 {
		t.Errorf("token fetched %d times, want never", tok.calls.Load())
	}
}

func TestStreamAuthFailures(t *testing.T) {
	rejecting := func(c *websocket.Conn) {
		c.WriteMessage(websocket.TextMessage, telFixture(t, "auth_required"))
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "invalid token"), time.Now().Add(time.Second))
		readAll(c, nil)
	}
	t.Run("token refused with 1008", func(t *testing.T) {
		ts := startTelServer(t, rejecting)
		tok := &countingToken{tok: telSentinel}
		opts := fastOptions(ts.URL)
		opts.Token = tok
		s := dialT(t, opts)
		if f := nextT(t, s); f.Kind != KindAuthRequired {
			t.Fatalf("first frame %s, want auth_required", f.Kind)
		}
		var f Frame
		err := s.Next(context.Background(), &f)
		if !errors.Is(err, ErrAuthRejected) {
			t.Fatalf("Next = %v, want ErrAuthRejected", err)
		}
		if strings.Contains(err.Error(), telSentinel) {
			t.Errorf("error reveals the token: %v", err)
		}
		if tok.invalidated.Load() != 1 {
			t.Errorf("token source invalidated %d times, want once", tok.invalidated.Load())
		}
		if again := s.Next(context.Background(), &f); again != err {
			t.Errorf("Next after the end = %v, want the same error %v", again, err)
		}
	})
	t.Run("no token configured", func(t *testing.T) {
		ts := startTelServer(t, rejecting)
		s := dialT(t, fastOptions(ts.URL))
		var f Frame
		err := s.Next(context.Background(), &f)
		if !errors.Is(err, ErrNoAuthToken) {
			t.Fatalf("Next = %v, want ErrNoAuthToken", err)
		}
		if f.Kind != KindAuthRequired {
			t.Errorf("frame %s, want the auth_required that ended the stream", f.Kind)
		}
	})
}

// TestStreamSignsCommands checks docs/instance.md, "Authentication handshake"'s signing: HMAC-SHA256 with the
// hmac_secret over the sorted, spaceless JSON without the signature.
func TestStreamSignsCommands(t *testing.T) {
	got := make(chan string, 8)
	ts := startTelServer(t, func(c *websocket.Conn) {
		c.WriteMessage(websocket.TextMessage, telFixture(t, "authenticated"))
		readAll(c, got)
	})
	opts := fastOptions(ts.URL)
	opts.DisableCommandPing = true
	s := dialT(t, opts)
	if f := nextT(t, s); f.Kind != KindAuthenticated {
		t.Fatalf("frame %s, want authenticated", f.Kind)
	}
	if err := s.RequestSnapshot(); err != nil {
		t.Fatal(err)
	}
	raw := mustRecv(t, got, "the signed command")
	var cmd struct {
		Command   string `json:"command"`
		Signature string `json:"signature"`
		Timestamp int64  `json:"timestamp"`
	}
	if err := json.Unmarshal([]byte(raw), &cmd); err != nil || cmd.Command != "get_snapshot" {
		t.Fatalf("server got %s (%v), want a get_snapshot command", raw, err)
	}
	if d := time.Since(time.Unix(cmd.Timestamp, 0)); d < -time.Second || d > 5*time.Second {
		t.Errorf("timestamp %d is %s from now", cmd.Timestamp, d)
	}
	mac := hmac.New(sha256.New, []byte("0123456789abcdef"))
	mac.Write([]byte(`{"command":"get_snapshot","timestamp":` + jsonInt(cmd.Timestamp) + `}`))
	if want := hex.EncodeToString(mac.Sum(nil)); cmd.Signature != want {
		t.Errorf("signature %s, want %s", cmd.Signature, want)
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestStreamReadLimit(t *testing.T) {
	closeCode := make(chan int, 1)
	ts := startTelServer(t, func(c *websocket.Conn) {
		done := make(chan int, 1)
		go func() { done <- readAll(c, nil) }()
		big := make([]byte, 10<<20)
		for i := range big {
			big[i] = 'x'
		}
		c.WriteMessage(websocket.TextMessage, big) // fails once the client closes
		closeCode <- <-done
	})
	opts := fastOptions(ts.URL)
	opts.ReadLimit = 1 << 20
	s := dialT(t, opts)
	var f Frame
	err := s.Next(context.Background(), &f)
	if !errors.Is(err, ErrFrameTooLarge) || !strings.Contains(err.Error(), "read limit of 1048576 bytes") {
		t.Fatalf("Next = %v, want ErrFrameTooLarge naming the read limit", err)
	}
	if code := mustRecv(t, closeCode, "the server's view of the close"); code != websocket.CloseMessageTooBig {
		t.Errorf("server saw close code %d, want 1009", code)
	}
}

// TestStreamSilence: the server answers pings (so the connection is alive)
// but sends no data: the stream ends with ErrSilent after SilenceTimeout,
// although PongWait is shorter, which proves pongs extend the read deadline.
func TestStreamSilence(t *testing.T) {
	ts := startTelServer(t, func(c *websocket.Conn) {
		c.WriteMessage(websocket.TextMessage, []byte(telFPSJSON))
		readAll(c, nil) // gorilla answers pings while reading
	})
	opts := fastOptions(ts.URL)
	opts.PongWait, opts.PingPeriod, opts.SilenceTimeout = 400*time.Millisecond, 80*time.Millisecond, 1200*time.Millisecond
	s := dialT(t, opts)
	nextT(t, s)
	start := time.Now()
	var f Frame
	err := s.Next(context.Background(), &f)
	took := time.Since(start)
	if !errors.Is(err, ErrSilent) {
		t.Fatalf("Next = %v, want ErrSilent", err)
	}
	if took < time.Second || took > opts.SilenceTimeout+2*time.Second {
		t.Errorf("silence detected after %s, want about %s", took, opts.SilenceTimeout)
	}
}

// TestStreamKeepAlive: a connection that carries only pongs for several
// PongWaits stays open, and the next data frame arrives.
func TestStreamKeepAlive(t *testing.T) {
	var pings atomic.Int32
	release := make(chan struct{})
	ts := startTelServer(t, func(c *websocket.Conn) {
		c.SetPingHandler(func(data string) error {
			if pings.Add(1) == 8 {
				close(release)
			}
			return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		ended := make(chan struct{})
		go func() {
			defer close(ended)
			readAll(c, nil)
		}()
		select {
		case <-release:
			c.WriteMessage(websocket.TextMessage, []byte(telFPSJSON))
		case <-ended:
		}
		<-ended
	})
	opts := fastOptions(ts.URL)
	opts.PongWait, opts.PingPeriod, opts.SilenceTimeout = 400*time.Millisecond, 100*time.Millisecond, 10*time.Second
	s := dialT(t, opts)
	start := time.Now()
	f := nextT(t, s) // fails if the stream died while quiet
	if f.Kind != KindFPS {
		t.Fatalf("frame %s, want fps", f.Kind)
	}
	if quiet := time.Since(start); quiet < 2*opts.PongWait {
		t.Errorf("data came after %s, want a quiet spell of several PongWaits", quiet)
	}
}

// TestStreamAppLevelPong: a server that ignores WebSocket pings but answers
// {"command":"ping"} with {"type":"pong"} also keeps the stream open; those
// pongs are returned and counted, and are not data.
func TestStreamAppLevelPong(t *testing.T) {
	ts := startTelServer(t, func(c *websocket.Conn) {
		c.SetPingHandler(func(string) error { return nil })
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if string(msg) == `{"command":"ping"}` {
				c.WriteMessage(websocket.TextMessage, []byte(`{"type":"pong"}`))
			}
		}
	})
	opts := fastOptions(ts.URL)
	opts.PongWait, opts.PingPeriod, opts.SilenceTimeout = 400*time.Millisecond, 80*time.Millisecond, time.Second
	s := dialT(t, opts)
	var f Frame
	var err error
	for err == nil {
		err = s.Next(context.Background(), &f)
	}
	if !errors.Is(err, ErrSilent) {
		t.Fatalf("Next = %v, want ErrSilent (pongs are not data)", err)
	}
	if n := s.Stats().Frames[KindPong]; n < 4 {
		t.Errorf("%d pongs counted, want several", n)
	}
}

// TestStreamHeartbeatTimeout: a server that stops reading answers no ping:
// after PongWait the connection counts as dead.
func TestStreamHeartbeatTimeout(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	ts := startTelServer(t, func(c *websocket.Conn) {
		c.WriteMessage(websocket.TextMessage, []byte(telFPSJSON))
		select {
		case <-stop:
		case <-time.After(10 * time.Second):
		}
	})
	opts := fastOptions(ts.URL)
	opts.PongWait, opts.PingPeriod, opts.SilenceTimeout = 300*time.Millisecond, 100*time.Millisecond, 5*time.Second
	s := dialT(t, opts)
	nextT(t, s)
	start := time.Now()
	var f Frame
	err := s.Next(context.Background(), &f)
	if !errors.Is(err, ErrHeartbeatTimeout) {
		t.Fatalf("Next = %v, want ErrHeartbeatTimeout", err)
	}
	if took := time.Since(start); took > 300*time.Millisecond+2*time.Second {
		t.Errorf("dead connection detected after %s, want about 300ms", took)
	}
}

func TestStreamContextCancel(t *testing.T) {
	quiet := func(c *websocket.Conn) { readAll(c, nil) }
	t.Run("while blocked", func(t *testing.T) {
		ts := startTelServer(t, quiet)
		s := dialT(t, fastOptions(ts.URL))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		var f Frame
		err := s.Next(ctx, &f)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Next = %v, want context.Canceled", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("Next returned %s after the cancel, want promptly", took-100*time.Millisecond)
		}
		if again := s.Next(context.Background(), &f); !errors.Is(again, context.Canceled) {
			t.Errorf("Next after a cancel = %v, want the same error", again)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		ts := startTelServer(t, quiet)
		s := dialT(t, fastOptions(ts.URL))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var f Frame
		if err := s.Next(ctx, &f); !errors.Is(err, context.Canceled) {
			t.Fatalf("Next = %v, want context.Canceled", err)
		}
	})
	t.Run("per-call contexts cancelled after each Next do not end the stream", func(t *testing.T) {
		ts := startTelServer(t, func(c *websocket.Conn) {
			for range 200 {
				c.WriteMessage(websocket.TextMessage, []byte(telFPSJSON))
			}
			readAll(c, nil)
		})
		s := dialT(t, fastOptions(ts.URL))
		for i := range 200 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var f Frame
			err := s.Next(ctx, &f)
			cancel()
			if err != nil {
				t.Fatalf("Next %d: %v", i, err)
			}
		}
	})
}

// TestStreamCancelWhileRearming: a context that ends while Next re-arms
// the read deadline (after a frame, here an invalid one) must still end
// the read, although watch's callback moved the deadline to the past
// before armDeadline set a new one. The connection is wrapped to see the
// callback's deadline, so the race is taken every time; the frame comes
// later than the deadline's slack, in a synctest bubble, so that
// armDeadline does set one.
func TestStreamCancelWhileRearming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := StreamOptions{PongWait: time.Minute, PingPeriod: 50 * time.Second, SilenceTimeout: 2 * time.Minute}
		ts := startTelPipeServer(t, func(c *websocket.Conn) {
			time.Sleep(2 * opts.PongWait / DeadlineSlackDivisor)
			c.WriteMessage(websocket.TextMessage, []byte(`{"event":"fps","data":{"fps":-5}}`))
			readAll(c, nil) // then quiet: only a deadline ends the read
		})
		opts.URLs = []string{ts.URL}
		past := make(chan struct{}, 1)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		opts.NetDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := ts.Dial(ctx, network, addr)
			return deadlineConn{c, past}, err
		}
		var sawCallback bool
		opts.OnInvalid = func(error) {
			cancel()
			select {
			case <-past: // the callback moved the deadline; armDeadline runs next
				sawCallback = true
			case <-time.After(5 * time.Second):
			}
		}
		s := dialT(t, opts)
		timeout := time.AfterFunc(opts.PongWait/2, func() { s.Close() }) // after the frame, well before any read deadline
		defer timeout.Stop()
		var f Frame
		err := s.Next(ctx, &f)
		if !sawCallback {
			t.Fatal("watch's callback never set a past deadline")
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Next = %v, want context.Canceled: the re-armed deadline hid the cancel", err)
		}
	})
}

// TestStreamPerCallContextsDoNotCutLaterReads: a per-call context cancelled
// after its Next returned moves the read deadline to the past (watch's
// callback runs before the next Next, synctest.Wait sees to it); the next
// Next, with a new context, must set a deadline again rather than keep
// the armed one, although the frame it waits for is well within it. The
// frames are a second apart, so each read waits on the connection.
func TestStreamPerCallContextsDoNotCutLaterReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := startTelPipeServer(t, func(c *websocket.Conn) {
			go readAll(c, nil)
			for range 5 {
				time.Sleep(time.Second)
				if c.WriteMessage(websocket.TextMessage, []byte(telFPSJSON)) != nil {
					return
				}
			}
		})
		s := dialT(t, StreamOptions{URLs: []string{ts.URL}, NetDial: ts.Dial})
		for i := range 5 {
			ctx, cancel := context.WithCancel(context.Background())
			var f Frame
			err := s.Next(ctx, &f)
			cancel()
			synctest.Wait() // the context's callback has run
			if err != nil {
				t.Fatalf("Next %d: %v", i+1, err)
			}
		}
	})
}

// TestStreamDeadlineSlack: the read deadline moves only when it must
// (DeadlineSlackDivisor), yet a stream whose frames keep coming never
// times out, and a quiet one times out no sooner than its timeout and no
// later than the slack allows: ErrHeartbeatTimeout between PongWait and
// PongWait plus the slack after the last frame, ErrSilent exactly
// SilenceTimeout after the last data frame. The default timings, in a
// synctest bubble. The frames come at gaps just short of PongWait (a
// deadline armed early, or not moved by a frame, cuts the stream) and at
// gaps well inside the slack (a deadline moved too seldom fires early
// once they stop); and the deadline is set for at most half the frames
// (the point of the slack).
func TestStreamDeadlineSlack(t *testing.T) {
	slack := DefaultPongWait / DeadlineSlackDivisor
	var gaps []time.Duration
	for range 4 {
		gaps = append(gaps, DefaultPongWait-slack/2)
	}
	for range 3 * DeadlineSlackDivisor { // a few slacks' worth
		gaps = append(gaps, slack/3)
	}
	for _, tc := range []struct {
		name        string
		answerPings bool
		wantErr     error
		min, max    time.Duration // after the last frame
		msg         string        // the error names the gap: %s is the time since the last frame
	}{
		{"half-open", false, ErrHeartbeatTimeout, DefaultPongWait, DefaultPongWait + slack, "nothing received for %s (PongWait 1m0s)"},
		{"wedged, pings answered", true, ErrSilent, DefaultSilenceTimeout, DefaultSilenceTimeout, "no data frame for %s (SilenceTimeout 1m30s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var last atomic.Int64 // UnixNano of the last frame sent
				ts := startTelPipeServer(t, func(c *websocket.Conn) {
					if !tc.answerPings {
						c.SetPingHandler(func(string) error { return nil })
					}
					read := make(chan struct{})
					go func() { // gorilla answers pings while reading
						defer close(read)
						readAll(c, nil)
					}()
					for _, gap := range gaps {
						time.Sleep(gap)
						if c.WriteMessage(websocket.TextMessage, []byte(telFPSJSON)) != nil {
							break
						}
						last.Store(time.Now().UnixNano())
					}
					<-read // then quiet until the client gives up
				})
				var sets atomic.Int32
				opts := StreamOptions{URLs: []string{ts.URL}, NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := ts.Dial(ctx, network, addr)
					return countingConn{c, &sets}, err
				}}
				s := dialT(t, opts)
				var f Frame
				for i := range gaps {
					if err := s.Next(context.Background(), &f); err != nil {
						t.Fatalf("frame %d of a steady stream: %v", i+1, err)
					}
				}
				if n := int(sets.Load()); n*2 > len(gaps) {
					t.Errorf("read deadline set %d times for %d frames, want at most half as many", n, len(gaps))
				}
				err := s.Next(context.Background(), &f)
				took := time.Since(time.Unix(0, last.Load()))
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Next after the last frame = %v, want %v", err, tc.wantErr)
				}
				if took < tc.min || took > tc.max {
					t.Errorf("%v %v after the last frame, want between %v and %v", tc.wantErr, took, tc.min, tc.max)
				}
				if want := fmt.Sprintf(tc.msg, took.Round(time.Millisecond)); !strings.Contains(err.Error(), want) {
					t.Errorf("Next after the last frame = %q, want it to say %q", err, want)
				}
			})
		})
	}
}

// countingConn counts the read deadlines set on it.
type countingConn struct {
	net.Conn
	n *atomic.Int32
}

func (c countingConn) SetReadDeadline(t time.Time) error {
	c.n.Add(1)
	return c.Conn.SetReadDeadline(t)
}

// deadlineConn signals past each time a read deadline in the past is set.
type deadlineConn struct {
	net.Conn
	past chan<- struct{}
}

func (c deadlineConn) SetReadDeadline(t time.Time) error {
	if t.Before(time.Unix(2, 0)) {
		select {
		case c.past <- struct{}{}:
		default:
		}
	}
	return c.Conn.SetReadDeadline(t)
}

func TestStreamClose(t *testing.T) {
	closeCode := make(chan int, 1)
	ts := startTelServer(t, func(c *websocket.Conn) { closeCode <- readAll(c, nil) })
	s, err := Dial(context.Background(), fastOptions(ts.URL))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		var f Frame
		errc <- s.Next(context.Background(), &f)
	}()
	time.Sleep(50 * time.Millisecond) // let Next block; the test holds either way
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := mustRecv(t, errc, "Next to return"); !errors.Is(err, ErrStreamClosed) {
		t.Errorf("Next after Close = %v, want ErrStreamClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if code := mustRecv(t, closeCode, "the server's view of the close"); code != websocket.CloseNormalClosure {
		t.Errorf("server saw close code %d, want 1000", code)
	}
}

func TestStreamServerClose(t *testing.T) {
	ts := startTelServer(t, func(c *websocket.Conn) {
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"), time.Now().Add(time.Second))
		readAll(c, nil)
	})
	s := dialT(t, fastOptions(ts.URL))
	var f Frame
	err := s.Next(context.Background(), &f)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || errors.Is(err, ErrAuthRejected) {
		t.Errorf("Next = %v, want the server's close 1001", err)
	}
}

// The tests below run the stream against spacetime-sim, the second,
// independent implementation of the wire format, in both profiles.

var telProfiles = []sim.Profile{sim.ProfileChecklist, sim.ProfileGodot}

func startTelSim(t *testing.T, profile sim.Profile, mods ...func(*sim.Options)) (*sim.Sim, string) {
	t.Helper()
	opts := sim.Options{
		Profile:          profile,
		APIAddress:       "127.0.0.1:0",
		TelemetryAddress: "127.0.0.1:0",
		ControlAddress:   "127.0.0.1:0",
		FPSInterval:      50 * time.Millisecond,
		TrackingInterval: 100 * time.Millisecond,
		PingInterval:     200 * time.Millisecond,
	}
	for _, m := range mods {
		m(&opts)
	}
	s, err := sim.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("sim.Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, "ws://" + s.Info().Telemetry + "/"
}

func patchT(t *testing.T, s *sim.Sim, patch string) {
	t.Helper()
	if err := s.PatchFaults([]byte(patch)); err != nil {
		t.Fatalf("PatchFaults(%s): %v", patch, err)
	}
}

// nextUntil reads frames until match accepts one, failing after within.
func nextUntil(t *testing.T, s *Stream, within time.Duration, what string, match func(*Frame) bool) Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var f Frame
	for {
		if err := s.Next(ctx, &f); err != nil {
			t.Fatalf("waiting %s for %s: %v (stats %+v)", within, what, err, s.Stats())
		}
		if match(&f) {
			return f
		}
	}
}

func isFPS(enc Encoding) func(*Frame) bool {
	return func(f *Frame) bool { return f.Kind == KindFPS && f.Encoding == enc }
}

func TestSimTelemetry(t *testing.T) {
	for _, profile := range telProfiles {
		t.Run(string(profile), func(t *testing.T) {
			sm, url := startTelSim(t, profile)
			// The first URL refuses, as 8081 does when the instance fell back
			// to a later port.
			s := dialT(t, fastOptions(refusedURL(t), url))
			if s.URL() != url {
				t.Fatalf("URL() = %q, want the sim's %q", s.URL(), url)
			}
			t.Run("stream contents", func(t *testing.T) {
				seen := map[Kind]bool{}
				nextUntil(t, s, 5*time.Second, "fps, vr_tracking and vr_initialized", func(f *Frame) bool {
					seen[f.Kind] = true
					if f.Kind == KindFPS {
						if f.FPS < 85 || f.FPS > 95 || !f.Has(FieldFrameTime) {
							t.Errorf("fps frame %+v, want about 90 fps with a frame time", *f)
						}
						if f.TimeSource != TimeUnixSeconds || time.Since(f.Time).Abs() > 5*time.Second {
							t.Errorf("fps frame time %v (%s), want now in Unix seconds", f.Time, f.TimeSource)
						}
					}
					return seen[KindFPS] && seen[KindVRTracking] && seen[KindVRInitialized]
				})
			})
			for _, enc := range []struct {
				fault string
				want  Encoding
			}{{"binary", EncodingBinaryFPS}, {"gzip", EncodingGzipJSON}, {"json", EncodingJSON}} {
				t.Run("encoding "+enc.fault, func(t *testing.T) {
					patchT(t, sm, `{"telemetry_encoding":"`+enc.fault+`"}`)
					defer patchT(t, sm, `{"telemetry_encoding":"json"}`)
					f := nextUntil(t, s, 5*time.Second, enc.fault+" fps frames", isFPS(enc.want))
					if f.FPS < 85 || f.FPS > 95 {
						t.Errorf("%s fps = %v, want about 90", enc.fault, f.FPS)
					}
					if enc.want == EncodingBinaryFPS && (f.LittleEndian || !f.Has(FieldFrameNumber|FieldPhysicsTime)) {
						t.Errorf("binary frame %+v, want big-endian with frame number and physics time", f)
					}
				})
			}
			for _, ts := range []struct {
				fault string
				want  TimeSource
			}{{"ms", TimeUnixMillis}, {"rfc3339", TimeRFC3339}, {"s", TimeUnixSeconds}} {
				t.Run("timestamps "+ts.fault, func(t *testing.T) {
					patchT(t, sm, `{"telemetry_timestamp":"`+ts.fault+`"}`)
					defer patchT(t, sm, `{"telemetry_timestamp":"s"}`)
					f := nextUntil(t, s, 5*time.Second, ts.fault+" timestamps", func(f *Frame) bool {
						return f.Kind == KindFPS && f.TimeSource == ts.want
					})
					if d := time.Since(f.Time).Abs(); d > 5*time.Second {
						t.Errorf("%s timestamp %v is %s from now", ts.fault, f.Time, d)
					}
				})
			}
			t.Run("garbage is counted and skipped", func(t *testing.T) {
				before := s.Stats().Invalid
				patchT(t, sm, `{"telemetry_garbage":true}`)
				defer patchT(t, sm, `{"telemetry_garbage":false}`)
				nextUntil(t, s, 5*time.Second, "invalid frames counted", func(f *Frame) bool { return s.Stats().Invalid > before })
				nextUntil(t, s, 5*time.Second, "fps after garbage", isFPS(EncodingJSON))
			})
			t.Run("events", func(t *testing.T) {
				sm.Emit(sim.Event{Name: "error", Data: map[string]any{"message": "Scene load failed", "details": "File not found"}})
				f := nextUntil(t, s, 5*time.Second, "the error event", func(f *Frame) bool { return f.Kind == KindError })
				if f.Message != "Scene load failed" || f.Details != "File not found" {
					t.Errorf("error frame %q / %q", f.Message, f.Details)
				}
			})
			t.Run("desktop fallback", func(t *testing.T) {
				patchT(t, sm, `{"vr_mode":"desktop_fallback"}`)
				defer patchT(t, sm, `{"vr_mode":"vr"}`)
				sm.Restart("") // clients hear the VR announcement again
				nextUntil(t, s, 5*time.Second, "the desktop fallback warning", func(f *Frame) bool { return f.Kind == KindDesktopFallback })
			})
		})
	}
}

func TestSimTelemetryFaults(t *testing.T) {
	for _, profile := range telProfiles {
		t.Run(string(profile), func(t *testing.T) {
			t.Run("silent stream detected", func(t *testing.T) {
				sm, url := startTelSim(t, profile)
				opts := fastOptions(url)
				opts.PongWait, opts.PingPeriod, opts.SilenceTimeout = 800*time.Millisecond, 200*time.Millisecond, 1500*time.Millisecond
				s := dialT(t, opts)
				nextUntil(t, s, 5*time.Second, "fps", isFPS(EncodingJSON))
				patchT(t, sm, `{"telemetry_silent":true}`)
				start := time.Now()
				var f Frame
				var err error
				for err == nil {
					err = s.Next(context.Background(), &f)
				}
				if !errors.Is(err, ErrSilent) && !errors.Is(err, ErrHeartbeatTimeout) {
					t.Fatalf("Next = %v, want ErrSilent or ErrHeartbeatTimeout", err)
				}
				if took := time.Since(start); took > opts.SilenceTimeout+2*time.Second {
					t.Errorf("silence detected after %s, want within SilenceTimeout %s", took, opts.SilenceTimeout)
				}
			})
			t.Run("fps fault visible within a second at the default interval", func(t *testing.T) {
				sm, url := startTelSim(t, profile, func(o *sim.Options) { o.FPSInterval = 0 }) // 500ms
				s := dialT(t, fastOptions(url))
				nextUntil(t, s, 5*time.Second, "about 90 fps", func(f *Frame) bool { return f.Kind == KindFPS && f.FPS > 85 })
				patchT(t, sm, `{"fps":60}`)
				start := time.Now()
				nextUntil(t, s, 5*time.Second, "about 60 fps", func(f *Frame) bool { return f.Kind == KindFPS && f.FPS > 55 && f.FPS < 65 })
				if took := time.Since(start); took > time.Second {
					t.Errorf("60 fps seen after %s, want within a second", took)
				}
			})
			t.Run("telemetry down refuses", func(t *testing.T) {
				sm, url := startTelSim(t, profile)
				patchT(t, sm, `{"telemetry_down":true}`)
				_, err := Dial(context.Background(), fastOptions(url))
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("Dial to a downed telemetry listener = %v, want connection refused", err)
				}
			})
		})
	}
}

func TestSimTelemetryAuth(t *testing.T) {
	sm, url := startTelSim(t, sim.ProfileGodot, func(o *sim.Options) { o.TelemetryAuth = true })
	t.Run("sim token accepted", func(t *testing.T) {
		opts := fastOptions(url)
		opts.Token = StaticToken(Secret(sm.Info().Token))
		s := dialT(t, opts)
		if f := nextT(t, s); f.Kind != KindAuthRequired {
			t.Fatalf("first frame %s, want auth_required", f.Kind)
		}
		nextUntil(t, s, 5*time.Second, "authenticated", func(f *Frame) bool { return f.Kind == KindAuthenticated })
		nextUntil(t, s, 5*time.Second, "fps after authentication", isFPS(EncodingJSON))
	})
	t.Run("wrong token rejected", func(t *testing.T) {
		opts := fastOptions(url)
		opts.Token = StaticToken(telSentinel)
		s := dialT(t, opts)
		var f Frame
		var err error
		for err == nil {
			err = s.Next(context.Background(), &f)
		}
		if !errors.Is(err, ErrAuthRejected) {
			t.Fatalf("Next = %v, want ErrAuthRejected", err)
		}
		if strings.Contains(err.Error(), telSentinel) {
			t.Errorf("error reveals the token: %v", err)
		}
	})
	t.Run("no token configured", func(t *testing.T) {
		s := dialT(t, fastOptions(url))
		var f Frame
		if err := s.Next(context.Background(), &f); !errors.Is(err, ErrNoAuthToken) {
			t.Fatalf("Next = %v, want ErrNoAuthToken", err)
		}
	})
}

// TestReadMessage: readMessage appends a whole message however the reader
// splits it, grows past its first capacity, reuses its array for a
// shorter message, and returns the reader's error (not io.EOF, the end).
func TestReadMessage(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 500) // 5000 bytes: grown from 512 several times
	msg, err := readMessage(nil, iotest.HalfReader(bytes.NewReader(big)))
	if err != nil || !bytes.Equal(msg, big) {
		t.Fatalf("readMessage(5000 bytes, half reads) = %d bytes, %v; want the message", len(msg), err)
	}
	small := []byte(telFPSJSON)
	again, err := readMessage(msg[:0], iotest.OneByteReader(bytes.NewReader(small)))
	if err != nil || !bytes.Equal(again, small) {
		t.Fatalf("readMessage(fps frame, byte by byte) = %q, %v; want the frame", again, err)
	}
	if &again[0] != &msg[0] {
		t.Error("a shorter message got a new array, want the old one reused")
	}
	boom := errors.New("boom")
	if _, err := readMessage(nil, io.MultiReader(bytes.NewReader(small), iotest.ErrReader(boom))); !errors.Is(err, boom) {
		t.Errorf("readMessage(failing reader) = %v, want its error", err)
	}
}

// TestStreamDropsGrownMessageBuffer: a Stream keeps its message buffer
// for the next frame, unless a large frame grew it past
// maxKeptMessageBuffer: that one is dropped once decoded, so a rare
// near-limit frame does not pin its buffer for the stream's life.
func TestStreamDropsGrownMessageBuffer(t *testing.T) {
	padded := func(n int) string { return strings.Repeat(" ", n) + telFPSJSON } // JSON allows the spaces
	frames := []struct {
		data           string
		minCap, maxCap int
	}{
		{padded(10 << 10), 10 << 10, maxKeptMessageBuffer}, // grown, kept
		{padded(maxKeptMessageBuffer + 1), 0, 0},           // grown past the bound: dropped
		{telFPSJSON, minMessageBuffer, minMessageBuffer},   // a new buffer of the first size
	}
	ts := startTelServer(t, func(c *websocket.Conn) {
		for _, fr := range frames {
			if c.WriteMessage(websocket.TextMessage, []byte(fr.data)) != nil {
				return
			}
		}
		readAll(c, nil)
	})
	s := dialT(t, fastOptions(ts.URL))
	for i, fr := range frames {
		if f := nextT(t, s); f.Kind != KindFPS || f.FPS != 90 {
			t.Fatalf("frame %d: %+v, want the fps frame", i+1, f)
		}
		if c := cap(s.msg); c < fr.minCap || c > fr.maxCap {
			t.Errorf("frame %d (%d bytes): buffer of %d bytes kept, want %d to %d", i+1, len(fr.data), c, fr.minCap, fr.maxCap)
		}
	}
}

// TestStreamReceivedClock: Frame.Received (and the Time of a frame without
// a timestamp) comes from StreamOptions.Now when it is another clock; with
// the real clock, nil or clock.Now, it is the reading Next takes for the
// deadlines, which isRealClock tells apart.
func TestStreamReceivedClock(t *testing.T) {
	ts := startTelServer(t, func(c *websocket.Conn) {
		c.WriteMessage(websocket.BinaryMessage, telBinaryFPS(binary.BigEndian, 1, 90, 11.1, 2))
		readAll(c, nil)
	})
	fake := testkit.NewClock(t)
	for _, tc := range []struct {
		name string
		now  func() time.Time
		real bool // isRealClock
		fake bool // Received is the test clock's reading, not the real one
	}{
		{"nil", nil, true, false},
		{"clock.Now", clock.Now, true, false},
		{"a test clock", fake.Now, false, true},
		{"a closure on the real clock", func() time.Time { return clock.Now() }, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isRealClock(tc.now); got != tc.real {
				t.Errorf("isRealClock = %v, want %v", got, tc.real)
			}
			opts := fastOptions(ts.URL)
			opts.Now = tc.now
			before := time.Now()
			f := nextT(t, dialT(t, opts))
			after := time.Now()
			if f.Time != f.Received || f.TimeSource != TimeReceived {
				t.Errorf("binary packet: Time %v (%s), want Received %v", f.Time, f.TimeSource, f.Received)
			}
			switch {
			case tc.fake && !f.Received.Equal(fake.Now()):
				t.Errorf("Received %v, want the test clock's %v", f.Received, fake.Now())
			case !tc.fake && (f.Received.Before(before) || f.Received.After(after)):
				t.Errorf("Received %v, want the real clock's, between %v and %v", f.Received, before, after)
			}
		})
	}
}
