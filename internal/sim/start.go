package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Defaults of Options.
const (
	DefaultAPIAddress       = "127.0.0.1:8080"
	DefaultTelemetryAddress = "127.0.0.1:8081"
	DefaultControlAddress   = "127.0.0.1:8089"
	DefaultTokenTTL         = time.Hour
	DefaultEnvironment      = "production"
	DefaultAppVersion       = "1.0.0"
	DefaultFPSInterval      = 500 * time.Millisecond
	DefaultTrackingInterval = 100 * time.Millisecond
	DefaultPingInterval     = 30 * time.Second
)

// ErrInvalidOptions is wrapped by every error Start returns for Options it
// refuses (as opposed to a listener it cannot bind).
var ErrInvalidOptions = errors.New("invalid options")

// withDefaults fills the zero fields of opts and checks the rest.
func withDefaults(opts Options) (Options, error) {
	if opts.Profile == "" {
		opts.Profile = ProfileChecklist
	}
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&opts.APIAddress, DefaultAPIAddress)
	def(&opts.TelemetryAddress, DefaultTelemetryAddress)
	def(&opts.ControlAddress, DefaultControlAddress)
	def(&opts.Environment, DefaultEnvironment)
	def(&opts.AppVersion, DefaultAppVersion)
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defDur(&opts.TokenTTL, DefaultTokenTTL)
	defDur(&opts.FPSInterval, DefaultFPSInterval)
	defDur(&opts.TrackingInterval, DefaultTrackingInterval)
	defDur(&opts.PingInterval, DefaultPingInterval)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Faults == nil {
		f := DefaultFaults(opts.Environment)
		opts.Faults = &f
	} else if err := opts.Faults.validate(); err != nil {
		return opts, fmt.Errorf("sim: %w: initial faults: %w", ErrInvalidOptions, err)
	}
	for name, d := range map[string]time.Duration{"TokenTTL": opts.TokenTTL, "FPSInterval": opts.FPSInterval, "TrackingInterval": opts.TrackingInterval, "PingInterval": opts.PingInterval} {
		if d < 0 {
			return opts, fmt.Errorf("sim: %w: %s must not be negative, got %v", ErrInvalidOptions, name, d)
		}
	}

	switch opts.Profile {
	case ProfileChecklist:
		if opts.PerformanceToken != "" {
			return opts, fmt.Errorf("sim: %w: a performance token applies to the godot profile only (checklist's /performance takes the API token)", ErrInvalidOptions)
		}
		if strings.TrimSpace(opts.Token) != opts.Token {
			return opts, fmt.Errorf("sim: %w: the API token must not start or end with white space", ErrInvalidOptions)
		}
		def(&opts.Token, randomHex(32))
	case ProfileGodot:
		if opts.Token != "" {
			return opts, fmt.Errorf("sim: %w: a static API token cannot be set in the godot profile: the shipped server signs a new JWT at each start and hands it out on GET /status (jwt_token)", ErrInvalidOptions)
		}
		def(&opts.PerformanceToken, randomHex(32))
		if !isHex64(opts.PerformanceToken) {
			return opts, fmt.Errorf("sim: %w: the performance token must be 64 hex characters, as security_config_optimized.gd generates", ErrInvalidOptions)
		}
	default:
		return opts, fmt.Errorf("sim: %w: unknown profile %q (want %q or %q)", ErrInvalidOptions, opts.Profile, ProfileChecklist, ProfileGodot)
	}
	return opts, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand crashes the program instead)
	return hex.EncodeToString(b)
}

func isHex64(s string) bool {
	_, err := hex.DecodeString(s)
	return len(s) == 64 && err == nil
}

