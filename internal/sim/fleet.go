package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// FleetOptions configure StartFleet.
type FleetOptions struct {
	// Instances is how many instances to run, at least 1. Required.
	Instances int
	// Instance is every instance's options; its listen addresses are
	// ignored (each instance picks free loopback ports) and its control
	// API is the fleet's.
	Instance Options
	// ControlAddress is the fleet's one fault-control API (default
	// 127.0.0.1:8089; port 0 picks one).
	ControlAddress string
}

// MaxFleet bounds FleetOptions.Instances: each instance holds two
// listeners, and its watcher two connections, in one process.
const MaxFleet = 10_000

// Fleet is many simulated instances in one process, each with its own
// API and telemetry listeners and its own faults, named sim-0001,
// sim-0002, …, and one fault-control API for all of them. Close stops
// them all.
type Fleet struct {
	names    []string
	sims     map[string]*Sim
	handlers map[string]http.Handler // each instance's control API
	profile  Profile
	control  *http.Server
	addr     string
	done     chan struct{}
	log      *zap.Logger
}

// FleetName is the name of the fleet's i-th instance (from 0): sim-0001
// and on, as wide as n needs (at least four digits).
func FleetName(i, n int) string {
	return fmt.Sprintf("sim-%0*d", max(4, len(fmt.Sprint(n))), i+1)
}

// StartFleet starts opts.Instances instances on free loopback ports and the
// fleet's control API. ctx bounds only the start-up.
func StartFleet(ctx context.Context, opts FleetOptions) (*Fleet, error) {
	if opts.Instances < 1 || opts.Instances > MaxFleet {
		return nil, fmt.Errorf("sim: %w: instances must be 1 to %d, got %d", ErrInvalidOptions, MaxFleet, opts.Instances)
	}
	if opts.ControlAddress == "" {
		opts.ControlAddress = DefaultControlAddress
	}
	// Defaults filled once: the instances share their tokens, so that one
	// token file serves the whole target file.
	tmpl, err := withDefaults(opts.Instance)
	if err != nil {
		return nil, err
	}
	log := tmpl.Logger
	f := &Fleet{sims: map[string]*Sim{}, handlers: map[string]http.Handler{}, done: make(chan struct{}), log: log.Named("fleet"), profile: tmpl.Profile}
	for i := range opts.Instances {
		o := tmpl
		o.APIAddress, o.TelemetryAddress, o.ControlAddress = "127.0.0.1:0", "127.0.0.1:0", NoControl
		if o.Faults != nil {
			faults := *o.Faults // each instance's own
			o.Faults = &faults
		}
		name := FleetName(i, opts.Instances)
		o.Logger = log.With(zap.String("instance", name))
		s, err := Start(ctx, o)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("instance %s: %w", name, err)
		}
		f.names = append(f.names, name)
		f.sims[name], f.handlers[name] = s, s.controlHandler()
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", opts.ControlAddress)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("sim fleet: control listener: %w", err)
	}
	f.addr = l.Addr().String()
	f.control = &http.Server{Handler: f.controlHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(f.done)
		if err := f.control.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.log.Error("control API stopped", zap.Error(err))
		}
	}()
	f.log.Info("fleet started", zap.Int("instances", len(f.names)), zap.String("control", f.addr))
	return f, nil
}

// Close stops the control API and every instance.
func (f *Fleet) Close() error {
	if f.control != nil {
		_ = f.control.Close()
		<-f.done
		f.control = nil
	}
	var wg sync.WaitGroup
	for _, s := range f.sims {
		wg.Go(func() { _ = s.Close() })
	}
	wg.Wait()
	return nil
}

// Names lists the instances in order.
func (f *Fleet) Names() []string { return f.names }

// Sim returns the named instance.
func (f *Fleet) Sim(name string) (*Sim, bool) {
	s, ok := f.sims[name]
	return s, ok
}

// Infos returns each instance's Info in order, with its Name and the
// fleet's control address.
func (f *Fleet) Infos() []Info {
	out := make([]Info, 0, len(f.names))
	for _, name := range f.names {
		info := f.sims[name].Info()
		info.Name, info.Control = name, f.addr
		out = append(out, info)
	}
	return out
}

// TargetFile is a spacetime-watch target file (target_files) watching
// every instance. tokenFile is the file holding the instances' shared
// token, which each target names: the API token (token_file) in the
// checklist profile, the /performance token (performance_token_file) in
// the godot profile, whose API token is the JWT /status hands out.
func (f *Fleet) TargetFile(tokenFile string) []byte {
	key := "token_file"
	if f.profile == ProfileGodot {
		key = "performance_token_file"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# spacetime-sim fleet: %d instances, control API http://%s (?instance=NAME or all)\n", len(f.names), f.addr)
	for _, info := range f.Infos() {
		fmt.Fprintf(&b, "- name: %s\n  api_url: http://%s\n  telemetry_urls: [\"ws://%s/\"]\n", info.Name, info.API, info.Telemetry)
		if tokenFile != "" {
			fmt.Fprintf(&b, "  %s: %q\n", key, tokenFile)
		}
	}
	return b.Bytes()
}

// WriteTargetFile writes the shared token to path+".token" (mode 0600)
// and TargetFile naming it to path. Each is written to a temporary file
// and renamed, so that a watching daemon never reads half a file.
func (f *Fleet) WriteTargetFile(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	first := f.sims[f.names[0]]
	token := first.opts.Token
	if f.profile == ProfileGodot {
		token = first.opts.PerformanceToken
	}
	tokenFile := abs + ".token"
	if err := writeAtomic(tokenFile, []byte(token+"\n")); err != nil {
		return err
	}
	return writeAtomic(abs, f.TargetFile(tokenFile))
}

func writeAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// controlHandler serves the fleet's control API: each request of an
// instance's control API (GET/POST /faults, POST /restart, POST /events,
// GET /info, GET /stats) with ?instance=NAME for one instance or
// ?instance=all for every one. GET /info without instance lists every
// instance; GET /stats without instance sums them all.
func (f *Fleet) controlHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		which := r.URL.Query().Get("instance")
		switch {
		case which == "" && r.Method == http.MethodGet && r.URL.Path == "/info":
			writeControl(w, http.StatusOK, f.Infos())
		case which == "" && r.Method == http.MethodGet && r.URL.Path == "/stats":
			writeControl(w, http.StatusOK, f.Stats())
		case which == "":
			writeControlError(w, http.StatusBadRequest, fmt.Errorf("the fleet's control API needs ?instance=NAME (%s … %s) or ?instance=all", f.names[0], f.names[len(f.names)-1]))
		case which == "all":
			f.serveAll(w, r)
		default:
			h, ok := f.handlers[which]
			if !ok {
				writeControlError(w, http.StatusNotFound, fmt.Errorf("no instance %q: names run %s … %s", which, f.names[0], f.names[len(f.names)-1]))
				return
			}
			h.ServeHTTP(w, r)
		}
	})
}

// serveAll runs the request against every instance in order. It stops at
// the first one that refuses it, which is the first instance for a bad
// request: nothing changed anywhere. It answers {"instances": N}.
func (f *Fleet) serveAll(w http.ResponseWriter, r *http.Request) {
	body, ok := readControlBody(w, r)
	if !ok {
		return
	}
	for _, name := range f.names {
		req := r.Clone(r.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		f.handlers[name].ServeHTTP(rec, req)
		if rec.Code >= 300 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.Code)
			_, _ = w.Write([]byte(strings.TrimSpace(rec.Body.String()) + "\n"))
			return
		}
	}
	writeControl(w, http.StatusOK, map[string]any{"instances": len(f.names)})
}
