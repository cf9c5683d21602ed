package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
)

// DemoOptions are the `demo` command's flags.
type DemoOptions struct {
	// Log is --log.level and --log.format. The logs go to a file whose
	// path the demo prints, unless LogToStderr.
	Log LogOptions
	// LogToStderr is set when --log.level was given: the logs then go to
	// stderr, at that level, beside the narration.
	LogToStderr bool
	// Duration stops the demo early; 0 runs the whole story (demoEnd).
	Duration time.Duration
	// Scale is how many times as fast as the wall clock the story runs.
	// Default config.DefaultDemoScale.
	Scale float64
	// Terminal is where the narration is shown: it is wrapped to its width.
	Terminal Terminal
	// TempDir is where the demo's temporary dir (the state, the config, the
	// instance's token) and its log file go. Default os.TempDir().
	TempDir string
	// Ready, when set, is called with the daemon's base URL once it
	// serves (tests).
	Ready func(baseURL string)
}

// demoConfig watches the embedded instance with the checklist's defaults.
// The daemon and the simulated instance run on one scaled clock, so that
// every duration here is the deployment's time (an hour passes in a
// minute at the default scale) except the I/O timeouts, which stay real.
const demoConfig = `# spacetime-watch demo: the checklist's defaults on a scaled clock.
alerting:
  # A demo deployment has just started: no grace for warnings.
  grace_period: 0s
  sinks:
    - name: console
      type: console
  inhibit_rules:
    # The FPS and memory rules already say what check 10 (thresholds) would.
    - source_matchers: ['alert=~"fps_.*|memory_.*"']
      target_matchers: ['alert="check_thresholds"']
defaults:
  checks: {threshold_window: 2m}
  # A leak shows within minutes of story time.
  thresholds:
    memory: {growth_mb_per_min: 2, growth_window: 10m}
  telemetry: {down_for: 30m}
targets:
  # The stock Godot server: its API token (a JWT) comes from GET /status,
  # /performance takes a token of its own, there is no /health, and it
  # reports the development environment.
  - name: demo
    api_url: http://%s
    telemetry_urls: [ws://%s/]
    performance_token_file: %s
    expected: {environment: development}
    known_gaps:
      - {check: health, reason: the stock Godot server does not serve /health}
`

// Demo runs the daemon against an embedded simulated instance, both on one
// scaled clock, plays the story (demoStory) on the instance, and narrates
// it on stdout: where things are, each fault and why, each alert and
// review as the console sink renders them, and a summary.
func Demo(ctx context.Context, o DemoOptions, stdout, stderr io.Writer) int {
	if o.Scale == 0 {
		o.Scale = config.DefaultDemoScale
	}
	switch {
	case o.Duration < 0:
		fmt.Fprintln(stderr, "spacetime-watch: --duration must not be negative (0 runs the whole story)")
		return ExitBadConfig
	case o.Scale < 1:
		fmt.Fprintf(stderr, "spacetime-watch: --scale %g: want 1 (real time) or more (%d: an hour a minute)\n", o.Scale, config.DefaultDemoScale)
		return ExitBadConfig
	}
	var logFile *os.File
	logTo := stderr
	if !o.LogToStderr {
		f, err := os.CreateTemp(o.TempDir, "spacetime-watch-demo-*.log")
		if err != nil {
			fmt.Fprintf(stderr, "spacetime-watch: cannot create the demo's log file: %v (--log.level=info logs to stderr instead)\n", err)
			return ExitError
		}
		defer f.Close()
		logFile, logTo = f, f
	}
	log, err := o.Log.logger(logTo)
	if err != nil {
		if logFile != nil {
			_ = os.Remove(logFile.Name())
		}
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitBadConfig
	}
	defer func() { _ = log.Sync() }()

	dir, err := os.MkdirTemp(o.TempDir, "spacetime-watch-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	story := clock.NewScaled(clock.Now(), o.Scale, nil)
	inst, err := sim.Start(ctx, sim.Options{
		Profile:          sim.ProfileGodot,
		TokenTTL:         demoTokenTTL,
		APIAddress:       "127.0.0.1:0",
		TelemetryAddress: "127.0.0.1:0",
		ControlAddress:   "127.0.0.1:0",
		Now:              story.Now,
		// Frames close enough in story time for the rules to count them
		// as continuous (config.RuleMaxGap), at any scale.
		FPSInterval: min(sim.DefaultFPSInterval, story.Wait(config.RuleMaxGap)/3),
		Logger:      log.Named("sim"),
	})
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: cannot start the simulated instance: %v\n", err)
		return ExitError
	}
	defer inst.Close()
	info := inst.Info()

	tokenFile := filepath.Join(dir, "performance-token")
	configFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(tokenFile, []byte(info.PerformanceToken+"\n"), 0o600); err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	if err := os.WriteFile(configFile, fmt.Appendf(nil, demoConfig, info.API, info.Telemetry, tokenFile), 0o600); err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	base := "http://" + listener.Addr().String()

	out := newNarrator(stdout, story, o.Terminal.width())
	out.intro(o.Scale, base, logFile, info)
	end := demoEnd
	if o.Duration > 0 {
		end = min(end, time.Duration(float64(o.Duration)*o.Scale))
	}
	client, err := daemon.NewClient(base, "")
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	st := stage{inst: inst, tokenFile: tokenFile, daemon: client}
	var wg sync.WaitGroup
	var finished bool
	tuneGC(os.Getenv, log)
	err = daemon.Run(ctx, daemon.Options{
		ConfigFile: configFile,
		StateDir:   filepath.Join(dir, "state"),
		Listener:   listener,
		Logger:     log,
		Registry:   prometheus.NewRegistry(),
		Console:    out, // the console sink: where a deployment would post to Slack
		Now:        story.Now,
		Wait:       story.Wait,
		Ready: func(net.Addr) {
			if o.Ready != nil {
				o.Ready(base)
			}
			wg.Go(func() {
				finished = playStory(ctx, demoStory, end, story, st, out) && end == demoEnd
				cancel() // the story is over: stop the daemon
			})
		},
	})
	cancel()
	wg.Wait()
	if code := exitFor(err, log); code != ExitOK {
		fmt.Fprintf(stderr, "spacetime-watch demo: the daemon stopped: %v\n", err)
		return code
	}
	out.summary(finished, logFile)
	return ExitOK
}
