package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Report is bench/fleet.json: the machine, the settings and one Row per N.
type Report struct {
	// Command is what produced the report.
	Command string `json:"command"`
	// Date is when the run started, RFC 3339 UTC.
	Date    string  `json:"date"`
	Machine Machine `json:"machine"`
	// LoadStart and LoadEnd are /proc/loadavg's 1, 5 and 15 minute load
	// averages before and after the run: the machine is shared.
	LoadStart [3]float64 `json:"load_average_start"`
	LoadEnd   [3]float64 `json:"load_average_end"`
	Settings  Settings   `json:"settings"`
	Rows      []Row      `json:"rows"`
	// LargestSustained is the largest N at which the sims kept their
	// frame rate (Row.Sustained); 0 when none did.
	LargestSustained int `json:"largest_n_sustained"`
	// Seconds is how long the run took, every N (Row.Seconds) and the
	// load readings around them, in seconds.
	Seconds float64 `json:"seconds"`
}

// Machine describes where the figures were measured.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	Daemon    string `json:"daemon_version"`
	Blackbox  string `json:"blackbox_exporter_version"`
}

// Settings are the run's parameters.
type Settings struct {
	FramesPerSecond  float64 `json:"frames_per_second_per_instance"`
	FPSInterval      string  `json:"sim_fps_interval"`
	TrackingInterval string  `json:"sim_tracking_interval"`
	Window           string  `json:"cpu_window"`
	Scrapes          int     `json:"scrapes"`
	ScrapeBudget     string  `json:"scrape_budget"`
	// ChecksBurstInterval is --checks.burst-interval, ChecksBurstAlways
	// --checks.burst-always.
	ChecksBurstInterval string `json:"checks_burst_interval"`
	ChecksBurstAlways   bool   `json:"checks_burst_always,omitempty"`
	HTTPInterval        string `json:"http_check_interval"`
	HTTPWindow          string `json:"http_window"`
}

// Row is the figures of one N. CPU is in percent of one core.
type Row struct {
	Targets int `json:"targets"`
	// Error is why the row is incomplete, if it is.
	Error string `json:"error,omitempty"`
	// Seconds is how long this N took: starting the fleet, both phases,
	// stopping it.
	Seconds float64 `json:"seconds"`
	// Connected is the daemon's spacetime_telemetry_connected sum.
	Connected int     `json:"daemon_connected"`
	DaemonCPU float64 `json:"daemon_cpu_percent"`
	ReaderCPU float64 `json:"bare_reader_cpu_percent"`
	CPURatio  float64 `json:"cpu_ratio"`
	SimCPU    float64 `json:"sims_cpu_percent"`
	// WindowSeconds is the CPU window's measured length.
	WindowSeconds float64 `json:"cpu_window_seconds"`
	// WindowCheckRequests are the daemon's HTTP requests (its scheduled
	// checks) that the sims counted in the CPU window: work the daemon
	// does beside its streams, and the bare reader does not.
	WindowCheckRequests uint64 `json:"daemon_check_requests_in_cpu_window"`
	// StreamRate is the frames per second each stream got in the window,
	// on average; DaemonStreamRate and ReaderStreamRate the daemon's and
	// the bare reader's (a sim writes no faster than its client reads).
	// Sustained is whether both are at least 95% of the set rate.
	StreamRate       float64 `json:"frames_per_second_per_stream"`
	DaemonStreamRate float64 `json:"daemon_frames_per_second_per_stream"`
	ReaderStreamRate float64 `json:"bare_reader_frames_per_second_per_stream"`
	Sustained        bool    `json:"sims_sustained_rate"`
	// PeakRSS is the daemon's VmHWM through the timed scrapes, without
	// the check rounds bringInChecks caused: the larger of
	// PeakRSSBeforeChecks (before them) and PeakRSSAfterChecks (reset
	// after them); those two are 0 when no target needed a round.
	PeakRSS             float64 `json:"daemon_peak_rss_mib"`
	PeakRSSBeforeChecks float64 `json:"daemon_peak_rss_before_checks_mib"`
	PeakRSSAfterChecks  float64 `json:"daemon_peak_rss_after_checks_mib"`
	// TargetsWithoutChecks is how many targets had not run a check round
	// after the CPU window, brought in or not; ChecksBurst how long
	// bringing their rounds in took, in seconds, the streams' return
	// included (0: none needed, or --checks.burst-interval=0).
	TargetsWithoutChecks int     `json:"targets_without_checks_after_window"`
	ChecksBurst          float64 `json:"checks_burst_seconds"`
	RSSPerTarget         float64 `json:"daemon_rss_per_target_mib"`
	// RSSAnon and RSSFile split the RSS after the scrapes (not the peak)
	// into anonymous memory (heap, stacks) and the binary's pages.
	RSSAnon    float64 `json:"daemon_rss_anon_mib"`
	RSSFile    float64 `json:"daemon_rss_file_mib"`
	Goroutines int     `json:"daemon_goroutines"`
	// Scrapes is how many timed scrapes the budget held.
	Scrapes   int     `json:"metrics_scrapes"`
	ScrapeP50 float64 `json:"metrics_scrape_p50_ms"`
	ScrapeP99 float64 `json:"metrics_scrape_p99_ms"`
	// HealthyGets, HealthyP50 and HealthyP99 are the GETs of /-/healthy
	// after the scrapes, on the same server: the floor of a scrape's time.
	HealthyGets     int     `json:"healthy_gets"`
	HealthyP50      float64 `json:"healthy_p50_ms"`
	HealthyP99      float64 `json:"healthy_p99_ms"`
	Series          int     `json:"series"`
	SeriesPerTarget float64 `json:"series_per_target"`
	// TargetSeries are the series with a target label, the part of
	// Series that grows with the fleet; the rest are the daemon's own
	// (Go runtime, process, its own counters), the same at every N.
	TargetSeries int `json:"target_series"`
	// FramesSent are the frames the sims wrote to the daemon's
	// connections; FramesReceived those it counted; FramesDropped the
	// difference. ReaderFramesDropped is the same for the bare reader.
	FramesSent          uint64  `json:"frames_sent_to_daemon"`
	FramesReceived      uint64  `json:"frames_received_by_daemon"`
	FramesDropped       int64   `json:"frames_dropped"`
	ReaderFramesDropped int64   `json:"bare_reader_frames_dropped"`
	FrameLagP99         float64 `json:"frame_to_rule_p99_ms"`
	HTTP                HTTPRow `json:"http"`
}

