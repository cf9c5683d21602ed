package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/tools/internal/child"
)

// User-Agent prefixes of the two HTTP clients, as the sims' /stats count
// their requests.
const (
	daemonUserAgent   = "spacetime-watch"
	blackboxUserAgent = "Blackbox Exporter"
)

// blackboxConfig is the exporter's one module: GET, 200 wanted, as the
// daemon's /status check.
const blackboxConfig = `modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      method: GET
      valid_status_codes: [200]
`

// measureHTTP is the HTTP phase of one N: a daemon whose targets have no
// telemetry (telemetry_urls: []), its checks every httpInterval, and the
// blackbox exporter probing each target's /status once per httpInterval,
// both on the same sims in the same window. CPU per request is each
// process's CPU time over the requests the sims counted from it.
func (h *harness) measureHTTP(ctx context.Context, f *fleet, dir string, row *Row) error {
	targets, err := h.httpTargetFile(ctx, f, dir)
	if err != nil {
		return err
	}
	// A round may take its whole interval; its requests and its
	// telemetry check (none here) must fit in it, below.
	d, err := h.startDaemon(ctx, dir, "daemon-http", fmt.Sprintf(
		"target_files: [%q]\ndefaults:\n  schedule: {interval: %s, timeout: %s}\n  checks: {request_timeout: %s, telemetry_timeout: %s}\n",
		targets, h.httpInterval, h.httpInterval, h.httpInterval/2, h.httpInterval/2))
	if err != nil {
		return err
	}
	defer d.proc.Stop(10 * time.Second)
	bbAddr, err := child.FreeAddr()
	if err != nil {
		return err
	}
	bbConfig := filepath.Join(dir, "blackbox.yml")
	if err := os.WriteFile(bbConfig, []byte(blackboxConfig), 0o600); err != nil {
		return err
	}
	bb, _, err := child.Start("blackbox_exporter", filepath.Join(dir, "blackbox.log"), false, h.blackbox,
		"--config.file="+bbConfig, "--web.listen-address="+bbAddr, "--log.level=warn")
	if err != nil {
		return err
	}
	defer bb.Stop(10 * time.Second)
	watch := []*child.Process{f.proc, d.proc, bb}
	err = waitFor(ctx, "blackbox_exporter", 30*time.Second, 100*time.Millisecond, watch, func() (bool, error) {
		_, err := get(ctx, "http://"+bbAddr+"/-/healthy")
		return err == nil, err
	})
	if err != nil {
		return err
	}

	pctx, stopProbes := context.WithCancel(ctx)
	var failed atomic.Uint64
	var wg sync.WaitGroup
	wg.Go(func() { probeLoop(pctx, "http://"+bbAddr, h.apis, h.httpInterval, &failed) })
	defer func() { stopProbes(); wg.Wait() }()

	// One interval for the daemon's spread first rounds to settle.
	if !clock.Sleep(ctx, h.httpInterval) {
		return ctx.Err()
	}
	s0, err := f.stats(ctx)
	if err != nil {
		return err
	}
	cpu0, err := readCPUs(d.proc, bb)
	if err != nil {
		return err
	}
	if !clock.Sleep(ctx, h.httpWindow) {
		return ctx.Err()
	}
	cpu1, err := readCPUs(d.proc, bb)
	if err != nil {
		return err
	}
	s1, err := f.stats(ctx)
	if err != nil {
		return err
	}
	for _, c := range watch {
		if err := c.Alive(); err != nil {
			return err
		}
	}
	hr := &row.HTTP
	hr.Interval = h.httpInterval.String()
	hr.DaemonRequests = s1.requests(daemonUserAgent) - s0.requests(daemonUserAgent)
	hr.BlackboxRequests = s1.requests(blackboxUserAgent) - s0.requests(blackboxUserAgent)
	hr.DaemonCPUSeconds = (cpu1[0] - cpu0[0]).Seconds()
	hr.BlackboxCPUSeconds = (cpu1[1] - cpu0[1]).Seconds()
	hr.DaemonCPUPerRequest = perRequestMs(hr.DaemonCPUSeconds, hr.DaemonRequests)
	hr.BlackboxCPUPerRequest = perRequestMs(hr.BlackboxCPUSeconds, hr.BlackboxRequests)
	hr.ProbesFailed = failed.Load()
	return nil
}

func perRequestMs(cpu float64, requests uint64) float64 {
	if requests == 0 {
		return 0
	}
	return cpu / float64(requests) * 1000
}

// httpTargetFile writes a target file listing the sims without their
// telemetry, and lists their API URLs in row order for the prober.
func (h *harness) httpTargetFile(ctx context.Context, f *fleet, dir string) (string, error) {
	b, err := get(ctx, f.control+"/info")
	if err != nil {
		return "", err
	}
	var infos []struct {
		Name string `json:"name"`
		API  string `json:"api"`
	}
	if err := json.Unmarshal(b, &infos); err != nil {
		return "", fmt.Errorf("the sims' /info: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString("# make bench-fleet, HTTP phase: the sims without telemetry\n")
	h.apis = h.apis[:0]
	for _, in := range infos {
		fmt.Fprintf(&buf, "- name: %s\n  api_url: http://%s\n  telemetry_urls: []\n  token_file: %q\n", in.Name, in.API, f.targetFile+".token")
		h.apis = append(h.apis, "http://"+in.API+"/status")
	}
	path := filepath.Join(dir, "targets-http.yaml")
	return path, os.WriteFile(path, buf.Bytes(), 0o600)
}

// probeWorkers bounds the probes in flight.
const probeWorkers = 16

// probeLoop asks the blackbox exporter to probe each target's /status once
// per interval, the targets evenly spread over it, until ctx ends, and
// counts the probes that did not succeed.
func probeLoop(ctx context.Context, blackbox string, targets []string, interval time.Duration, failed *atomic.Uint64) {
	if len(targets) == 0 {
		return
	}
	work := make(chan string)
	var wg sync.WaitGroup
	for range probeWorkers {
		wg.Go(func() {
			for t := range work {
				u := blackbox + "/probe?module=http_2xx&target=" + url.QueryEscape(t)
				b, err := get(ctx, u)
				if ctx.Err() == nil && (err != nil || !bytes.Contains(b, []byte("\nprobe_success 1"))) {
					failed.Add(1)
				}
			}
		})
	}
	defer func() { close(work); wg.Wait() }()
	tick := time.NewTicker(interval / time.Duration(len(targets)))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case work <- targets[i%len(targets)]:
		case <-ctx.Done():
			return
		}
	}
}
