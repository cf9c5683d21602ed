//go:build linux

// Linux only: it runs Debian's prometheus-alertmanager, and the parent-death
// signal that keeps a killed test from leaving Alertmanagers behind is
// Linux's.

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/alertmanager"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestAlertmanagerHA delivers alerts to two real, clustered Alertmanagers
// (Debian's prometheus-alertmanager on loopback, group_wait and
// group_interval 1s) that notify one webhook receiver: first through the
// Alertmanager sink driven directly, then from the daemon watching a
// simulated instance whose FPS drops and recovers. Each time the receiver
// must get the firing alert at least once and at most twice (an HA cluster
// notifies at least once), the keep-alive must not notify again, and the
// resolution must follow. The sink's `notify test` alert must be notified
// too, with its test label.
func TestAlertmanagerHA(t *testing.T) {
	bin := testkit.Tool(t, "prometheus-alertmanager")
	began := time.Now()
	hook := newWebhook(t)
	ams := startAlertmanagerCluster(t, bin, hook.URL)
	waitCluster(t, ams)
	t.Logf("two clustered Alertmanagers ready in %s", time.Since(began).Round(time.Millisecond))

	t.Run("sink", func(t *testing.T) { testSinkToAlertmanagers(t, ams, hook) })
	t.Run("daemon", func(t *testing.T) { testDaemonToAlertmanagers(t, ams, hook) })
	t.Logf("end to end in %s", time.Since(began).Round(time.Millisecond))
}

