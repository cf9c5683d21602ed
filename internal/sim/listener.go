package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// switchableServer serves an http.Handler on a fixed address and can go
// down (listener and active connections closed, so that connects are
// refused) and come back up on the same address. Which state it should be in
// is a function of the fault settings; run watches them.
type switchableServer struct {
	name    string
	handler http.Handler
	// down reports whether the faults want the server down; nil: never.
	down func(Faults) bool
	// onDown runs after the server has closed, for connections http.Server
	// does not track (hijacked WebSockets).
	onDown func()
	// baseCtx is the context of every request: cancelled at Close, so that
	// slow handlers (api_latency_ms) end at once.
	baseCtx context.Context
	log     *zap.Logger

	mu     sync.Mutex
	addr   string       // the bound address, fixed by the first listen
	srv    *http.Server // nil while down
	ln     net.Listener // srv's listener
	closed bool         // set by shutdown: never up again
	serves sync.WaitGroup

	inflightMu sync.Mutex
	inflight   sync.WaitGroup
	draining   bool
}

// listenSwitchable binds addr (port 0 picks a free port, kept for later
// restarts) and starts serving h. baseCtx is every request's context.
func listenSwitchable(ctx, baseCtx context.Context, name, addr string, h http.Handler, log *zap.Logger) (*switchableServer, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener on %s: %w", name, addr, err)
	}
	s := &switchableServer{name: name, handler: h, baseCtx: baseCtx, log: log.With(zap.String("listener", name)), addr: ln.Addr().String()}
	s.serve(ln)
	return s, nil
}

// Addr returns the bound host:port.
func (s *switchableServer) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// ServeHTTP counts the request as in flight, so that shutdown can wait for it.
func (s *switchableServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.inflightMu.Lock()
	if s.draining {
		s.inflightMu.Unlock()
		return
	}
	s.inflight.Add(1)
	s.inflightMu.Unlock()
	defer s.inflight.Done()
	s.handler.ServeHTTP(w, r)
}

// serve starts an http.Server on ln; s.mu must be held or s not yet shared.
// A closed http.Server cannot be reused, so every "up" gets a new one.
func (s *switchableServer) serve(ln net.Listener) {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.baseCtx },
		ErrorLog:          zap.NewStdLog(s.log.WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
	}
	s.srv, s.ln = srv, ln
	s.serves.Add(1)
	go func() {
		defer s.serves.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Warn("serve ended", zap.Error(err))
		}
	}()
}

// sync brings the server up or down to match the faults. It reads them
// under s.mu, so that a caller holding a stale view cannot undo a newer
// change. Going up re-binds the same address, retrying for up to a second
// while the port is momentarily busy.
func (s *switchableServer) sync(ctx context.Context, faults *FaultState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	wantUp := s.down == nil || !s.down(faults.Get())
	if s.closed || wantUp == (s.srv != nil) {
		return nil
	}
	if !wantUp {
		s.takeDownLocked()
		s.log.Info("down (fault)")
		return nil
	}
	ln, err := listenRetry(ctx, s.addr)
	if err != nil {
		return fmt.Errorf("%s listener: back up on %s: %w", s.name, s.addr, err)
	}
	s.serve(ln)
	s.log.Info("up again")
	return nil
}

func (s *switchableServer) takeDownLocked() {
	if s.srv != nil {
		_ = s.srv.Close() // the listener and every tracked connection
		// Close the listener here too: http.Server.Close misses it when the
		// Serve goroutine has not registered it yet, and connects must be
		// refused when this returns.
		_ = s.ln.Close()
		s.srv, s.ln = nil, nil
	}
	if s.onDown != nil {
		s.onDown()
	}
}

func listenRetry(ctx context.Context, addr string) (net.Listener, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	for {
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
		if err == nil {
			return ln, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// run keeps the server in the state the faults ask for until ctx ends, then
// shuts it down for good and waits for its goroutines and handlers.
func (s *switchableServer) run(ctx context.Context, faults *FaultState) {
	defer s.shutdown()
	for {
		changed := faults.Changed()
		var retry <-chan time.Time
		if err := s.sync(ctx, faults); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("cannot come back up; retrying", zap.Error(err))
			retry = time.After(100 * time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-retry:
		}
	}
}

func (s *switchableServer) shutdown() {
	s.mu.Lock()
	s.closed = true
	s.takeDownLocked()
	s.mu.Unlock()
	s.serves.Wait()
	s.inflightMu.Lock()
	s.draining = true
	s.inflightMu.Unlock()
	s.inflight.Wait()
}
