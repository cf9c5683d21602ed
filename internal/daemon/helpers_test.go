package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/exporter-toolkit/web"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// The daemon's end-to-end tests run the real daemon.Run against simulated
// instances on loopback ports, with a config on a fast clock: scheduled
// rounds every second and short request timeouts, so that a round's
// results, a reload or a restart show within a couple of seconds.

// simTarget is one target of a test config.
type simTarget struct {
	name string
	sim  *sim.Sim
}

// fastDefaults is the defaults section of every test config: a round every
// second, bounded well inside it.
const fastDefaults = `defaults:
  schedule: {interval: 1s, timeout: 900ms}
  checks: {request_timeout: 300ms, telemetry_timeout: 500ms}
`

// configYAML is a config watching targets, with each checklist target's
// token in a file under dir.
func configYAML(t *testing.T, dir string, targets ...simTarget) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(fastDefaults)
	b.WriteString("targets:\n")
	for _, tg := range targets {
		info := tg.sim.Info()
		fmt.Fprintf(&b, "  - name: %s\n    api_url: http://%s\n    telemetry_urls: [\"ws://%s/\"]\n", tg.name, info.API, info.Telemetry)
		tokenFile := filepath.Join(dir, tg.name+".token")
		testkit.WriteFile(t, tokenFile, info.Token+"\n")
		fmt.Fprintf(&b, "    token_file: %s\n", tokenFile)
	}
	return b.String()
}

// mainConfig writes a config watching one simulated instance, "main",
// and returns its path.
func mainConfig(t *testing.T) string {
	t.Helper()
	s := simtest.Start(t, sim.Options{})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"main", s}))
	return cfg
}

// basicAuthWebConfig writes a --web.config.file that admits user with
// password by basic auth, and returns its path.
func basicAuthWebConfig(t *testing.T, user, password string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "web.yml")
	testkit.WriteFile(t, path, "basic_auth_users:\n  "+user+": "+string(hash)+"\n")
	return path
}

// fakeNotifier records the systemd notifications the daemon sends.
type fakeNotifier struct {
	watchdog time.Duration

	mu     sync.Mutex
	states []string
	ready  chan struct{}
}

func newFakeNotifier(watchdog time.Duration) *fakeNotifier {
	return &fakeNotifier{watchdog: watchdog, ready: make(chan struct{})}
}

func (n *fakeNotifier) Notify(state string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.states = append(n.states, state)
	if state == "READY=1" {
		close(n.ready)
	}
}

func (n *fakeNotifier) WatchdogInterval() time.Duration { return n.watchdog }

// count returns how many times state was sent.
func (n *fakeNotifier) count(state string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, s := range n.states {
		if s == state {
			c++
		}
	}
	return c
}

func (n *fakeNotifier) sent() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.states...)
}

// runningDaemon is a daemon.Run in a goroutine.
type runningDaemon struct {
	t          testing.TB
	configFile string
	stateDir   string
	port       string // the listener's port
	url        string // the daemon's base URL on 127.0.0.1
	reg        *prometheus.Registry
	notifier   *fakeNotifier
	reload     chan struct{}
	cancel     context.CancelFunc
	done       chan error
}

// daemonSetup tunes startDaemon.
type daemonSetup struct {
	// stateDir defaults to a new temporary dir.
	stateDir string
	// watchdog is the fake systemd's WatchdogSec (0: off).
	watchdog time.Duration
	// listen is the listen address; default 127.0.0.1:0. On 0.0.0.0 the
	// daemon is also reached from the host's other addresses.
	listen string
	// webConfigFile is --web.config.file; default none.
	webConfigFile string
	// logger is the daemon's logger; default none.
	logger *zap.Logger
	// lifecycle is --web.enable-lifecycle.
	lifecycle bool
	// pprof is --web.enable-pprof.
	pprof bool
	// autoReload is --config.auto-reload, with a 50ms debounce.
	autoReload bool
	// statusInterval is how often the daemon looks at its STATUS= line;
	// default the daemon's.
	statusInterval time.Duration
	// statusPageRefresh is how often the status page refreshes itself;
	// default the daemon's.
	statusPageRefresh time.Duration
}

