// Command benchfleet is make bench-fleet: it measures spacetime-watch
// watching a simulated fleet of N instances (spacetime-sim --instances N)
// beside a bare reader of the same telemetry streams (barereader), and its
// scheduled HTTP checks beside prometheus-blackbox-exporter probing the
// same /status endpoints, and writes the figures to bench/fleet.json and a
// table in BENCHMARKS.md. BENCHMARKS.md says how to read them.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
)

// The sims' stream: an fps frame every 500 ms and a vr_tracking frame every
// 100 ms, 12 frames per second per instance (the simulator's defaults).
const (
	fpsInterval      = 500 * time.Millisecond
	trackingInterval = 100 * time.Millisecond
	framesPerSecond  = float64(time.Second/fpsInterval + time.Second/trackingInterval)
	// sustainedShare of framesPerSecond per stream is "the sims kept
	// their rate".
	sustainedShare = 0.95
)

// harness holds the run's settings.
type harness struct {
	binDir       string
	blackbox     string
	window       time.Duration
	settle       time.Duration
	scrapes      int
	scrapeBudget time.Duration
	// burstInterval is the check interval bringInChecks reloads the
	// telemetry daemon with; 0: none.
	burstInterval time.Duration
	// burstAlways reloads even when every target ran a round.
	burstAlways  bool
	httpInterval time.Duration
	httpWindow   time.Duration
	apis         []string // the current fleet's /status URLs, in order
	profile      profiler
}

func (h *harness) bin(name string) string { return filepath.Join(h.binDir, name) }

func main() {
	app := kingpin.New("benchfleet", "Measure spacetime-watch watching simulated fleets (make bench-fleet).")
	h := &harness{}
	app.Flag("bin", "Folder holding spacetime-watch, spacetime-sim and barereader.").Default("bin/bench").StringVar(&h.binDir)
	app.Flag("blackbox", "The blackbox_exporter binary.").Default("prometheus-blackbox-exporter").StringVar(&h.blackbox)
	sizes := app.Flag("instances", "Comma-separated fleet sizes.").Default("1,100,1000").String()
	app.Flag("window", "CPU window of the telemetry phase.").Default("30s").DurationVar(&h.window)
	app.Flag("settle", "Wait after every stream is connected, before the window.").Default("3s").DurationVar(&h.settle)
	app.Flag("scrapes", "Timed /metrics scrapes per N.").Default("50").IntVar(&h.scrapes)
	app.Flag("scrape-budget", "At most this long for the timed scrapes of one N (fewer scrapes if they are slow).").Default("60s").DurationVar(&h.scrapeBudget)
	app.Flag("checks.burst-interval", "Before the timed scrapes, when some target has not run a check round yet, reload the daemon with checks this often until every target has, then with its own config again (0: scrape without). At least 3s.").Default("15s").DurationVar(&h.burstInterval)
	app.Flag("checks.burst-always", "Reload as --checks.burst-interval says even when every target has run a check round (at N ≤ 10 they all have by then): to try the method on a small fleet.").BoolVar(&h.burstAlways)
	app.Flag("http.interval", "The daemon's check interval and the blackbox probes' per target, in the HTTP phase.").Default("10s").DurationVar(&h.httpInterval)
	app.Flag("http.window", "CPU window of the HTTP phase.").Default("30s").DurationVar(&h.httpWindow)
	app.Flag("profile.dir", "Also take the daemon's CPU, heap and goroutine profiles at each N (after the measured window, so they cost the figures nothing) into this folder, with a go tool pprof -top summary of each. Default: none.").StringVar(&h.profile.dir)
	app.Flag("profile.window", "Length of the CPU profile.").Default("30s").DurationVar(&h.profile.window)
	jsonOut := app.Flag("json", "Where to write the figures.").Default("bench/fleet.json").String()
	mdOut := app.Flag("markdown", "The document whose generated table to replace.").Default("BENCHMARKS.md").String()
	keep := app.Flag("keep", "Keep the work folder (logs, configs, target files).").Bool()
	kingpin.MustParse(app.Parse(os.Args[1:]))

	if h.burstInterval != 0 && h.burstInterval < 3*time.Second {
		fmt.Fprintf(os.Stderr, "benchfleet: --checks.burst-interval: %s is below 3s: checks 4 and 10 wait a third of it each; e.g. 15s, or 0 for none\n", h.burstInterval)
		os.Exit(3)
	}
	ns, err := parseSizes(*sizes)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchfleet: --instances: %v\n", err)
		os.Exit(3)
	}
	if h.profile.enabled() {
		if err := os.MkdirAll(h.profile.dir, 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "benchfleet: --profile.dir: %v\n", err)
			os.Exit(3)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := h.run(ctx, ns, *jsonOut, *mdOut, *keep); err != nil {
		fmt.Fprintf(os.Stderr, "benchfleet: %v\n", err)
		os.Exit(1)
	}
}

