package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// probeServer is a scripted telemetry server: on each connection it
// optionally asks for authentication, sends the opening frames, then (if
// fps) an fps frame every 10 ms until the client leaves, the test ends or
// closeAfter frames were sent.
type probeServer struct {
	auth       bool     // send auth_required and wait for authenticate
	opening    []string // events sent first, e.g. vr_initialized
	fps        bool
	closeAfter int // close the first connection after this many fps frames (0: never)

	conns    atomic.Int32
	gotToken atomic.Value // the token of the last authenticate command
	done     chan struct{}
	srv      *httptest.Server
}

func startProbeServer(t *testing.T, ps *probeServer) string {
	t.Helper()
	ps.done = make(chan struct{})
	up := websocket.Upgrader{}
	var wg sync.WaitGroup
	ps.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		n := ps.conns.Add(1)
		wg.Add(1)
		defer wg.Done()
		defer conn.Close()
		ps.serve(conn, n == 1)
	}))
	t.Cleanup(func() {
		close(ps.done)
		ps.srv.Close()
		wg.Wait()
	})
	return "ws" + strings.TrimPrefix(ps.srv.URL, "http") + "/"
}

func (ps *probeServer) serve(conn *websocket.Conn, first bool) {
	send := func(event string, data any) error {
		b, _ := json.Marshal(map[string]any{"type": "event", "event": event, "timestamp": float64(time.Now().UnixMilli()) / 1000, "data": data})
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		return conn.WriteMessage(websocket.TextMessage, b)
	}
	// Drain client messages (pings, commands) so that control frames are handled.
	cmds := make(chan string, 4)
	go func() {
		defer close(cmds)
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			select {
			case cmds <- string(msg):
			default:
			}
		}
	}()
	if ps.auth {
		if send("auth_required", map[string]any{"timeout_seconds": 10}) != nil {
			return
		}
		select {
		case msg := <-cmds:
			var cmd struct{ Command, Token string }
			_ = json.Unmarshal([]byte(msg), &cmd)
			ps.gotToken.Store(cmd.Token)
		case <-ps.done:
			return
		}
		if send("authenticated", map[string]any{"authenticated": true}) != nil {
			return
		}
	}
	for _, ev := range ps.opening {
		if send(ev, map[string]any{}) != nil {
			return
		}
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for sent := 0; ; {
		select {
		case <-ps.done:
			return
		case _, ok := <-cmds:
			if !ok {
				return // the client left
			}
		case <-tick.C:
			if !ps.fps {
				continue
			}
			if send("fps", map[string]any{"fps": 90.0, "memory_usage_mb": 310.5}) != nil {
				return
			}
			sent++
			if first && ps.closeAfter > 0 && sent >= ps.closeAfter {
				return
			}
		}
	}
}

