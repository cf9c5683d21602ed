// Command spacetime-sim behaves like a running SpaceTime VR instance (HTTP
// API, telemetry WebSocket) with a fault-control API, so that
// spacetime-watch, its tests, its demo and on-call drills have a target.
//
// At start it prints one JSON line on stdout with the bound addresses and
// the credentials a client needs; logs go to stderr. It exits 0 on SIGINT
// or SIGTERM, 3 on a bad flag or scenario, 1 when it cannot start.
//
// With --instances N (N > 1) or --target-file, it runs a fleet: N
// instances in one process, each on free loopback ports with its own
// faults, named sim-0001 and on, and one control API for all of them
// (--control.listen-address; ?instance=NAME or ?instance=all). It prints
// one JSON line per instance, in name order, each with its name and the
// shared control address, and writes --target-file for spacetime-watch's
// target_files.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1
	exitBadUsage = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args, starts the sim, prints its Info line on stdout and
// serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, fleet, code, err := parseFlags(args, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-sim: %v\n", err)
		return exitBadUsage
	}
	if code >= 0 { // --help or --version
		return code
	}
	logger := zap.New(zapcore.NewCore(
		zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.Lock(zapcore.AddSync(stderr)), zap.InfoLevel))
	defer func() { _ = logger.Sync() }()
	opts.Logger = logger
	if fleet.instances > 1 || fleet.targetFile != "" {
		return runFleet(ctx, opts, fleet, stdout, logger)
	}

	s, err := sim.Start(ctx, opts)
	if errors.Is(err, sim.ErrInvalidOptions) {
		fmt.Fprintf(stderr, "spacetime-sim: %v\n", err)
		return exitBadUsage
	}
	if err != nil {
		logger.Error("cannot start", zap.Error(err))
		return exitFailure
	}
	defer func() { _ = s.Close() }()
	// This line is the one place the tokens are printed: handing them to the
	// client is its purpose.
	if err := json.NewEncoder(stdout).Encode(s.Info()); err != nil {
		logger.Error("writing the info line", zap.Error(err))
		return exitFailure
	}
	<-ctx.Done()
	logger.Info("shutting down")
	return exitOK
}

// runFleet runs a fleet until ctx ends: one JSON line per instance on
// stdout, then the target file, if asked for.
func runFleet(ctx context.Context, opts sim.Options, fo fleetFlags, stdout io.Writer, logger *zap.Logger) int {
	f, err := sim.StartFleet(ctx, sim.FleetOptions{Instances: fo.instances, Instance: opts, ControlAddress: opts.ControlAddress})
	if err != nil {
		logger.Error("cannot start the fleet", zap.Error(err))
		return exitFailure
	}
	defer func() { _ = f.Close() }()
	enc := json.NewEncoder(stdout)
	for _, info := range f.Infos() {
		if err := enc.Encode(info); err != nil {
			logger.Error("writing the info lines", zap.Error(err))
			return exitFailure
		}
	}
	if fo.targetFile != "" {
		if err := f.WriteTargetFile(fo.targetFile); err != nil {
			logger.Error("cannot write the target file", zap.String("target_file", fo.targetFile), zap.Error(err))
			return exitFailure
		}
		logger.Info("target file written", zap.String("target_file", fo.targetFile), zap.Int("instances", fo.instances))
	}
	<-ctx.Done()
	logger.Info("shutting down")
	return exitOK
}

// fleetFlags are the flags that make a fleet.
type fleetFlags struct {
	instances  int
	targetFile string
}