// parseSizes reads "1,100,1000".
func parseSizes(s string) ([]int, error) {
	var ns []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas, e.g. 1,100,1000", s)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

func (h *harness) run(ctx context.Context, ns []int, jsonOut, mdOut string, keep bool) error {
	// Check the document first: a run of minutes must not end on a
	// missing marker.
	doc, err := os.ReadFile(mdOut)
	if err != nil {
		return err
	}
	if _, err := replaceBetween(doc, ""); err != nil {
		return fmt.Errorf("%s: %w", mdOut, err)
	}
	work, err := os.MkdirTemp("", "benchfleet-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintf(os.Stderr, "benchfleet: work folder %s\n", work)
	} else {
		defer func() { _ = os.RemoveAll(work) }()
	}

	rep := Report{
		Command: "make bench-fleet",
		Date:    clock.Now().UTC().Format(time.RFC3339),
		Machine: h.machine(),
		Settings: Settings{
			FramesPerSecond: framesPerSecond, FPSInterval: fpsInterval.String(), TrackingInterval: trackingInterval.String(),
			Window: h.window.String(), Scrapes: h.scrapes, ScrapeBudget: h.scrapeBudget.String(), ChecksBurstInterval: h.burstInterval.String(), ChecksBurstAlways: h.burstAlways, HTTPInterval: h.httpInterval.String(), HTTPWindow: h.httpWindow.String(),
		},
	}
	runStart := clock.Now()
	if rep.LoadStart, err = readLoadavg(); err != nil {
		return err
	}
	for _, n := range ns {
		start := clock.Now()
		fmt.Fprintf(os.Stderr, "benchfleet: N = %d …\n", n)
		dir := filepath.Join(work, fmt.Sprint(n))
		row := Row{Targets: n}
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		if err := h.measure(ctx, n, dir, &row); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			row.Error = err.Error()
			fmt.Fprintf(os.Stderr, "benchfleet: N = %d: %v\n", n, err)
		}
		row.Seconds = clock.Now().Sub(start).Seconds()
		row.clean()
		if row.Sustained && row.Error == "" {
			rep.LargestSustained = n
		}
		rep.Rows = append(rep.Rows, row)
		fmt.Fprintf(os.Stderr, "benchfleet: N = %d done in %s\n", n, minSec(row.Seconds))
	}
	if rep.LoadEnd, err = readLoadavg(); err != nil {
		return err
	}
	rep.Seconds = math.Round(clock.Now().Sub(runStart).Seconds()*1000) / 1000

	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(jsonOut), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(jsonOut, append(b, '\n'), 0o644); err != nil {
		return err
	}
	out, err := replaceBetween(doc, rep.Table())
	if err != nil {
		return err
	}
	if err := os.WriteFile(mdOut, out, 0o644); err != nil {
		return err
	}
	fmt.Print(rep.Table())
	var failed []string
	for _, r := range rep.Rows {
		if r.Error != "" {
			failed = append(failed, fmt.Sprint(r.Targets))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("fleet sizes %s did not complete (the figures measured are written to %s and %s; --keep keeps the logs)",
			strings.Join(failed, ", "), jsonOut, mdOut)
	}
	return nil
}

// measure runs both phases of one N on one fleet of sims.
func (h *harness) measure(ctx context.Context, n int, dir string, row *Row) error {
	f, err := h.startFleet(ctx, n, dir)
	if err != nil {
		return err
	}
	defer f.proc.Stop(30 * time.Second)
	if err := h.measureTelemetry(ctx, f, n, dir, row); err != nil {
		return fmt.Errorf("telemetry phase: %w", err)
	}
	if err := h.measureHTTP(ctx, f, dir, row); err != nil {
		return fmt.Errorf("%s%w", httpPhase, err)
	}
	return nil
}

// clean makes every figure one JSON can carry (no data reads 0), to
// three decimals.
func (r *Row) clean() {
	for _, v := range []*float64{&r.DaemonCPU, &r.ReaderCPU, &r.CPURatio, &r.SimCPU, &r.StreamRate, &r.DaemonStreamRate, &r.ReaderStreamRate, &r.PeakRSS, &r.RSSPerTarget, &r.RSSAnon, &r.RSSFile,
		&r.PeakRSSBeforeChecks, &r.PeakRSSAfterChecks, &r.ChecksBurst, &r.Seconds,
		&r.ScrapeP50, &r.ScrapeP99, &r.HealthyP50, &r.HealthyP99, &r.SeriesPerTarget, &r.FrameLagP99, &r.HTTP.DaemonCPUPerRequest, &r.HTTP.BlackboxCPUPerRequest, &r.HTTP.DaemonCPUSeconds, &r.HTTP.BlackboxCPUSeconds} {
		*v = math.Round(finite(*v)*1000) / 1000
	}
}

// machine describes this machine and the binaries measured.
func (h *harness) machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Daemon = firstLine(h.bin("spacetime-watch"), "--version")
	m.Blackbox = firstLine(h.blackbox, "--version")
	return m
}

// firstLine runs bin with args and returns the first line it printed.
func firstLine(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "unknown: " + err.Error()
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
