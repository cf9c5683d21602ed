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
	// pipe makes a connection's two ends; nil means net.Pipe. A test of
	// Dial sets it to see the ends Dial does not return.
	pipe func() (client, server net.Conn)
}

// StartPipeServer serves h on a PipeServer until the test ends.
func StartPipeServer(t testing.TB, h http.Handler) *PipeServer {
	t.Helper()
	ps := &PipeServer{ln: newPipeListener()}
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
// network and address are ignored. When ctx ends or the server has closed
// first, Dial closes both ends and returns the reason.
func (ps *PipeServer) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	pipe := ps.pipe
	if pipe == nil {
		pipe = net.Pipe
	}
	client, server := pipe()
	var err error
	select {
	case ps.ln.conns <- server:
		return client, nil
	case <-ps.ln.done:
		err = net.ErrClosed
	case <-ctx.Done():
		err = ctx.Err()
	}
	_ = client.Close()
	_ = server.Close()
	return nil, err
}

// pipeListener is a net.Listener whose connections come from Dial.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for the next connection a Dial hands over, or for Close,
// after which it returns net.ErrClosed.
func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and any Dial waiting to hand over a connection; it
// may be called more than once.
func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns the address "pipe" of network "pipe": there is no real one.
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
