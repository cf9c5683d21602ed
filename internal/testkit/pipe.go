package testkit

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
)

// PipeServer serves HTTP (a WebSocket upgrade, say) on in-memory
// connections (net.Pipe), for a client inside a testing/synctest bubble,
// where loopback sockets are not allowed: the client dials with Dial (as
// spacetime.StreamOptions.NetDial), whatever the address. Cleanup closes
// the server; it does not close connections a handler hijacked.
type PipeServer struct {
	ln *pipeListener
}

// StartPipeServer serves h on a PipeServer until the test ends.
func StartPipeServer(t testing.TB, h http.Handler) *PipeServer {
	t.Helper()
	ps := &PipeServer{ln: &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}}
	srv := &http.Server{Handler: h}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ps.ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-served
	})
	return ps
}

// Dial hands the server one end of a new pipe and returns the other; the
// network and address are ignored.
func (ps *PipeServer) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case ps.ln.conns <- server:
		return client, nil
	case <-ps.ln.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pipeListener is a net.Listener whose connections come from Dial.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
