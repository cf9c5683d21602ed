package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/tools/internal/child"
)

// httpClient is the driver's client to the daemon and Alertmanager.
var httpClient = &http.Client{Timeout: 3 * time.Second}

// waitHTTP polls url until it answers 200, or the timeout.
func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := clock.Deadline(timeout)
	for {
		resp, err := httpClient.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if clock.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %s (last: %v)", url, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// scrape reads a /metrics page into series → value ("name{labels}" as
// the page writes it).
func scrape(url string) (map[string]float64, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// sumOf adds the series of metric name (every label set).
func sumOf(m map[string]float64, name string) float64 {
	var sum float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			sum += v
		}
	}
	return sum
}

// amReceiver is the webhook Alertmanager notifies: it records each alert
// of each notification as a notice.
type amReceiver struct {
	srv *http.Server
	url string

	mu      sync.Mutex
	notices []Notice
}

func startAMReceiver() (*amReceiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &amReceiver{url: "http://" + l.Addr().String() + "/"}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

// ServeHTTP records one Alertmanager webhook notification.
func (r *amReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body struct {
		Alerts []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := clock.Now()
	r.mu.Lock()
	for _, a := range body.Alerts {
		r.notices = append(r.notices, Notice{Target: a.Labels["target"], Alert: a.Labels["alertname"], State: a.Status, At: now})
	}
	r.mu.Unlock()
}

func (r *amReceiver) all() []Notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Notice(nil), r.notices...)
}

func (r *amReceiver) close() { _ = r.srv.Close() }

// amConfig routes every alert to the driver's receiver at once.
const amConfig = `route:
  receiver: driver
  group_by: [alertname, target]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: driver
    webhook_configs:
      - url: %s
        send_resolved: true
`

// startAlertmanager runs bin with its config and storage in dir,
// notifying hook, and waits until it is ready.
func startAlertmanager(ctx context.Context, dir, bin, hook string) (*child.Process, string, error) {
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, amConfig, hook), 0o600); err != nil {
		return nil, "", err
	}
	web, err := child.FreeAddr()
	if err != nil {
		return nil, "", err
	}
	cluster, err := child.FreeAddr()
	if err != nil {
		return nil, "", err
	}
	url := "http://" + web
	p, _, err := child.Start("alertmanager", filepath.Join(dir, "alertmanager.log"), false, bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "am-data"),
		"--web.listen-address="+web, "--web.external-url="+url, "--cluster.listen-address="+cluster)
	if err != nil {
		return nil, "", err
	}
	if err := waitHTTP(ctx, url+"/-/ready", 30*time.Second); err != nil {
		_ = p.SignalWait(syscall.SIGKILL, killGrace)
		return nil, "", err
	}
	return p, url, nil
}

// killGrace is how long a signalled child may take to exit before it is
// killed.
const killGrace = 15 * time.Second