// startDaemon runs the daemon on configFile and waits for READY=1. The
// daemon is stopped when the test ends, and must stop within 10 s.
func startDaemon(t testing.TB, configFile string, setup daemonSetup) *runningDaemon {
	t.Helper()
	if setup.stateDir == "" {
		setup.stateDir = t.TempDir()
	}
	if setup.listen == "" {
		setup.listen = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", setup.listen)
	if err != nil {
		t.Fatal(err)
	}
	addrs, noSocket := []string{setup.listen}, false
	webFlags := &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &noSocket, WebConfigFile: &setup.webConfigFile}
	ctx, cancel := context.WithCancel(context.Background())
	d := &runningDaemon{
		t: t, configFile: configFile, stateDir: setup.stateDir,
		port:     strconv.Itoa(l.Addr().(*net.TCPAddr).Port),
		reg:      prometheus.NewRegistry(),
		notifier: newFakeNotifier(setup.watchdog),
		reload:   make(chan struct{}),
		cancel:   cancel,
		done:     make(chan error, 1),
	}
	d.url = "http://" + net.JoinHostPort("127.0.0.1", d.port)
	go func() {
		d.done <- daemon.Run(ctx, daemon.Options{
			ConfigFile: configFile,
			StateDir:   setup.stateDir,
			Listener:   l,
			Reload:     d.reload,
			Registry:   d.reg,
			Notifier:   d.notifier,
			Web:        webFlags,
			Logger:     setup.logger,

			EnableLifecycle:     setup.lifecycle,
			EnablePprof:         setup.pprof,
			AutoReload:          setup.autoReload,
			AutoReloadDebounce:  50 * time.Millisecond,
			TargetFilesDebounce: 50 * time.Millisecond,
			StatusInterval:      setup.statusInterval,
			StatusPageRefresh:   setup.statusPageRefresh,
		})
	}()
	select {
	case <-d.notifier.ready:
	case err := <-d.done:
		cancel()
		t.Fatalf("daemon.Run returned before READY=1: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("no READY=1 within 10s")
	}
	t.Cleanup(func() { d.stop() })
	return d
}

// stop cancels the daemon and returns Run's error; it fails the test when
// Run takes more than 10 s (the graceful-shutdown budget). Safe to call twice.
func (d *runningDaemon) stop() error {
	d.t.Helper()
	d.cancel()
	select {
	case err, ok := <-d.done:
		if ok {
			close(d.done)
		}
		return err
	case <-time.After(10 * time.Second):
		d.t.Fatal("daemon.Run did not return within 10s of cancellation")
		return nil
	}
}

// sendReload delivers a SIGHUP; it returns once the daemon took it.
func (d *runningDaemon) sendReload() {
	d.t.Helper()
	select {
	case d.reload <- struct{}{}:
	case <-time.After(5 * time.Second):
		d.t.Fatal("the daemon did not take the reload within 5s")
	}
}

// get fetches path from the daemon's web server.
func (d *runningDaemon) get(path string) (int, string) {
	d.t.Helper()
	return httpDo(d.t, http.MethodGet, d.url+path, "")
}

// tryGet fetches url; err is set when nothing answers.
func tryGet(url string) (int, string, error) { return testkit.Get(url, 5*time.Second) }

// httpDo sends body as JSON (none when "") and returns the status and body.
func httpDo(t testing.TB, method, url, body string) (int, string) {
	t.Helper()
	return doFrom(t, nil, jsonRequest(t, method, url, body))
}

// jsonRequest is a request with body as JSON, or no body when it is "".
func jsonRequest(t testing.TB, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// doFrom sends req from the local address src (nil: the kernel's choice)
// and returns the status and body.
func doFrom(t testing.TB, src net.IP, req *http.Request) (int, string) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	if src != nil {
		tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}).DialContext
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, string(b)
}

// status fetches and decodes /api/v1/status.
func (d *runningDaemon) status() daemon.StatusResponse {
	d.t.Helper()
	code, body := d.get("/api/v1/status")
	if code != http.StatusOK {
		d.t.Fatalf("/api/v1/status: %d %s", code, body)
	}
	var st daemon.StatusResponse
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		d.t.Fatalf("/api/v1/status: %v\n%s", err, body)
	}
	return st
}

// sample is one gathered series: its labels and value (counter or gauge;
// a histogram's sample count).
type sample struct {
	labels map[string]string
	value  float64
}

// gather returns every series of the registry by metric name.
func gather(t *testing.T, reg prometheus.Gatherer) map[string][]sample {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string][]sample{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			s := sample{labels: map[string]string{}, value: metricValue(m)}
			for _, lp := range m.GetLabel() {
				s.labels[lp.GetName()] = lp.GetValue()
			}
			out[mf.GetName()] = append(out[mf.GetName()], s)
		}
	}
	return out
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// value finds the series of name whose labels include want.
func value(series map[string][]sample, name string, want map[string]string) (float64, bool) {
	for _, s := range series[name] {
		if matches(s.labels, want) {
			return s.value, true
		}
	}
	return 0, false
}

func matches(labels, want map[string]string) bool {
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// seriesOf counts the series, of any metric, that carry target=name.
func seriesOf(series map[string][]sample, target string) int {
	n := 0
	for _, ss := range series {
		for _, s := range ss {
			if s.labels["target"] == target {
				n++
			}
		}
	}
	return n
}

// waitValue waits until the series of name with labels want has value v.
func waitValue(t *testing.T, reg prometheus.Gatherer, timeout time.Duration, name string, want map[string]string, v float64) {
	t.Helper()
	testkit.Eventually(t, timeout, fmt.Sprintf("%s%v == %g", name, want, v), func() (bool, string) {
		got, ok := value(gather(t, reg), name, want)
		if !ok {
			return false, "absent"
		}
		return got == v, fmt.Sprint(got)
	})
}

// slackMentions counts the messages the fake Slack received whose text or
// blocks contain sub.
func slackMentions(slack *slackfake.Server, sub string) int {
	n := 0
	for _, m := range slack.Messages() {
		if strings.Contains(string(m.Blocks)+m.Text, sub) {
			n++
		}
	}
	return n
}