func newTestProbe(t *testing.T, url string, token spacetime.TokenSource) *DialProbe {
	t.Helper()
	p := NewDialProbe(spacetime.StreamOptions{URLs: []string{url}, DialTimeout: time.Second, Token: token}, nil)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// TestDialProbeOneConnection: checks 4 and 10 share one connection, and
// the window's samples carry FPS and memory.
func TestDialProbeOneConnection(t *testing.T) {
	t.Parallel()
	ps := &probeServer{opening: []string{"vr_initialized"}, fps: true}
	p := newTestProbe(t, startProbeServer(t, ps), nil)
	ctx := context.Background()

	f, err := p.FirstDataFrame(ctx, 2*time.Second)
	if err != nil || f.Kind != spacetime.KindFPS {
		t.Fatalf("FirstDataFrame: %v, kind %s", err, f.Kind)
	}
	samples, err := p.Window(ctx, 200*time.Millisecond)
	if err != nil {
		t.Fatalf("Window: %v", err)
	}
	if len(samples) < 5 {
		t.Fatalf("%d samples in 200ms of a 100 Hz stream", len(samples))
	}
	for _, s := range samples {
		if !s.HasFPS || s.FPS != 90 || !s.HasMemory || s.MemoryMB != 310.5 || s.At.IsZero() {
			t.Fatalf("sample %+v", s)
		}
	}
	if again, err := p.FirstDataFrame(ctx, time.Second); err != nil || again.Kind != spacetime.KindFPS {
		t.Errorf("second FirstDataFrame: %v", err)
	}
	if n := ps.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestDialProbeAuthRequiredIsNoData: auth_required is answered with the
// token and does not count as a data frame.
func TestDialProbeAuthRequiredIsNoData(t *testing.T) {
	t.Parallel()
	ps := &probeServer{auth: true, fps: true}
	p := newTestProbe(t, startProbeServer(t, ps), spacetime.StaticToken("telemetry-token-0123456789"))
	f, err := p.FirstDataFrame(context.Background(), 2*time.Second)
	if err != nil || f.Kind != spacetime.KindFPS {
		t.Fatalf("FirstDataFrame: %v, kind %s", err, f.Kind)
	}
	if got, _ := ps.gotToken.Load().(string); got != "telemetry-token-0123456789" {
		t.Errorf("server got token %q", got)
	}
}

// TestDialProbeNoDataFrame names what arrived instead of a data frame.
func TestDialProbeNoDataFrame(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		ps      *probeServer
		wantErr string
	}{
		{"only events", &probeServer{opening: []string{"vr_initialized"}}, "no fps or vr_tracking frame within 150ms (only vr_initialized)"},
		{"only auth_required", &probeServer{auth: true}, "no fps or vr_tracking frame within 150ms (only auth_required"},
		{"nothing", &probeServer{}, "but no frame at all within 150ms: the stream is silent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var tok spacetime.TokenSource
			if tc.ps.auth {
				tok = spacetime.StaticToken("telemetry-token-0123456789")
			}
			p := newTestProbe(t, startProbeServer(t, tc.ps), tok)
			_, err := p.FirstDataFrame(context.Background(), 150*time.Millisecond)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestDialProbeRedialsAfterEnd: a window cut short by the server says so,
// and the next call dials again.
func TestDialProbeRedialsAfterEnd(t *testing.T) {
	t.Parallel()
	ps := &probeServer{fps: true, closeAfter: 3}
	p := newTestProbe(t, startProbeServer(t, ps), nil)
	ctx := context.Background()
	samples, err := p.Window(ctx, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "the stream ended") {
		t.Fatalf("Window: %v, want the stream's end", err)
	}
	if len(samples) == 0 || len(samples) > 3 {
		t.Errorf("%d samples before the end, want 1–3", len(samples))
	}
	if _, err := p.FirstDataFrame(ctx, 2*time.Second); err != nil {
		t.Fatalf("after the end: %v", err)
	}
	if n := ps.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (one redial)", n)
	}
}

// TestDialProbeRefused names the usual cause of a refused dial.
func TestDialProbeRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	p := newTestProbe(t, "ws://"+addr+"/", nil)
	_, err = p.FirstDataFrame(context.Background(), time.Second)
	want := "connection refused on ws://" + addr + "/: the telemetry server is not running"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err %v, want %q", err, want)
	}
	var de *spacetime.DialError
	if !errors.As(err, &de) {
		t.Errorf("the error does not wrap the *spacetime.DialError")
	}
	if _, err := p.Window(context.Background(), time.Millisecond); err == nil {
		t.Errorf("Window on a refused stream returned no error")
	}
}

// TestDialProbeClose: Close ends the reader (goleak checks it), may be
// called twice, and later calls fail.
func TestDialProbeClose(t *testing.T) {
	t.Parallel()
	ps := &probeServer{fps: true}
	p := newTestProbe(t, startProbeServer(t, ps), nil)
	if _, err := p.FirstDataFrame(context.Background(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.FirstDataFrame(context.Background(), time.Second); !errors.Is(err, ErrProbeClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, err := p.Window(context.Background(), time.Second); !errors.Is(err, ErrProbeClosed) {
		t.Errorf("Window after Close: %v", err)
	}
}

// TestDialProbeWindowCancelled returns what it has when ctx ends.
func TestDialProbeWindowCancelled(t *testing.T) {
	t.Parallel()
	p := newTestProbe(t, startProbeServer(t, &probeServer{fps: true}), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	samples, err := p.Window(ctx, time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) || len(samples) == 0 {
		t.Errorf("Window: %d samples, %v", len(samples), err)
	}
}