// checksCPU estimates how much of the daemon's CPU in the window (in
// percent of one core) its check requests took, at the CPU per request
// its HTTP phase measured; ok is false when that phase measured none.
func (r Row) checksCPU() (pct float64, ok bool) {
	if r.HTTP.DaemonRequests == 0 || r.WindowSeconds <= 0 {
		return 0, false
	}
	return float64(r.WindowCheckRequests) * r.HTTP.DaemonCPUPerRequest / 1000 / r.WindowSeconds * 100, true
}

// HTTPRow is the HTTP phase of one N: CPU per request in milliseconds.
type HTTPRow struct {
	Interval              string  `json:"interval"`
	DaemonRequests        uint64  `json:"daemon_requests"`
	DaemonCPUSeconds      float64 `json:"daemon_cpu_seconds"`
	DaemonCPUPerRequest   float64 `json:"daemon_cpu_ms_per_request"`
	BlackboxRequests      uint64  `json:"blackbox_requests"`
	BlackboxCPUSeconds    float64 `json:"blackbox_cpu_seconds"`
	BlackboxCPUPerRequest float64 `json:"blackbox_cpu_ms_per_request"`
	ProbesFailed          uint64  `json:"blackbox_probes_failed"`
}

// The targets.
const (
	maxCPURatio          = 1.3
	rssBaseMiB           = 20
	rssPerTargetMiB      = 0.13
	scrapeP99PerTargetMs = 0.25
	maxSeriesPerTarget   = 60
	maxFrameLagMs        = 50
)

// measure is one line of the table: a figure per N and its target.
type measure struct {
	name, target string
	value        func(r Row) string
	ok           func(r Row) bool // nil: no target
}

// http reports whether the HTTP phase measured it.
func (m measure) http() bool { return strings.HasPrefix(m.name, "HTTP: ") }

