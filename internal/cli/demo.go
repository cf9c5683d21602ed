package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
)

// DemoOptions are the `demo` command's flags.
type DemoOptions struct {
	Log LogOptions
	// Duration stops the demo by itself; 0 runs until interrupted.
	Duration time.Duration
	// Story is the fault timeline; default demoStory.
	Story string
	// Ready, when set, is called with the metrics URL (tests).
	Ready func(metricsURL string)
}

// demoStory is the scripted fault story: FPS drops to ~60 at 20 s and
// recovers at 50 s, so that a rule fires and resolves within 90 s.
const demoStory = `
- at: 20s
  set: {fps: 60}
- at: 50s
  set: {fps: 90}
`

// demoConfig watches the embedded instance with the checklist's thresholds,
// on a faster clock: checks every 15 s, rules that hold for 10 s.
const demoConfig = `# spacetime-watch demo: the checklist's thresholds on a faster clock.
alerting:
  # A demo deployment has just started: no grace for warnings, and groups
  # flushed quickly so that alerts show as they happen.
  group_wait: 1s
  group_interval: 5s
  grace_period: 0s
  sinks:
    - name: console
      type: console
defaults:
  # The hour-1/4/24 reviews, compressed: the first one shows at 2:00.
  reviews: {offsets: [2m, 4m, 24m]}
  schedule: {interval: 15s, timeout: 14s}
  checks: {request_timeout: 3s, telemetry_timeout: 5s}
  thresholds:
    fps: {for: 10s}
    memory: {for: 10s}
targets:
  - name: demo
    api_url: http://%s
    telemetry_urls: [ws://%s/]
    token_file: %s
`

// Demo runs the daemon against an embedded simulated instance and narrates
// what happens on stdout.
func Demo(ctx context.Context, o DemoOptions, stdout, stderr io.Writer) int {
	if o.Duration < 0 {
		fmt.Fprintln(stderr, "spacetime-watch: --duration must not be negative")
		return ExitBadConfig
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	log, err := o.Log.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitBadConfig
	}
	defer func() { _ = log.Sync() }()

	story := o.Story
	if story == "" {
		story = demoStory
	}
	scenario, err := sim.ParseScenario("demo story", []byte(story))
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitBadConfig
	}
	dir, err := os.MkdirTemp("", "spacetime-watch-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	defer os.RemoveAll(dir)

	inst, err := sim.Start(ctx, sim.Options{
		Profile:          sim.ProfileChecklist,
		APIAddress:       "127.0.0.1:0",
		TelemetryAddress: "127.0.0.1:0",
		ControlAddress:   "127.0.0.1:0",
		Scenario:         scenario,
		Logger:           log.Named("sim"),
	})
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: cannot start the simulated instance: %v\n", err)
		return ExitError
	}
	defer inst.Close()
	info := inst.Info()

	tokenFile := filepath.Join(dir, "api-token")
	configFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(tokenFile, []byte(info.Token+"\n"), 0o600); err != nil {
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

	start := clock.Now()
	out := &narrator{w: stdout, start: start}
	out.printf("spacetime-watch demo: watching a simulated SpaceTime VR instance (API %s, telemetry ws://%s/).", info.API, info.Telemetry)
	out.printf("Story: FPS drops to ~60 at 0:20 and recovers at 0:50; the fps_low rule (FPS below 85 for 10s) fires and resolves.")
	out.printf("Reviews are compressed to minutes: the hour-1 review (named minute-2 here) shows at 2:00, the hour-4 one (minute-4) at 4:00.")
	reg := prometheus.NewRegistry()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err = daemon.Run(ctx, daemon.Options{
		ConfigFile: configFile,
		StateDir:   filepath.Join(dir, "state"),
		Listener:   listener,
		Logger:     log,
		Registry:   reg,
		Console:    out, // the console sink: where a deployment would post to Slack
		// Compressed reviews on a fast clock: minutes close at once.
		Reviews: daemon.ReviewTiming{Interval: 10 * time.Second, Settle: -1},
		Ready: func(addr net.Addr) {
			url := fmt.Sprintf("http://%s/metrics", addr)
			out.printf("Metrics: %s  (status: http://%s/api/v1/status)", url, addr)
			if o.Ready != nil {
				o.Ready(url)
			}
			wg.Go(func() { out.narrate(ctx, reg) })
		},
	})
	cancel()
	if code := exitFor(err, log); code != ExitOK {
		return code
	}
	out.printf("demo finished.")
	return ExitOK
}

// narrator prints the demo's story: rule events as they happen and a
// status line every 5 seconds.
type narrator struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (n *narrator) printf(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	el := clock.Since(n.start).Truncate(time.Second)
	fmt.Fprintf(n.w, "[%d:%02d] %s\n", int(el.Minutes()), int(el.Seconds())%60, fmt.Sprintf(format, args...))
}

// Write prints what the console sink renders, each line stamped.
func (n *narrator) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		n.printf("%s", line)
	}
	return len(p), nil
}

func (n *narrator) narrate(ctx context.Context, reg prometheus.Gatherer) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.printf("%s", statusLine(reg))
		}
	}
}

// statusLine summarises the demo target's metrics in one line.
func statusLine(reg prometheus.Gatherer) string {
	mfs, err := reg.Gather()
	if err != nil {
		return "metrics unavailable: " + err.Error()
	}
	vals := map[string]float64{}
	var passed, failed int
	var memUnwatched bool
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "spacetime_check_success":
				if m.GetGauge().GetValue() == 1 {
					passed++
				} else {
					failed++
				}
			case "spacetime_rule_state":
				if hasLabel(m, "rule", "memory_high") && hasLabel(m, "state", "unknown") {
					memUnwatched = m.GetGauge().GetValue() == 1
				}
			default:
				if g := m.GetGauge(); g != nil {
					vals[mf.GetName()] = g.GetValue()
				}
			}
		}
	}
	fps := "FPS -"
	if v, ok := vals["spacetime_fps"]; ok {
		fps = fmt.Sprintf("FPS %.1f", v)
	}
	mem := "memory -"
	if v, ok := vals["spacetime_memory_bytes"]; ok {
		mem = fmt.Sprintf("memory %.0f MB", v/(1<<20))
	} else if v, ok := vals["spacetime_static_memory_bytes"]; ok {
		mem = fmt.Sprintf("memory %.0f MB (from /performance)", v/(1<<20))
	} else if memUnwatched {
		mem = "memory unwatched"
	}
	tel := "telemetry down"
	if vals["spacetime_telemetry_connected"] == 1 {
		tel = "telemetry connected"
	}
	return fmt.Sprintf("%s  %s  %s  checks %d passing, %d failing", fps, mem, tel, passed, failed)
}

// hasLabel reports whether m carries the label name=value.
func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue() == value
		}
	}
	return false
}
