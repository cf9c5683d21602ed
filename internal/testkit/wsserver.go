package testkit

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
)

// WSServer is a WebSocket server whose n-th connection (from 1) runs a
// handler: a telemetry stream's other end. When the test ends it closes
// every connection, refuses new ones and waits for the handlers.
type WSServer struct {
	// URL is the server's ws:// URL: a loopback port's, or, for a server
	// on pipes, one Dial ignores.
	URL string
	// Dial connects to a server on pipes (spacetime.StreamOptions.NetDial);
	// nil on loopback.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu      sync.Mutex
	n       int
	closing bool
	conns   []*websocket.Conn
	wg      sync.WaitGroup
}

// StartWSServer serves handle on a loopback port until the test ends.
func StartWSServer(t testing.TB, handle func(n int, c *websocket.Conn)) *WSServer {
	t.Helper()
	ws := &WSServer{}
	srv := httptest.NewServer(ws.upgrade(handle))
	ws.URL = "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	t.Cleanup(func() {
		ws.closeAll()
		srv.Close()
	})
	return ws
}

// StartWSPipeServer serves handle on in-memory connections (a PipeServer)
// until the test ends, for a stream inside a testing/synctest bubble: the
// stream dials with Dial.
func StartWSPipeServer(t testing.TB, handle func(n int, c *websocket.Conn)) *WSServer {
	t.Helper()
	ws := &WSServer{URL: "ws://vr.invalid:8081/"}
	ws.Dial = StartPipeServer(t, ws.upgrade(handle)).Dial
	t.Cleanup(ws.closeAll) // before the pipe server closes: hijacked connections are the handler's
	return ws
}

// upgrade is the server's handler: it upgrades each request and runs
// handle with the connection's number.
func (ws *WSServer) upgrade(handle func(n int, c *websocket.Conn)) http.Handler {
	up := websocket.Upgrader{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		ws.mu.Lock()
		if ws.closing {
			ws.mu.Unlock()
			c.Close()
			return
		}
		ws.n++
		n := ws.n
		ws.conns = append(ws.conns, c)
		ws.wg.Add(1)
		ws.mu.Unlock()
		defer ws.wg.Done()
		defer c.Close()
		handle(n, c)
	})
}

// closeAll closes the connections, refuses new ones and waits for the
// handlers.
func (ws *WSServer) closeAll() {
	ws.mu.Lock()
	ws.closing = true
	for _, c := range ws.conns {
		c.Close()
	}
	ws.mu.Unlock()
	ws.wg.Wait()
}