func measures() []measure {
	pct := func(v float64) string { return fmt.Sprintf("%.1f%%", v) }
	return []measure{
		{"daemon CPU (of one core)", "", func(r Row) string { return pct(r.DaemonCPU) }, nil},
		{"bare reader CPU", "", func(r Row) string { return pct(r.ReaderCPU) }, nil},
		{"CPU ratio daemon / bare reader", "≤ 1.3×", func(r Row) string { return fmt.Sprintf("%.2f×", r.CPURatio) },
			func(r Row) bool { return r.CPURatio <= maxCPURatio }},
		// The daemon's checks run in the window; the reader has none. The
		// two rows below split them out, at the HTTP phase's CPU per
		// request: an estimate, beside the measured ratio above.
		{"HTTP: of which the checks, est. (requests in the window)", "", func(r Row) string {
			pct, ok := r.checksCPU()
			if !ok {
				return "—"
			}
			return fmt.Sprintf("%.1f%% (%d)", pct, r.WindowCheckRequests)
		}, nil},
		{"HTTP: CPU ratio less the checks, est.", "", func(r Row) string {
			pct, ok := r.checksCPU()
			if !ok || r.ReaderCPU <= 0 {
				return "—"
			}
			return fmt.Sprintf("%.2f×", (r.DaemonCPU-pct)/r.ReaderCPU)
		}, nil},
		{"sims CPU; frames/s per stream to daemon / reader (set: 12)", "", func(r Row) string {
			return fmt.Sprintf("%s; %.1f / %.1f%s", pct(r.SimCPU), r.DaemonStreamRate, r.ReaderStreamRate, map[bool]string{true: "", false: " (rate not kept)"}[r.Sustained])
		}, nil},
		{"daemon peak RSS", "≤ 20 MiB + 0.13 MiB × N", func(r Row) string { return fmt.Sprintf("%.1f MiB", r.PeakRSS) },
			func(r Row) bool { return r.PeakRSS <= rssBaseMiB+rssPerTargetMiB*float64(r.Targets) }},
		{"RSS per target", "", func(r Row) string { return fmt.Sprintf("%.3f MiB", r.RSSPerTarget) }, nil},
		{"RSS after the scrapes: anonymous / the binary's pages", "", func(r Row) string { return fmt.Sprintf("%.1f / %.1f MiB", r.RSSAnon, r.RSSFile) }, nil},
		{"goroutines", "", func(r Row) string { return fmt.Sprint(r.Goroutines) }, nil},
		{"targets without a check round after the CPU window", "", func(r Row) string {
			switch {
			case r.ChecksBurst > 0:
				return fmt.Sprintf("%d (brought in, %.0f s)", r.TargetsWithoutChecks, r.ChecksBurst)
			case r.TargetsWithoutChecks > 0:
				return fmt.Sprintf("%d (not brought in)", r.TargetsWithoutChecks)
			}
			return "0"
		}, nil},
		{"/metrics scrape p50 (scrapes)", "", func(r Row) string { return fmt.Sprintf("%.2f ms (%d)", r.ScrapeP50, r.Scrapes) }, nil},
		{"/metrics scrape p99", "≤ 0.25 ms × N", func(r Row) string { return fmt.Sprintf("%.2f ms", r.ScrapeP99) },
			func(r Row) bool { return r.ScrapeP99 <= scrapeP99PerTargetMs*float64(r.Targets) }},
		{"floor: /-/healthy p50 / p99 (GETs)", "", func(r Row) string {
			return fmt.Sprintf("%.2f / %.2f ms (%d)", r.HealthyP50, r.HealthyP99, r.HealthyGets)
		}, nil},
		{"series (per target)", "≤ 60 per target", func(r Row) string { return fmt.Sprintf("%d (%.0f)", r.Series, r.SeriesPerTarget) },
			func(r Row) bool { return r.SeriesPerTarget <= maxSeriesPerTarget }},
		{"of which labelled with a target (per target); the daemon's own", "", func(r Row) string {
			return fmt.Sprintf("%d (%.1f); %d", r.TargetSeries, float64(r.TargetSeries)/float64(max(r.Targets, 1)), r.Series-r.TargetSeries)
		}, nil},
		{"frames dropped (sent to the daemon)", "0", func(r Row) string { return fmt.Sprintf("%d (%d)", r.FramesDropped, r.FramesSent) },
			func(r Row) bool { return r.FramesDropped == 0 }},
		{"frame-to-rule p99", "≤ 50 ms", func(r Row) string { return fmt.Sprintf("%.1f ms", r.FrameLagP99) },
			func(r Row) bool { return r.FrameLagP99 <= maxFrameLagMs }},
		{"HTTP: daemon CPU per request (requests)", "≤ blackbox_exporter's", func(r Row) string {
			return fmt.Sprintf("%.3f ms (%d)", r.HTTP.DaemonCPUPerRequest, r.HTTP.DaemonRequests)
		}, func(r Row) bool {
			return r.HTTP.DaemonRequests > 0 && r.HTTP.DaemonCPUPerRequest <= r.HTTP.BlackboxCPUPerRequest
		}},
		{"HTTP: blackbox_exporter CPU per request (requests)", "", func(r Row) string {
			return fmt.Sprintf("%.3f ms (%d)", r.HTTP.BlackboxCPUPerRequest, r.HTTP.BlackboxRequests)
		}, nil},
	}
}

