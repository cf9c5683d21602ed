// The processes the end-to-end tests run (the demo, Prometheus) and
// Prometheus' HTTP API. Linux only: a child gets SIGKILL when the test
// binary dies (Pdeathsig), so a test killed by -timeout leaves nothing
// behind.

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// process is a child process the test owns: its output is kept, and it is
// stopped (SIGTERM, then SIGKILL after 10 s) when the test ends.
type process struct {
	name   string
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{} // closed once the process has exited
}

func startProcess(t *testing.T, name, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), out: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// A test binary killed by its -timeout must not leave processes behind.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *process) stop(t *testing.T) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("%s did not stop within 10 s of SIGTERM; killing it", p.name)
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	if t.Failed() {
		t.Logf("%s output:\n%s", p.name, p.out.String())
	}
}

// waitOutput waits until the process's output matches re and returns the
// submatches.
func (p *process) waitOutput(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited (%v) before printing %s:\n%s", p.name, p.cmd.ProcessState, re, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %s within %s:\n%s", p.name, re, timeout, p.out.String())
		}
	}
}

// promServer is a Prometheus server the test runs, and its HTTP API.
type promServer struct {
	*process
	base   string
	client *http.Client
}

// startPrometheus runs Prometheus on a free loopback port, scraping the
// daemons at targets (host:port) every second with job spacetime-watch and
// evaluating ruleFile every second, and waits until it is ready.
func startPrometheus(t *testing.T, bin, dir, ruleFile string, targets ...string) *promServer {
	t.Helper()
	config := filepath.Join(dir, "prom.yml")
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: spacetime-watch
    static_configs:
      - targets: [%s]
`, ruleFile, strings.Join(quoted, ", "))
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(loopbackPort(t))
	p := &promServer{
		base:   "http://" + addr,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}},
	}
	p.process = startProcess(t, "prometheus", bin,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--web.enable-lifecycle",
	)
	t.Cleanup(p.client.CloseIdleConnections) // before stop: cleanups run last in, first out
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := p.client.Get(p.base + "/-/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("prometheus exited (%v):\n%s", p.cmd.ProcessState, p.out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 30 s:\n%s", p.out.String())
		}
	}
}

// promResult is the data of a query or query_range answer.
type promResult struct {
	ResultType string `json:"resultType"`
	Result     []struct {
		Metric map[string]string `json:"metric"`
		Value  []any             `json:"value"`  // instant: [time, "value"]
		Values [][]any           `json:"values"` // range: [[time, "value"], …]
	} `json:"result"`
}

// samples returns every value of the result.
func (r promResult) samples() []float64 {
	var vs []float64
	for _, s := range r.Result {
		points := s.Values
		if s.Value != nil {
			points = append(points, s.Value)
		}
		for _, p := range points {
			if len(p) != 2 {
				continue
			}
			str, _ := p[1].(string)
			if v, err := strconv.ParseFloat(str, 64); err == nil {
				vs = append(vs, v)
			}
		}
	}
	return vs
}

// finite reports whether the result holds a value a panel can draw (not
// NaN, not infinite).
func (r promResult) finite() bool {
	return slices.ContainsFunc(r.samples(), func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) })
}

func (r promResult) distinctValues() []float64 {
	vs := r.samples()
	slices.Sort(vs)
	return slices.Compact(vs)
}

func (p *promServer) query(expr string, at time.Time, r *promResult) error {
	return p.api("/api/v1/query", url.Values{"query": {expr}, "time": {unixString(at)}}, r)
}

func (p *promServer) queryRange(expr string, start, end time.Time, step time.Duration, r *promResult) error {
	return p.api("/api/v1/query_range", url.Values{
		"query": {expr}, "start": {unixString(start)}, "end": {unixString(end)}, "step": {step.String()},
	}, r)
}

// get calls an API endpoint that cannot fail on good input.
func (p *promServer) get(t *testing.T, path string, params url.Values, data any) {
	t.Helper()
	if err := p.api(path, params, data); err != nil {
		t.Fatal(err)
	}
}

// api calls Prometheus' HTTP API (POST form, as Grafana does, where the
// endpoint takes it) and decodes
// the data of a success; an error answer is returned as an error naming
// its type.
func (p *promServer) api(path string, params url.Values, data any) error {
	var resp *http.Response
	var err error
	if strings.Contains(path, "/label/") || strings.HasSuffix(path, "/alerts") {
		// The label values and alerts endpoints answer GET only.
		resp, err = p.client.Get(p.base + path + "?" + params.Encode())
	} else {
		resp, err = p.client.PostForm(p.base+path, params)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s: %s: %s", path, resp.Status, body.ErrorType, body.Error)
	}
	return json.Unmarshal(body.Data, data)
}

// waitData waits until an instant query returns a series.
func (p *promServer) waitData(t *testing.T, expr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		var r promResult
		err := p.query(expr, time.Now(), &r)
		switch {
		case err != nil:
			last = err.Error()
		case len(r.Result) > 0:
			return
		default:
			last = "no data"
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s after %s", expr, last, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func unixString(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// loopbackPort returns a loopback TCP port free at the time of the call.
func loopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer is a bytes.Buffer safe for a process's output copier and
// the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
