package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/tools/internal/child"
)

// readerUserAgent is the bare reader's User-Agent (barereader.UserAgent):
// the sims' /stats count its frames apart from the daemon's.
const readerUserAgent = "spacetime-benchfleet-barereader"

// fleet is a running spacetime-sim --instances N.
type fleet struct {
	proc       *child.Process
	control    string // http://host:port of the control API
	targetFile string // written by the sim; its token beside it
}

// simStats is the sims' GET /stats.
type simStats struct {
	Clients map[string]struct {
		FramesSent  uint64 `json:"frames_sent"`
		APIRequests uint64 `json:"api_requests"`
	} `json:"clients"`
}

// frames sums the frames sent to clients whose User-Agent is (or, with
// !match, is not) ua.
func (s simStats) frames(ua string, match bool) uint64 {
	var n uint64
	for k, c := range s.Clients {
		if (k == ua) == match {
			n += c.FramesSent
		}
	}
	return n
}

// requests sums the API requests of clients whose User-Agent starts with prefix.
func (s simStats) requests(prefix string) uint64 {
	var n uint64
	for k, c := range s.Clients {
		if strings.HasPrefix(k, prefix) {
			n += c.APIRequests
		}
	}
	return n
}

func (f *fleet) stats(ctx context.Context) (simStats, error) {
	var s simStats
	b, err := get(ctx, f.control+"/stats")
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

// faults patches every instance's faults.
func (f *fleet) faults(ctx context.Context, patch string) error {
	return post(ctx, f.control+"/faults?instance=all", patch)
}

// startFleet starts the sims and waits for their target file.
func (h *harness) startFleet(ctx context.Context, n int, dir string) (*fleet, error) {
	f := &fleet{targetFile: filepath.Join(dir, "sims.yaml")}
	proc, out, err := child.Start("spacetime-sim", filepath.Join(dir, "sim.log"), true, h.bin("spacetime-sim"),
		"--instances", fmt.Sprint(n), "--target-file", f.targetFile, "--control.listen-address", "127.0.0.1:0",
		"--telemetry.fps-interval", fpsInterval.String(), "--telemetry.tracking-interval", trackingInterval.String())
	if err != nil {
		return nil, err
	}
	f.proc = proc
	line, err := out.ReadString('\n')
	if err != nil {
		proc.Stop(5 * time.Second)
		return nil, fmt.Errorf("spacetime-sim printed no line: %w (see %s/sim.log)", err, dir)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }() // the other N-1 lines
	var info struct {
		Control string `json:"control"`
	}
	if err := json.Unmarshal([]byte(line), &info); err != nil || info.Control == "" {
		proc.Stop(5 * time.Second)
		return nil, fmt.Errorf("spacetime-sim's first line %q: no control address", line)
	}
	f.control = "http://" + info.Control
	err = waitFor(ctx, "the sims' target file", time.Minute, 100*time.Millisecond, []*child.Process{proc}, func() (bool, error) {
		_, err := os.Stat(f.targetFile)
		return err == nil, err
	})
	if err == nil {
		// Millisecond stamps: the daemon's frame lag resolves to 1 ms.
		err = f.faults(ctx, `{"telemetry_timestamp":"ms"}`)
	}
	if err != nil {
		proc.Stop(5 * time.Second)
		return nil, err
	}
	return f, nil
}

// daemon is a running spacetime-watch run.
type daemon struct {
	proc    *child.Process
	base    string // http://host:port
	metrics string // its /metrics URL
	config  string // its config file
}

// startDaemon runs the daemon on config (YAML text, written to dir).
func (h *harness) startDaemon(ctx context.Context, dir, name, config string) (*daemon, error) {
	cfg := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		return nil, err
	}
	addr, err := child.FreeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"run", "--config.file=" + cfg, "--state.dir=" + filepath.Join(dir, name+"-state"),
		"--web.listen-address=" + addr, "--log.level=warn", "--web.enable-lifecycle",
		// pprof: the profiles (--profile.dir), and the collection after
		// the check rounds' reloads (collectGarbage).
		"--web.enable-pprof"}
	proc, _, err := child.Start(name, filepath.Join(dir, name+".log"), false, h.bin("spacetime-watch"), args...)
	if err != nil {
		return nil, err
	}
	d := &daemon{proc: proc, base: "http://" + addr, metrics: "http://" + addr + "/metrics", config: cfg}
	err = waitFor(ctx, name+"'s /metrics", 30*time.Second, 100*time.Millisecond, []*child.Process{proc}, func() (bool, error) {
		_, err := get(ctx, d.metrics)
		return err == nil, err
	})
	if err != nil {
		proc.Stop(5 * time.Second)
		return nil, err
	}
	return d, nil
}