// Table renders the report's rows as a Markdown table, one column per N; a
// figure that misses its target is marked ✗.
func (rep Report) Table() string {
	var b strings.Builder
	b.WriteString("| measure | target |")
	for _, r := range rep.Rows {
		fmt.Fprintf(&b, " N = %s |", thousands(r.Targets))
	}
	b.WriteString("\n| --- | --- |" + strings.Repeat(" ---: |", len(rep.Rows)) + "\n")
	for _, m := range measures() {
		fmt.Fprintf(&b, "| %s | %s |", m.name, m.target)
		for _, r := range rep.Rows {
			switch {
			case r.Error != "" && (m.http() || !strings.HasPrefix(r.Error, httpPhase)):
				b.WriteString(" — |")
			case m.ok != nil && !m.ok(r):
				fmt.Fprintf(&b, " %s ✗ |", m.value(r))
			default:
				fmt.Fprintf(&b, " %s |", m.value(r))
			}
		}
		b.WriteString("\n")
	}
	for _, l := range rep.verdicts() {
		b.WriteString("\n" + l + "\n")
	}
	return b.String()
}

// verdicts are the lines under the table: the targets that span rows, and
// the rows that failed.
func (rep Report) verdicts() []string {
	var out []string
	for _, r := range rep.Rows {
		if r.Error != "" {
			out = append(out, fmt.Sprintf("N = %s did not complete: %s", thousands(r.Targets), r.Error))
		}
		if r.Targets == 1 && r.Error == "" {
			out = append(out, fmt.Sprintf("1 target: peak RSS %.1f MiB (target ≤ 20 MiB): %s.", r.PeakRSS, okWord(r.PeakRSS <= rssBaseMiB)))
		}
	}
	r100, ok100 := rep.row(100)
	r1000, ok1000 := rep.row(1000)
	if ok100 && ok1000 {
		per := func(r Row) [3]float64 {
			n := float64(r.Targets)
			return [3]float64{r.DaemonCPU / n, r.RSSPerTarget, r.ScrapeP99 / n}
		}
		a, b := per(r100), per(r1000)
		out = append(out, fmt.Sprintf("Per target at 1,000 against 100 (target: no higher): CPU %.3f%% vs %.3f%% (%s), RSS %.3f vs %.3f MiB (%s), scrape p99 %.3f vs %.3f ms (%s).",
			b[0], a[0], okWord(b[0] <= a[0]), b[1], a[1], okWord(b[1] <= a[1]), b[2], a[2], okWord(b[2] <= a[2])))
	}
	if rep.Seconds > 0 {
		per := make([]string, 0, len(rep.Rows))
		for _, r := range rep.Rows {
			per = append(per, fmt.Sprintf("N = %s: %s", thousands(r.Targets), minSec(r.Seconds)))
		}
		out = append(out, fmt.Sprintf("%s took %s (%s).", rep.Command, minSec(rep.Seconds), strings.Join(per, ", ")))
	}
	if rep.LargestSustained > 0 {
		out = append(out, fmt.Sprintf("Largest N at which the sims kept 12 frames/s per stream: %s.", thousands(rep.LargestSustained)))
	} else if len(rep.Rows) > 0 {
		out = append(out, "The sims kept 12 frames/s per stream at no N.")
	}
	return out
}

func (rep Report) row(n int) (Row, bool) {
	for _, r := range rep.Rows {
		if r.Targets == n && r.Error == "" {
			return r, true
		}
	}
	return Row{}, false
}

func okWord(ok bool) string {
	if ok {
		return "met"
	}
	return "missed ✗"
}

// minSec writes seconds rounded to the second as "M min S s", or "S s"
// under a minute.
func minSec(seconds float64) string {
	t := int(math.Round(seconds))
	if t < 60 {
		return fmt.Sprintf("%d s", t)
	}
	return fmt.Sprintf("%d min %d s", t/60, t%60)
}

// thousands writes n with a comma between thousands: 1,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Markers fence the generated part of BENCHMARKS.md.
const (
	beginMarker = "<!-- bench-fleet table: generated by make bench-fleet, do not edit -->"
	endMarker   = "<!-- end of bench-fleet table -->"
)

// replaceBetween puts generated between the markers of doc, keeping the
// rest of the document as it is.
func replaceBetween(doc []byte, generated string) ([]byte, error) {
	i := bytes.Index(doc, []byte(beginMarker))
	j := bytes.Index(doc, []byte(endMarker))
	switch {
	case i < 0 || j < 0:
		return nil, fmt.Errorf("the markers %q and %q are not both there", beginMarker, endMarker)
	case j < i:
		return nil, errors.New("the end marker comes before the begin marker")
	case bytes.Count(doc, []byte(beginMarker)) > 1 || bytes.Count(doc, []byte(endMarker)) > 1:
		return nil, errors.New("a marker appears twice")
	}
	var out bytes.Buffer
	out.Write(doc[:i+len(beginMarker)])
	out.WriteString("\n" + strings.TrimSpace(generated) + "\n")
	out.Write(doc[j:])
	return out.Bytes(), nil
}

// httpPhase begins the Error of a row whose telemetry phase completed.
const httpPhase = "HTTP phase: "

// finite turns NaN and ±Inf (no data) into 0, which JSON can carry.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
