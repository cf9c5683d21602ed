package alertmanager

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
)

// t0 is the tests' "now": 10:35:23 on the suite's base date (TestMain
// sets it).
var t0 time.Time

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// request is one request a fake Alertmanager received.
type request struct {
	Method, Path, ContentType string
	User, Password            string
	HasAuth                   bool
	Body                      []byte
}

// alerts decodes the request's body.
func (r request) alerts(t *testing.T) []postableAlert {
	t.Helper()
	var out []postableAlert
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("body is not a JSON array of alerts: %v\n%s", err, r.Body)
	}
	return out
}

// fakeAM is an Alertmanager's v2 alerts endpoint on loopback that records
// what it receives and answers as respond says (200 when nil).
type fakeAM struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []request
	respond func(w http.ResponseWriter, r *http.Request)
}

func newFakeAM(t *testing.T, respond func(w http.ResponseWriter, r *http.Request)) *fakeAM {
	t.Helper()
	f := &fakeAM{respond: respond}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pass, ok := r.BasicAuth()
		f.mu.Lock()
		f.reqs = append(f.reqs, request{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"),
			User: user, Password: pass, HasAuth: ok, Body: body})
		f.mu.Unlock()
		if f.respond != nil {
			f.respond(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAM) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// status answers every request with code and the given header pairs.
func status(code int, body string, header ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// memKV is an in-memory alert.KV.
type memKV struct {
	mu      sync.Mutex
	m       map[string][]byte
	failPut bool
}

func newMemKV() *memKV { return &memKV{m: map[string][]byte{}} }

func (k *memKV) Get(key string) ([]byte, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[key]
	return v, ok, nil
}

func (k *memKV) Put(key string, value []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failPut {
		return errors.New("disk full")
	}
	k.m[key] = append([]byte(nil), value...)
	return nil
}

func (k *memKV) Delete(key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, key)
	return nil
}

// post is one request an in-memory transport received.
type post struct {
	At     time.Time
	URL    string
	Alerts []postableAlert
	Code   int // the answer
}

// memTransport is in-memory Alertmanagers: testing/synctest cannot wait on
// real sockets. It accepts everything, after gate (when set) lets the
// request through, except at the hosts set down, which answer 503.
type memTransport struct {
	mu      sync.Mutex
	posts   []post
	arrived int // requests received, including those held at the gate
	gate    chan struct{}
	down    map[string]bool
}

func (m *memTransport) setDown(host string, down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down == nil {
		m.down = map[string]bool{}
	}
	m.down[host] = down
}

func (m *memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.arrived++
	m.mu.Unlock()
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	var alerts []postableAlert
	if err := json.Unmarshal(body, &alerts); err != nil {
		return nil, err
	}
	m.mu.Lock()
	code := http.StatusOK
	if m.down[r.URL.Host] {
		code = http.StatusServiceUnavailable
	}
	m.posts = append(m.posts, post{At: time.Now(), URL: r.URL.String(), Alerts: alerts, Code: code})
	m.mu.Unlock()
	return &http.Response{StatusCode: code, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

func (m *memTransport) arrivedCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.arrived
}

func (m *memTransport) all() []post {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]post(nil), m.posts...)
}

// firing and resolved are the fixtures' two alerts.
func firingAlert() alert.Alert {
	return alert.Alert{
		Fingerprint: "fp-fps", Target: "main", Name: "fps_low", Severity: alert.SeverityWarning, State: alert.StateFiring,
		StartsAt: t0.Add(-10 * time.Second), Summary: "FPS below 85 on main", Reason: "FPS 60.3 below 85 for 10s",
		Observed: "60.3", Expected: "≥ 85",
		Deployment:   &alert.Deployment{ID: "main-1", Version: "1.0.0", StartedAt: t0.Add(-3 * time.Minute)},
		RunbookURL:   "https://runbooks.example.com/spacetime/fps_low",
		DashboardURL: "http://grafana.example.com/d/spacetime-watch?var-target=main",
	}
}

func resolvedAlert() alert.Alert {
	return alert.Alert{
		Fingerprint: "fp-mem", Target: "main", Name: "memory_high", Severity: alert.SeverityCritical, State: alert.StateResolved,
		StartsAt: t0.Add(-5 * time.Minute), EndsAt: t0.Add(-30 * time.Second),
		Summary: "memory above 400 MB on main", Reason: "memory 350.0 MB back at or below 380 MB for 10s",
		Observed: "350.0 MB", Expected: "≤ 400 MB",
	}
}

func alertsMessage(alerts ...alert.Alert) alert.Message {
	return alert.Message{ID: "msg-1", Kind: alert.KindAlerts, GroupKey: `{target="main"}`,
		GroupLabels: map[string]string{"target": "main"}, Alerts: alerts, Target: "main", CreatedAt: t0}
}

// names returns each alert's alertname, in order.
func names(alerts []postableAlert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Labels["alertname"])
	}
	return out
}