// testSinkToAlertmanagers drives the sink directly: a firing alert kept
// alive every second, then its resolution; and the heartbeat.
func testSinkToAlertmanagers(t *testing.T, ams []*am, hook *webhook) {
	posts := &countingTransport{base: &http.Transport{}}
	client := &http.Client{Transport: posts}
	t.Cleanup(client.CloseIdleConnections)
	n, err := alertmanager.New(alertmanager.Options{
		Name:           "am",
		URLs:           []string{ams[0].url, ams[1].url},
		HTTPClient:     client,
		Timeout:        2 * time.Second,
		ResendInterval: time.Second, // endsAt 4 s ahead, re-sent every second
		Heartbeat:      true,
		ExternalLabels: map[string]string{"instance": "e2e"},
		Logger:         zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	runDone := make(chan error, 1)
	go func() { runDone <- n.Run(ctx) }()
	stopRun := sync.OnceValue(func() error { cancel(); return <-runDone })
	defer stopRun()

	fps := alert.Alert{
		Fingerprint: "sink-fps_low", Target: "sink", Name: "fps_low", Severity: alert.SeverityWarning, State: alert.StateFiring,
		StartsAt: time.Now().Add(-10 * time.Second), Summary: "FPS below 85 on sink", Reason: "FPS 60.3 below 85 for 10s",
		Observed: "60.3", Expected: "≥ 85",
	}
	notify := func(a alert.Alert) {
		t.Helper()
		m := alert.Message{ID: "sink-" + string(a.State), Kind: alert.KindAlerts, GroupKey: `{target="sink"}`,
			GroupLabels: map[string]string{"target": "sink"}, Alerts: []alert.Alert{a}, Target: "sink", CreatedAt: time.Now()}
		if retry, err := n.Notify(ctx, m); err != nil {
			t.Fatalf("Notify %s: retry=%v: %v", a.State, retry, err)
		}
	}
	fpsLow := series{alertname: "fps_low", target: "sink"}

	sent := time.Now()
	notify(fps)
	hook.waitFor(t, fpsLow, "a firing notification", firingSeen)
	t.Logf("firing notification %s after Notify", time.Since(sent).Round(time.Millisecond))
	for _, a := range ams {
		// Each member got the alert itself: a cluster shares no alerts.
		if got := alertNames(activeAlerts(t, a.url)); !slices.Contains(got, "fps_low") {
			t.Errorf("%s holds active alerts %v, want fps_low among them", a.name, got)
		}
	}
	// Let the keep-alive re-send three times (several group_interval
	// flushes too): none of it may notify again.
	posts.waitRounds(t, 3, len(ams))

	fps.State, fps.EndsAt = alert.StateResolved, time.Now()
	sent = time.Now()
	notify(fps)
	hook.waitFor(t, fpsLow, "the resolution", resolvedLast)
	t.Logf("resolved notification %s after Notify", time.Since(sent).Round(time.Millisecond))
	// Later re-sends must not re-open the alert. The second member of the
	// cluster may still notify a firing it had flushed before the
	// resolution reached it (HA is at-least-once); then its own resolution
	// must follow.
	posts.waitRounds(t, 2, len(ams))
	hook.waitFor(t, fpsLow, "the resolution last", resolvedLast)

	// `notify test`: Alertmanager accepts the test alert and notifies it
	// (it outlives group_wait), labelled for routes that page no one.
	test := alert.Message{ID: "sink-test", Kind: alert.KindTest, Title: "spacetime-watch test notification",
		Target: "sink", CreatedAt: time.Now()}
	if retry, err := n.Notify(ctx, test); err != nil {
		t.Fatalf("Notify test: retry=%v: %v", retry, err)
	}
	sent = time.Now()
	testSeries := series{alertname: alertmanager.TestAlertName, target: "sink"}
	hook.waitFor(t, testSeries, "test notification", firingSeen)
	t.Logf("test notification %s after Notify", time.Since(sent).Round(time.Millisecond))
	if got := hook.label(testSeries, alertmanager.TestLabel); got != "true" {
		t.Errorf("%s notified with %s=%q, want \"true\"", testSeries, alertmanager.TestLabel, got)
	}
	if err := stopRun(); err != nil {
		t.Errorf("Run: %v", err)
	}
	checkOnceOrTwice(t, hook, fpsLow)
	if hb := hook.statuses(series{alertname: alertmanager.HeartbeatAlertName}); len(hb) == 0 || hb[0] != "firing" {
		t.Errorf("heartbeat notifications %v, want it firing", hb)
	}
}

// testDaemonToAlertmanagers runs the daemon with an alertmanager sink
// against the simulator, drops the FPS below the band and brings it back.
func testDaemonToAlertmanagers(t *testing.T, ams []*am, hook *webhook) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	inst := startChecklistSim(t)
	metrics := startDaemon(t, ctx, inst, "daemon", alertmanagerSink(ams[0].url, ams[1].url))
	waitMetric(t, metrics, `spacetime_telemetry_connected{target="daemon"} 1`)

	fpsLow := series{alertname: "fps_low", target: "daemon"}
	if err := inst.PatchFaults([]byte(`{"fps":60}`)); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	hook.waitFor(t, fpsLow, "a firing notification", firingSeen)
	t.Logf("firing notification %s after FPS dropped to 60 (smoothing 5s, for 1s)", time.Since(sent).Round(time.Millisecond))
	if err := inst.PatchFaults([]byte(`{"fps":90}`)); err != nil {
		t.Fatal(err)
	}
	sent = time.Now()
	hook.waitFor(t, fpsLow, "the resolution", resolvedLast)
	t.Logf("resolved notification %s after FPS came back to 90", time.Since(sent).Round(time.Millisecond))
	// Alertmanager gives no signal when it decides not to notify: two
	// group_interval flushes are the window for a stray notification.
	time.Sleep(2 * time.Second)
	hook.waitFor(t, fpsLow, "the resolution last", resolvedLast)
	checkOnceOrTwice(t, hook, fpsLow)
}

func firingSeen(got []string) bool { return slices.Contains(got, "firing") }

func resolvedLast(got []string) bool { return len(got) > 0 && got[len(got)-1] == "resolved" }

// checkOnceOrTwice checks what the receiver got for s: firing first, 1 or
// 2 times, and the resolution last, 1 or 2 times.
func checkOnceOrTwice(t *testing.T, hook *webhook, s series) {
	t.Helper()
	got := hook.statuses(s)
	t.Logf("webhook received for %s: %v (from %v)", s, got, hook.senders(s))
	count := func(status string) int {
		return len(slices.DeleteFunc(slices.Clone(got), func(x string) bool { return x != status }))
	}
	if len(got) == 0 || got[0] != "firing" || count("firing") < 1 || count("firing") > 2 {
		t.Errorf("%s notified %v: want firing first, 1 or 2 times (HA is at-least-once)", s, got)
	}
	if count("resolved") < 1 || count("resolved") > 2 || !resolvedLast(got) {
		t.Errorf("%s notified %v: want the resolution last, 1 or 2 times", s, got)
	}
}

// alertmanagerSink is an alerting section that notifies at once through
// one alertmanager sink to urls, re-sending every second.
func alertmanagerSink(urls ...string) string {
	return fmt.Sprintf(`alerting:
  group_wait: 0s
  group_interval: 1s
  grace_period: 0s
  sinks:
    - name: am
      type: alertmanager
      urls: [%s]
      resend_interval: 1s
`, strings.Join(urls, ", "))
}

// startDaemon runs the daemon in-process, with its own state dir, until
// the test ends (ctx cancelled), watching inst as target with alerting
// (YAML of the alerting section) and fast schedules and thresholds. It
// returns the daemon's /metrics URL.
func startDaemon(t *testing.T, ctx context.Context, inst *sim.Sim, target, alerting string) string {
	t.Helper()
	info := inst.Info()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(info.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(dir, "config.yaml")
	cfg := alerting + fmt.Sprintf(`defaults:
  schedule: {interval: 1s, timeout: 900ms}
  checks: {request_timeout: 300ms, telemetry_timeout: 500ms}
  thresholds:
    fps: {for: 1s}
targets:
  - name: %s
    api_url: http://%s
    telemetry_urls: [ws://%s/]
    token_file: %s
`, target, info.API, info.Telemetry, tokenFile)
	if err := os.WriteFile(configFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{ConfigFile: configFile, StateDir: filepath.Join(dir, "state"), Listener: l,
			Registry: prometheus.NewRegistry(), Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Console: io.Discard})
	}()
	t.Cleanup(func() {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("daemon did not stop within 10 s of its context")
		}
	})
	return "http://" + l.Addr().String() + "/metrics"
}