// waitConnected waits until the daemon's n telemetry streams are
// connected (spacetime_telemetry_connected), and counts them in row. It
// spreads the first dials of more than 10 targets over up to 30 s.
func (d *daemon) waitConnected(ctx context.Context, n int, watch []*child.Process, row *Row) error {
	return waitFor(ctx, fmt.Sprintf("the daemon's %d telemetry connections", n), 90*time.Second, 500*time.Millisecond, watch, func() (bool, error) {
		e, err := d.scrape(ctx)
		if err != nil {
			return false, err
		}
		up, _ := e.Sum("spacetime_telemetry_connected")
		row.Connected = int(up)
		return int(up) == n, nil
	})
}

// scrape reads and parses the daemon's /metrics (untimed: the timed
// scrapes are timedGets').
func (d *daemon) scrape(ctx context.Context) (exposition, error) {
	b, err := get(ctx, d.metrics)
	if err != nil {
		return exposition{}, err
	}
	return parseExposition(string(b)), nil
}

// framesReceived is every telemetry frame the daemon read, valid or not.
func framesReceived(e exposition) uint64 {
	ok, _ := e.Sum("spacetime_telemetry_frames_total")
	bad, _ := e.Sum("spacetime_telemetry_frames_invalid_total")
	return uint64(ok + bad)
}

// lagMetric is the daemon's frame-stamp-to-rule histogram.
const lagMetric = "spacetime_telemetry_frame_lag_seconds"

