package main

import (
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	good := Row{Targets: 100, DaemonCPU: 10, ReaderCPU: 8, CPURatio: 1.25, StreamRate: 12, Sustained: true,
		PeakRSS: 30, RSSPerTarget: 0.3, ScrapeP99: 20, Series: 5000, SeriesPerTarget: 50, FrameLagP99: 3,
		HealthyGets: 50, HealthyP50: 0.1, HealthyP99: 0.25, TargetsWithoutChecks: 90, ChecksBurst: 41.6,
		WindowSeconds: 30, WindowCheckRequests: 1200,
		HTTP: HTTPRow{DaemonRequests: 300, DaemonCPUPerRequest: 0.5, BlackboxRequests: 100, BlackboxCPUPerRequest: 1}}
	bad := good
	bad.TargetsWithoutChecks, bad.ChecksBurst = 0, 0
	bad.Targets, bad.CPURatio, bad.PeakRSS, bad.ScrapeP99, bad.SeriesPerTarget = 1000, 2, 200, 300, 70
	bad.FramesDropped, bad.FrameLagP99, bad.HTTP.DaemonCPUPerRequest, bad.Sustained = 3, 60, 2, false
	half := good
	half.Targets, half.Error = 10, httpPhase+"blackbox_exporter exited early"
	half.ChecksBurst = 0 // --checks.burst-interval=0: the 90 stay without a round
	good.Seconds, bad.Seconds, half.Seconds = 95.4, 301, 12
	rep := Report{Command: "make bench-fleet", Rows: []Row{good, bad, half}, LargestSustained: 100, Seconds: 409.6}
	table := rep.Table()

	lines := strings.Split(table, "\n")
	if !strings.HasPrefix(lines[0], "| measure | target | N = 100 | N = 1,000 | N = 10 |") {
		t.Errorf("header %q", lines[0])
	}
	row := func(name string) []string {
		for _, l := range lines {
			if strings.HasPrefix(l, "| "+name+" |") {
				return strings.Split(strings.Trim(l, "| "), " | ")
			}
		}
		t.Fatalf("no line %q in\n%s", name, table)
		return nil
	}
	for _, name := range []string{"CPU ratio daemon / bare reader", "daemon peak RSS", "/metrics scrape p99",
		"series (per target)", "frames dropped (sent to the daemon)", "frame-to-rule p99", "HTTP: daemon CPU per request (requests)"} {
		cells := row(name)
		if len(cells) != 5 {
			t.Fatalf("%s: %d cells, want 5: %q", name, len(cells), cells)
		}
		if strings.Contains(cells[2], "✗") {
			t.Errorf("%s: N = 100 within target marked missed: %q", name, cells[2])
		}
		if !strings.HasSuffix(cells[3], "✗") {
			t.Errorf("%s: N = 1,000 over target not marked: %q", name, cells[3])
		}
	}
	// The row whose HTTP phase failed keeps its telemetry figures only.
	if c := row("CPU ratio daemon / bare reader"); c[4] != "1.25×" {
		t.Errorf("N = 10 telemetry figure %q, want 1.25×", c[4])
	}
	if c := row("HTTP: daemon CPU per request (requests)"); c[4] != "—" {
		t.Errorf("N = 10 HTTP figure %q, want — (its phase failed)", c[4])
	}
	// The checks in the CPU window, at 0.5 ms a request: 1,200 requests in
	// 30 s are 2% of a core, and the ratio less them is (10 - 2) / 8.
	if c := row("HTTP: of which the checks, est. (requests in the window)"); c[1] != "" || c[2] != "2.0% (1200)" || c[4] != "—" {
		t.Errorf("checks' share %q, want no target, 2.0%% (1200) at N = 100 and — where the HTTP phase failed", c)
	}
	if c := row("HTTP: CPU ratio less the checks, est."); c[2] != "1.00×" || c[4] != "—" {
		t.Errorf("ratio less the checks %q, want 1.00× at N = 100 and — where the HTTP phase failed", c)
	}
	// The floor and the checks brought in: figures without a target.
	if c := row("floor: /-/healthy p50 / p99 (GETs)"); c[1] != "" || c[2] != "0.10 / 0.25 ms (50)" {
		t.Errorf("floor cells %q, want no target and 0.10 / 0.25 ms (50)", c)
	}
	if c := row("targets without a check round after the CPU window"); c[2] != "90 (brought in, 42 s)" || c[3] != "0" || c[4] != "90 (not brought in)" {
		t.Errorf("checks brought in %q, want 90 (brought in, 42 s) at N = 100, 0 (none needed) at 1,000, 90 (not brought in) at 10", c)
	}
	for _, want := range []string{
		"N = 10 did not complete: HTTP phase: blackbox_exporter exited early",
		"Per target at 1,000 against 100 (target: no higher): CPU 0.010% vs 0.100% (met), RSS 0.300 vs 0.300 MiB (met), scrape p99 0.300 vs 0.200 ms (missed ✗).",
		"Largest N at which the sims kept 12 frames/s per stream: 100.",
		"make bench-fleet took 6 min 50 s (N = 100: 1 min 35 s, N = 1,000: 5 min 1 s, N = 10: 12 s).",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestReplaceBetween(t *testing.T) {
	doc := "# Benchmarks\n\nprose\n\n" + beginMarker + "\nold table\n" + endMarker + "\n\nmore prose\n"
	got, err := replaceBetween([]byte(doc), "| new |\n")
	want := "# Benchmarks\n\nprose\n\n" + beginMarker + "\n| new |\n" + endMarker + "\n\nmore prose\n"
	if err != nil || string(got) != want {
		t.Errorf("replaceBetween = %q, %v; want %q", got, err, want)
	}
	for name, bad := range map[string]string{
		"no markers":    "# Benchmarks\n",
		"end first":     endMarker + "\n" + beginMarker + "\n",
		"begin twice":   beginMarker + beginMarker + endMarker,
		"only an end":   "x\n" + endMarker,
		"only a begin:": beginMarker + "\n",
	} {
		if _, err := replaceBetween([]byte(bad), "x"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{1: "1", 100: "100", 1000: "1,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseSizes(t *testing.T) {
	if got, err := parseSizes("1, 100,1000"); err != nil || len(got) != 3 || got[2] != 1000 {
		t.Errorf("parseSizes = %v, %v", got, err)
	}
	for _, bad := range []string{"", "1,,2", "0", "ten"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) accepted", bad)
		}
	}
}
