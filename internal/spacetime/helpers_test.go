package spacetime_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// t0 is the start of every fake clock: the suite's base date.
var t0 = testkit.MainBase()

// fakeClock is a settable clock shared by a sim and a client, so that token
// expiry and rate-limit refills happen exactly when a test says.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t0.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func jsonUnmarshalString(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// newClient builds a client for base with opts applied, failing the test on error.
func newClient(t *testing.T, base string, mods ...func(*spacetime.Options)) *spacetime.Client {
	t.Helper()
	opts := spacetime.Options{BaseURL: base, Timeout: 2 * time.Second}
	for _, m := range mods {
		m(&opts)
	}
	c, err := spacetime.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func withToken(src spacetime.TokenSource) func(*spacetime.Options) {
	return func(o *spacetime.Options) { o.Token = src }
}

// quirkSegment is jwt.gd's base64url: standard padding, then only ONE
// trailing "=" removed (docs/instance.md, "Tokens").
func quirkSegment(b []byte) string {
	return strings.TrimSuffix(base64.URLEncoding.EncodeToString(b), "=")
}

// makeJWT builds an unsigned-but-well-formed token as jwt.gd encodes it.
// The payload is padded to a length whose base64 ends in "==", so that the
// segment keeps one "=" (the padding quirk).
func makeJWT(iat, exp time.Time) string {
	payload := fmt.Sprintf(`{"type":"api_access","iat":%d,"exp":%d}`, iat.Unix(), exp.Unix())
	for len(payload)%3 != 1 {
		payload = "{ " + payload[1:]
	}
	return quirkSegment([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + quirkSegment([]byte(payload)) + "." + quirkSegment([]byte("signature-bytes-0123456789abcdef"))
}

// simEnv is a running simulated instance and what a client needs to reach it.
type simEnv struct {
	sim   *sim.Sim
	info  sim.Info
	clock *fakeClock
	base  string
}

var profiles = []sim.Profile{sim.ProfileChecklist, sim.ProfileGodot}

// startSim starts a sim of profile on loopback with a fake clock.
func startSim(t *testing.T, profile sim.Profile, mods ...func(*sim.Options)) *simEnv {
	t.Helper()
	clock := newFakeClock()
	opts := sim.Options{
		Profile:          profile,
		APIAddress:       "127.0.0.1:0",
		TelemetryAddress: "127.0.0.1:0",
		ControlAddress:   "127.0.0.1:0",
		Now:              clock.Now,
	}
	for _, m := range mods {
		m(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sim.Start(ctx, opts)
	if err != nil {
		t.Fatalf("sim.Start(%s): %v", profile, err)
	}
	t.Cleanup(func() { s.Close() })
	info := s.Info()
	return &simEnv{sim: s, info: info, clock: clock, base: "http://" + info.API}
}

// client returns the client the daemon would configure for this profile:
// the static token in checklist; in godot the JWT from /status and the
// separate /performance token.
func (e *simEnv) client(t *testing.T, mods ...func(*spacetime.Options)) *spacetime.Client {
	t.Helper()
	all := []func(*spacetime.Options){func(o *spacetime.Options) {
		o.Now = e.clock.Now
		if e.info.PerformanceToken != "" {
			o.Token = spacetime.StatusToken()
			o.PerformanceToken = spacetime.StaticToken(spacetime.Secret(e.info.PerformanceToken))
		} else {
			o.Token = spacetime.StaticToken(spacetime.Secret(e.info.Token))
		}
	}}
	return newClient(t, e.base, append(all, mods...)...)
}

func (e *simEnv) patch(t *testing.T, faults string) {
	t.Helper()
	if err := e.sim.PatchFaults([]byte(faults)); err != nil {
		t.Fatalf("PatchFaults(%s): %v", faults, err)
	}
}

// countingSource yields tokens[i], moving to the next one at each
// Invalidate (and staying on the last), and counts calls.
type countingSource struct {
	mu          sync.Mutex
	tokens      []spacetime.Secret
	i           int
	calls       int
	invalidates int
}

func (s *countingSource) Token(context.Context) (spacetime.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.tokens[s.i], nil
}

func (s *countingSource) Invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidates++
	if s.i < len(s.tokens)-1 {
		s.i++
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