// waitMetric polls the daemon's /metrics until it shows want.
func waitMetric(t *testing.T, url, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(string(scrape(t, url)), want) {
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never showed %s", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// activeAlerts lists the labels of the alerts an Alertmanager holds as active.
func activeAlerts(t *testing.T, base string) []map[string]string {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get(base + "/api/v2/alerts?active=true&silenced=false&inhibited=false")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var alerts []struct {
		Labels map[string]string `json:"labels"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		t.Fatalf("GET %s/api/v2/alerts: %v", base, err)
	}
	out := make([]map[string]string, 0, len(alerts))
	for _, a := range alerts {
		out = append(out, a.Labels)
	}
	return out
}

// alertNames are the alertname labels of alerts.
func alertNames(alerts []map[string]string) []string {
	names := make([]string, 0, len(alerts))
	for _, a := range alerts {
		names = append(names, a["alertname"])
	}
	return names
}

// am is one Alertmanager process.
type am struct {
	name, url string
	cmd       *exec.Cmd
	out       *syncBuffer
	exited    chan struct{} // closed once the process has exited
}

// startAlertmanagerCluster starts two Alertmanagers on loopback that peer
// with each other and notify hookURL; they stop when the test ends.
func startAlertmanagerCluster(t *testing.T, bin, hookURL string) []*am {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "alertmanager.yml")
	cfg := fmt.Sprintf(`route:
  receiver: webhook
  group_by: [alertname, target]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: %s
        send_resolved: true
`, hookURL)
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	web := []int{freePort(t, false), freePort(t, false)}
	cluster := []int{freePort(t, true), freePort(t, true)}
	ams := make([]*am, 2)
	for i := range ams {
		ams[i] = startAlertmanager(t, bin, dir, config, fmt.Sprintf("am-%d", i), web[i],
			"--cluster.listen-address="+fmt.Sprintf("127.0.0.1:%d", cluster[i]),
			"--cluster.advertise-address="+fmt.Sprintf("127.0.0.1:%d", cluster[i]),
			"--cluster.peer="+fmt.Sprintf("127.0.0.1:%d", cluster[1-i]),
			// Gossip fast so that the cluster settles in about a second
			// and the second member sees the first one's notification log
			// before its own turn (peer-timeout) comes.
			"--cluster.gossip-interval=50ms",
			"--cluster.pushpull-interval=1s",
			"--cluster.probe-interval=200ms",
			"--cluster.reconnect-interval=500ms",
			"--cluster.settle-timeout=5s",
			"--cluster.peer-timeout=1s",
		)
	}
	return ams
}

// startAlertmanager starts one Alertmanager named name with config on
// loopback port web, its storage under dir, and the extra flags; it stops
// when the test ends.
func startAlertmanager(t *testing.T, bin, dir, config, name string, web int, flags ...string) *am {
	t.Helper()
	a := &am{name: name, url: fmt.Sprintf("http://127.0.0.1:%d", web), out: &syncBuffer{}, exited: make(chan struct{})}
	a.cmd = exec.Command(bin, append([]string{
		"--config.file=" + config,
		"--storage.path=" + filepath.Join(dir, a.name),
		"--web.listen-address=" + fmt.Sprintf("127.0.0.1:%d", web),
		"--web.external-url=" + a.url, // names the sender in webhook payloads
		"--log.level=info",
	}, flags...)...)
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	// A test binary killed by its -timeout must not leave Alertmanagers behind.
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", a.name, err)
	}
	go func() {
		_ = a.cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() { stopAlertmanager(t, a) })
	return a
}

// stopAlertmanager ends the process (SIGTERM, then SIGKILL after 5 s) and
// shows its output when the test failed.
func stopAlertmanager(t *testing.T, a *am) {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(5 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
	if t.Failed() {
		t.Logf("%s output:\n%s", a.name, a.out.String())
	}
}

// waitCluster waits until both Alertmanagers answer /-/ready and report a
// settled cluster of two peers (/api/v2/status).
func waitCluster(t *testing.T, ams []*am) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(15 * time.Second)
	for _, a := range ams {
		var last string
		for {
			last = clusterState(client, a.url)
			if last == "ready, 2 peers" {
				break
			}
			if exited(a) || time.Now().After(deadline) {
				t.Fatalf("%s not ready with a cluster of 2 within 15 s (last: %s); output:\n%s", a.name, last, a.out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func exited(a *am) bool {
	select {
	case <-a.exited:
		return true
	default:
		return false
	}
}

// clusterState is "ready, 2 peers" once the Alertmanager at base is ready
// and settled, or what it is instead.
func clusterState(client *http.Client, base string) string {
	resp, err := client.Get(base + "/-/ready")
	if err != nil {
		return err.Error()
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "/-/ready: " + resp.Status
	}
	resp, err = client.Get(base + "/api/v2/status")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var st struct {
		Cluster struct {
			Status string            `json:"status"`
			Peers  []json.RawMessage `json:"peers"`
		} `json:"cluster"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return "/api/v2/status: " + err.Error()
	}
	return fmt.Sprintf("%s, %d peers", st.Cluster.Status, len(st.Cluster.Peers))
}

// freePort returns a loopback port free for TCP (and for UDP when
// withUDP: the cluster's gossip uses both on one port).
func freePort(t *testing.T, withUDP bool) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !withUDP {
			return port
		}
		if u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free loopback port for TCP and UDP")
	return 0
}

// webhook is the Alertmanagers' receiver: it records every notification.
type webhook struct {
	*httptest.Server
	mu     sync.Mutex
	notes  []notification
	notify chan struct{} // a notification arrived
}

// series names an alert by its alertname and target labels.
type series struct{ alertname, target string }

func (s series) String() string { return fmt.Sprintf("%s{target=%q}", s.alertname, s.target) }

// notification is one alert in one webhook call.
type notification struct {
	series
	status, sender string
	labels         map[string]string
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{notify: make(chan struct{}, 1)}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var payload struct {
			ExternalURL string `json:"externalURL"`
			Alerts      []struct {
				Status string            `json:"status"`
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&payload); err != nil {
			t.Errorf("webhook payload: %v", err)
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		for _, a := range payload.Alerts {
			w.notes = append(w.notes, notification{series: series{alertname: a.Labels["alertname"], target: a.Labels["target"]},
				status: a.Status, sender: payload.ExternalURL, labels: a.Labels})
		}
		w.mu.Unlock()
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(w.Close)
	return w
}

// statuses lists the statuses notified for s, in arrival order.
func (w *webhook) statuses(s series) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, n := range w.notes {
		if n.series == s {
			out = append(out, n.status)
		}
	}
	return out
}

// senders lists the Alertmanagers that notified s, in arrival order.
func (w *webhook) senders(s series) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, n := range w.notes {
		if n.series == s {
			out = append(out, n.sender)
		}
	}
	return out
}

// label is the value of label name in the last notification of s.
func (w *webhook) label(s series, name string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	value := ""
	for _, n := range w.notes {
		if n.series == s {
			value = n.labels[name]
		}
	}
	return value
}

// waitFor waits until the statuses notified for s satisfy cond.
func (w *webhook) waitFor(t *testing.T, s series, what string, cond func(statuses []string) bool) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for !cond(w.statuses(s)) {
		select {
		case <-w.notify:
		case <-timeout:
			t.Fatalf("%s: no %s within 20 s (got %v from %v)", s, what, w.statuses(s), w.senders(s))
		}
	}
}

// countingTransport counts the answered POSTs, to wait for keep-alive rounds.
type countingTransport struct {
	base  http.RoundTripper
	posts atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost {
		c.posts.Add(1)
	}
	return resp, err
}

func (c *countingTransport) CloseIdleConnections() {
	if ci, ok := c.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// waitRounds waits until rounds more posts to each of perRound
// Alertmanagers were answered.
func (c *countingTransport) waitRounds(t *testing.T, rounds, perRound int) {
	t.Helper()
	want := c.posts.Load() + int64(rounds*perRound)
	deadline := time.Now().Add(time.Duration(rounds)*time.Second + 10*time.Second)
	for c.posts.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("keep-alive: %d posts, want %d", c.posts.Load(), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a process's output copier and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