// measureTelemetry is the telemetry phase of one N: the daemon and the
// bare reader on the same sims' streams, the frame accounting, every
// target's first check round (bringInChecks), then 50 timed scrapes and
// 50 GETs of /-/healthy. It fills the telemetry half of row.
func (h *harness) measureTelemetry(ctx context.Context, f *fleet, n int, dir string, row *Row) error {
	config := fmt.Sprintf("target_files: [%q]\n", f.targetFile)
	d, err := h.startDaemon(ctx, dir, "daemon-telemetry", config)
	if err != nil {
		return err
	}
	defer d.proc.Stop(10 * time.Second)
	reader, out, err := child.Start("barereader", filepath.Join(dir, "barereader.log"), true, h.bin("barereader"), f.targetFile)
	if err != nil {
		return err
	}
	defer reader.Stop(10 * time.Second)
	readerLines := make(chan string, 2)
	go func() {
		for {
			line, err := out.ReadString('\n')
			if err != nil {
				close(readerLines)
				return
			}
			readerLines <- line
		}
	}()
	select {
	case line, ok := <-readerLines:
		if !ok || !strings.Contains(line, fmt.Sprintf(`"connected":%d`, n)) {
			return fmt.Errorf("bare reader: %q, want all %d connected (see %s/barereader.log)", line, n, dir)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	watch := []*child.Process{f.proc, d.proc, reader}
	if err := d.waitConnected(ctx, n, watch, row); err != nil {
		return err
	}
	if !clock.Sleep(ctx, h.settle) {
		return ctx.Err()
	}

	// The CPU window: one scrape before and one after, outside it.
	e0, err := d.scrape(ctx)
	if err != nil {
		return err
	}
	lag0, err := e0.Histogram(lagMetric)
	if err != nil {
		return err
	}
	s0, err := f.stats(ctx)
	if err != nil {
		return err
	}
	cpu0, err := readCPUs(d.proc, reader, f.proc)
	if err != nil {
		return err
	}
	t0 := clock.Now()
	if !clock.Sleep(ctx, h.window) {
		return ctx.Err()
	}
	cpu1, err := readCPUs(d.proc, reader, f.proc)
	if err != nil {
		return err
	}
	elapsed := clock.Now().Sub(t0).Seconds()
	s1, err := f.stats(ctx)
	if err != nil {
		return err
	}
	e1, err := d.scrape(ctx)
	if err != nil {
		return err
	}
	lag1, err := e1.Histogram(lagMetric)
	if err != nil {
		return err
	}
	row.DaemonCPU = (cpu1[0] - cpu0[0]).Seconds() / elapsed * 100
	row.ReaderCPU = (cpu1[1] - cpu0[1]).Seconds() / elapsed * 100
	row.SimCPU = (cpu1[2] - cpu0[2]).Seconds() / elapsed * 100
	row.CPURatio = row.DaemonCPU / row.ReaderCPU
	row.WindowSeconds = elapsed
	row.WindowCheckRequests = s1.requests(daemonUserAgent) - s0.requests(daemonUserAgent)
	perStream := func(reader bool) float64 {
		return float64(s1.frames(readerUserAgent, reader)-s0.frames(readerUserAgent, reader)) / elapsed / float64(n)
	}
	row.DaemonStreamRate, row.ReaderStreamRate = perStream(false), perStream(true)
	row.StreamRate = (row.DaemonStreamRate + row.ReaderStreamRate) / 2
	row.Sustained = min(row.DaemonStreamRate, row.ReaderStreamRate) >= sustainedShare*framesPerSecond
	lag, err := bucketDelta(lag0, lag1)
	if err != nil {
		return err
	}
	row.FrameLagP99 = quantile(0.99, lag) * 1000

	// Frames: silence the sims, let the daemon export its counts (every
	// second), then compare. Before the check rounds below, which
	// restart every stream: a frame written to a connection closed before
	// it was read would count as dropped.
	if err := f.faults(ctx, `{"telemetry_silent":true}`); err != nil {
		return err
	}
	var received uint64
	stable := 0
	err = waitFor(ctx, "the daemon's frame count to settle", 20*time.Second, 1200*time.Millisecond, watch, func() (bool, error) {
		e, err := d.scrape(ctx)
		if err != nil {
			return false, err
		}
		now := framesReceived(e)
		if now == received {
			stable++
		} else {
			stable = 0
		}
		received = now
		return stable >= 2, nil
	})
	if err != nil {
		return err
	}
	s2, err := f.stats(ctx)
	if err != nil {
		return err
	}
	reader.Stop(10 * time.Second)
	watch = []*child.Process{f.proc, d.proc}
	var rc struct {
		Frames uint64 `json:"frames"`
		Errors uint64 `json:"errors"`
	}
	if line, ok := <-readerLines; !ok || json.Unmarshal([]byte(line), &rc) != nil {
		return fmt.Errorf("bare reader: no frame count at exit (%q)", line)
	}
	row.FramesSent = s2.frames(readerUserAgent, false)
	row.FramesReceived = received
	row.FramesDropped = int64(row.FramesSent) - int64(received)
	row.ReaderFramesDropped = int64(s2.frames(readerUserAgent, true)) - int64(rc.Frames)
	if err := f.faults(ctx, `{"telemetry_silent":false}`); err != nil {
		return err
	}

	// Every target's checks in, the streams back, the peak RSS from
	// before the burst.
	peakBefore, err := h.bringInChecks(ctx, d, config, n, watch, row)
	if err != nil {
		return err
	}

	// /metrics, timed: one scrape after another, h.scrapes of them or
	// as many as h.scrapeBudget holds (at least one), so that a slow
	// /metrics cannot stretch the run past its 10 minutes. Then as many
	// GETs of /-/healthy, a trivial handler on the same server: the
	// floor, the HTTP round trip on this machine.
	took, body, err := timedGets(ctx, d.metrics, h.scrapes, h.scrapeBudget)
	if err != nil {
		return err
	}
	last := parseExposition(string(body))
	row.Scrapes = len(took)
	row.ScrapeP50, row.ScrapeP99 = percentile(took, 50), percentile(took, 99)
	took, _, err = timedGets(ctx, d.base+"/-/healthy", h.scrapes, h.scrapeBudget)
	if err != nil {
		return err
	}
	row.HealthyGets = len(took)
	row.HealthyP50, row.HealthyP99 = percentile(took, 50), percentile(took, 99)
	row.Series = last.Series()
	row.SeriesPerTarget = float64(row.Series) / float64(n)
	row.TargetSeries = last.SeriesLabelled("target")
	g, _ := last.Sum("go_goroutines")
	row.Goroutines = int(g)
	mem, err := readRSS(d.proc.Pid())
	if err != nil {
		return err
	}
	row.PeakRSS = mib(max(peakBefore, mem.peak))
	if peakBefore > 0 {
		row.PeakRSSBeforeChecks, row.PeakRSSAfterChecks = mib(peakBefore), mib(mem.peak)
	}
	row.RSSPerTarget = row.PeakRSS / float64(n)
	row.RSSAnon, row.RSSFile = mib(mem.anon), mib(mem.file)
	if h.profile.enabled() {
		if err := h.profile.take(ctx, n, d.metrics); err != nil {
			return err
		}
	}
	return nil
}

// readCPUs reads each process's CPU time.
func readCPUs(procs ...*child.Process) ([]procCPU, error) {
	out := make([]procCPU, len(procs))
	for i, p := range procs {
		c, err := readCPU(p.Pid())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		out[i] = c
	}
	return out, nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