// parseFlags turns the command line into Options. code is >= 0 when kingpin
// has already answered (--help).
func parseFlags(args []string, stdout, stderr io.Writer) (opts sim.Options, fleet fleetFlags, code int, err error) {
	code = -1
	app := kingpin.New("spacetime-sim", "A simulated SpaceTime VR instance: HTTP API, telemetry WebSocket and a fault-control API.").
		UsageWriter(stdout).ErrorWriter(stderr).
		Terminate(func(c int) { code = c })
	app.HelpFlag.Short('h')

	profile := app.Flag("profile", "Which server to behave like: checklist (the contract the deployment checklist describes) or godot (the shipped Godot server and its quirks).").
		Default(string(sim.ProfileChecklist)).Enum(string(sim.ProfileChecklist), string(sim.ProfileGodot))
	apiFlag := app.Flag("api.listen-address", "Address of the HTTP API (port 0 picks a free port). A fleet's instances each pick free loopback ports.").
		Default(sim.DefaultAPIAddress)
	apiFlag.StringVar(&opts.APIAddress)
	telemetryFlag := app.Flag("telemetry.listen-address", "Address of the telemetry WebSocket (path /).").
		Default(sim.DefaultTelemetryAddress)
	telemetryFlag.StringVar(&opts.TelemetryAddress)
	app.Flag("control.listen-address", "Address of the fault-control API (GET/POST /faults, POST /restart, POST /events); a fleet's one, for all its instances (?instance=NAME or ?instance=all).").
		Default(sim.DefaultControlAddress).StringVar(&opts.ControlAddress)
	app.Flag("instances", fmt.Sprintf("How many instances to run in this process (1 to %d); above 1 it is a fleet.", sim.MaxFleet)).
		Default("1").IntVar(&fleet.instances)
	app.Flag("target-file", "Write a spacetime-watch target file (target_files) watching the fleet's instances to this path, and their token to PATH.token.").
		StringVar(&fleet.targetFile)
	token := app.Flag("token", "API bearer token (checklist profile; default: generated). Prefer --token-file: command lines are visible to other users.").String()
	tokenFile := app.Flag("token-file", "File holding the API bearer token (checklist profile).").String()
	app.Flag("performance-token", "The 64-hex token of /performance (godot profile; default: generated).").
		StringVar(&opts.PerformanceToken)
	app.Flag("token-ttl", "Lifetime of the JWT (godot profile); it is never renewed, only a restart issues a new one.").
		Default(sim.DefaultTokenTTL.String()).SetValue(durationFlag{"token-ttl", &opts.TokenTTL})
	app.Flag("environment", "Environment /status reports (checklist profile; godot always says development).").
		Default(sim.DefaultEnvironment).StringVar(&opts.Environment)
	app.Flag("app-version", "Application version /status reports.").
		Default(sim.DefaultAppVersion).StringVar(&opts.AppVersion)
	app.Flag("telemetry-auth", "Require the auth_required/authenticate handshake on the telemetry stream.").
		BoolVar(&opts.TelemetryAuth)
	app.Flag("telemetry.fps-interval", "How often the telemetry stream sends an fps event.").
		Default(sim.DefaultFPSInterval.String()).SetValue(durationFlag{"telemetry.fps-interval", &opts.FPSInterval})
	app.Flag("telemetry.tracking-interval", "How often the telemetry stream sends a vr_tracking event.").
		Default(sim.DefaultTrackingInterval.String()).SetValue(durationFlag{"telemetry.tracking-interval", &opts.TrackingInterval})
	scenario := app.Flag("scenario", "YAML timeline of fault changes (- at: 30s / set: {fps: 60}) to run from start.").String()

	if _, err := app.Parse(args); err != nil {
		return opts, fleet, code, err
	}
	if code >= 0 {
		return opts, fleet, code, nil
	}
	if fleet.instances < 1 || fleet.instances > sim.MaxFleet {
		return opts, fleet, code, fmt.Errorf("--instances: want 1 to %d, got %d", sim.MaxFleet, fleet.instances)
	}
	if fleet.instances > 1 || fleet.targetFile != "" {
		for _, f := range []*kingpin.FlagClause{apiFlag, telemetryFlag} {
			if f.Model().Value.String() != f.Model().Default[0] {
				return opts, fleet, code, fmt.Errorf("--%s is refused with a fleet (--instances, --target-file): each instance picks free loopback ports", f.Model().Name)
			}
		}
	}
	opts.Profile = sim.Profile(*profile)

	switch {
	case *token != "" && *tokenFile != "":
		return opts, fleet, code, errors.New("--token and --token-file are exclusive: give one")
	case opts.Profile == sim.ProfileGodot && (*token != "" || *tokenFile != ""):
		return opts, fleet, code, errors.New("--token and --token-file are refused with --profile=godot: the shipped server signs a new JWT at each start and hands it out on GET /status (jwt_token); use --token-ttl to shape it")
	case opts.Profile == sim.ProfileChecklist && opts.PerformanceToken != "":
		return opts, fleet, code, errors.New("--performance-token applies to --profile=godot only: the checklist /performance takes the API token")
	}
	opts.Token = *token
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return opts, fleet, code, fmt.Errorf("--token-file: %w", err)
		}
		if opts.Token = strings.TrimSpace(string(b)); opts.Token == "" {
			return opts, fleet, code, fmt.Errorf("--token-file %s: the file is empty", *tokenFile)
		}
	}
	if *scenario != "" {
		if opts.Scenario, err = sim.LoadScenario(*scenario); err != nil {
			return opts, fleet, code, fmt.Errorf("--scenario: %w", err)
		}
	}
	return opts, fleet, code, nil
}

// durationFlag is a duration flag whose parse error names the flag
// (kingpin's own says only "time: invalid duration").
type durationFlag struct {
	name string
	d    *time.Duration
}

func (f durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("--%s: want a positive duration such as 30s or 1h, got %q", f.name, s)
	}
	*f.d = d
	return nil
}

func (f durationFlag) String() string { return f.d.String() }