// Start binds the three listeners and runs a simulated instance until
// Close. ctx bounds only the start-up (binding); the instance outlives it.
// A scenario in opts starts its clock now.
func Start(ctx context.Context, opts Options) (*Sim, error) {
	opts, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	s := &Sim{opts: opts, log: opts.Logger.Named("sim")}
	s.faults = NewFaultState(*opts.Faults, opts.Now)
	s.instance = newInstance(opts, opts.AppVersion, opts.Now())
	s.telemetry = newTelemetryServer(s)

	runCtx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	var servers []*switchableServer
	fail := func(err error) (*Sim, error) {
		for _, srv := range servers {
			srv.shutdown()
		}
		cancel()
		return nil, err
	}
	if opts.ControlAddress != NoControl {
		if s.control, err = listenSwitchable(ctx, runCtx, "control", opts.ControlAddress, s.controlHandler(), s.log); err != nil {
			return fail(err)
		}
		servers = append(servers, s.control)
	}
	if s.api, err = listenSwitchable(ctx, runCtx, "api", opts.APIAddress, s.apiHandler(), s.log); err != nil {
		return fail(err)
	}
	servers = append(servers, s.api)
	s.api.down = func(f Faults) bool { return f.APIDown }
	if s.telemetryListener, err = listenSwitchable(ctx, runCtx, "telemetry", opts.TelemetryAddress, s.telemetry, s.log); err != nil {
		return fail(err)
	}
	servers = append(servers, s.telemetryListener)
	s.telemetryListener.down = func(f Faults) bool { return f.TelemetryDown }
	s.telemetryListener.onDown = s.telemetry.closeAll

	// Apply a start-up fault (api_down, telemetry_down) before anyone connects.
	s.syncListeners(ctx)
	for _, srv := range servers {
		s.wg.Go(func() { srv.run(runCtx, s.faults) })
	}
	if len(opts.Scenario) > 0 {
		start := time.Now()
		s.wg.Go(func() { s.runScenario(runCtx, opts.Scenario, start) })
	}
	s.log.Info("started", zap.String("profile", string(opts.Profile)),
		zap.String("api", s.api.Addr()), zap.String("telemetry", s.telemetryListener.Addr()), zap.String("control", s.Info().Control))
	return s, nil
}

// Close stops the listeners, the telemetry connections and the scenario,
// and waits for every goroutine of the sim. It is safe to call twice.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		s.wg.Wait()
		s.log.Info("stopped")
	})
	return nil
}

// Info returns the bound addresses and the credentials a client needs now
// (in the godot profile the token is the current JWT, new at each restart).
func (s *Sim) Info() Info {
	info := Info{
		API:       s.api.Addr(),
		Telemetry: s.telemetryListener.Addr(),
		Token:     s.currentToken(),
	}
	if s.control != nil {
		info.Control = s.control.Addr()
	}
	if s.opts.Profile == ProfileGodot {
		info.PerformanceToken = s.opts.PerformanceToken
	}
	return info
}

// Faults returns the current fault settings.
func (s *Sim) Faults() Faults { return s.faults.Get() }

// PatchFaults applies a JSON object of fault fields, as POST /faults does:
// an unknown field, a wrong type or an impossible value is refused with an
// error naming it, and nothing changes. Listener faults take effect before
// it returns.
func (s *Sim) PatchFaults(patch []byte) error {
	if err := s.faults.Patch(patch); err != nil {
		return err
	}
	s.syncListeners(context.Background())
	return nil
}

// UpdateFaults changes the fault settings in Go; an invalid result is
// refused and nothing changes. Listener faults take effect before it returns.
func (s *Sim) UpdateFaults(fn func(*Faults)) error {
	if err := s.faults.Update(fn); err != nil {
		return err
	}
	s.syncListeners(context.Background())
	return nil
}

// syncListeners brings api and telemetry up or down at once, so that a
// fault change is in force when the call that made it returns (the
// watchers in run would get there a moment later).
func (s *Sim) syncListeners(ctx context.Context) {
	for _, srv := range []*switchableServer{s.api, s.telemetryListener} {
		if err := srv.sync(ctx, s.faults); err != nil {
			s.log.Warn("listener change delayed", zap.Error(err))
		}
	}
}

// Restart simulates a process restart: uptime, counters, rate-limit buckets
// and scene history start again, the restart count goes up by one, the
// version becomes version (unless empty), the godot profile signs a new JWT
// with a new secret, and the token_expired fault clears (a new process has a
// new token). Fault settings otherwise stay: they describe the world, not the
// process. Telemetry clients stay connected and hear the VR announcement
// again.
func (s *Sim) Restart(version string) {
	s.mu.Lock()
	if version == "" {
		version = s.instance.version
	}
	s.instance = newInstance(s.opts, version, s.now())
	s.restarts++
	s.mu.Unlock()
	if err := s.UpdateFaults(func(f *Faults) { f.TokenExpired = false }); err != nil {
		s.log.Error("restart: clearing token_expired", zap.Error(err))
	}
	s.log.Info("restarted", zap.String("version", version))
	s.telemetry.announceVR()
}

// Emit broadcasts ev to every telemetry client ("event" when Type is empty).
func (s *Sim) Emit(ev Event) {
	if ev.Type == "" {
		ev.Type = "event"
	}
	if ev.Data == nil {
		ev.Data = map[string]any{}
	}
	s.events.publish(ev)
}

// inst returns the current process's state.
func (s *Sim) inst() *instanceState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.instance
}

func (s *Sim) restartCount() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// now is the sim's clock (Options.Now).
func (s *Sim) now() time.Time { return s.opts.Now() }

// currentToken is the bearer token a client would use now: the JWT in the
// godot profile, the static token in checklist.
func (s *Sim) currentToken() string {
	if s.opts.Profile == ProfileGodot {
		return s.inst().jwt
	}
	return s.opts.Token
}
