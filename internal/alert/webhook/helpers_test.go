package webhook

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite the testdata golden files")

// received is one request a receiver got.
type received struct {
	Method, Path, Query string
	User                string
	Header              http.Header
	Body                []byte
}

// payload decodes the request's body strictly: a field Payload does not
// know fails the test.
func (r received) payload(t *testing.T) Payload {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	var p Payload
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("body is not a webhook payload: %v\n%s", err, r.Body)
	}
	return p
}

// receiver is a webhook receiver: it records every request and answers as
// respond says (200 when nil). call counts from 0.
type receiver struct {
	respond func(call int, w http.ResponseWriter, r *http.Request)

	mu   sync.Mutex
	reqs []received
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	user := ""
	if r.URL.User != nil {
		user = r.URL.User.String()
	}
	if u, p, ok := r.BasicAuth(); ok {
		user = u + ":" + p
	}
	rc.mu.Lock()
	call := len(rc.reqs)
	rc.reqs = append(rc.reqs, received{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, User: user,
		Header: r.Header.Clone(), Body: body})
	rc.mu.Unlock()
	if rc.respond != nil {
		rc.respond(call, w, r)
	}
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

// serve runs h on a loopback server until the test ends and returns its URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// answer answers code with body and the given header pairs.
func answer(code int, body string, header ...string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// handlerClient serves every request with h in the calling goroutine: no
// socket, so that a test runs inside a testing/synctest bubble. A request
// whose context ends while h runs fails with the context's error.
func handlerClient(h http.Handler) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if err := r.Context().Err(); err != nil {
			return nil, err
		}
		return w.Result(), nil
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// newNotifier makes a notifier for url on clock now with o's other fields.
func newNotifier(t *testing.T, url string, o Options) *Notifier {
	t.Helper()
	o.Name, o.URL = "hooks", url
	if o.Now == nil {
		base := testkit.BaseTime(t)
		o.Now = func() time.Time { return base }
	}
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fpsLow fires on main since 10 minutes before base.
func fpsLow(base time.Time) alert.Alert {
	return alert.Alert{
		Fingerprint: "6f3c1f1e0b8b2a41", Target: "main", Name: "fps_low", Severity: alert.SeverityWarning,
		State: alert.StateFiring, StartsAt: base.Add(-10 * time.Minute),
		Summary: "FPS below 85 on main", Reason: "FPS 60.1 below 85 for 1m",
		Observed: "60.1 fps", Expected: "at least 85 fps",
		Deployment:   &alert.Deployment{ID: "d-7", Version: "1.4.2", StartedAt: base.Add(-time.Hour)},
		RunbookURL:   "https://runbooks.example.com/spacetime/fps_low",
		DashboardURL: "https://grafana.example.com/d/spacetime-watch?var-target=main",
	}
}

// memoryHigh fired on main from an hour before base until 5 minutes before.
func memoryHigh(base time.Time) alert.Alert {
	return alert.Alert{
		Fingerprint: "0c2f9d5b7e1a4c88", Target: "main", Name: "memory_high", Severity: alert.SeverityCritical,
		State: alert.StateResolved, StartsAt: base.Add(-time.Hour), EndsAt: base.Add(-5 * time.Minute),
		Summary: "Memory above 400 MB on main", Reason: "memory 431 MB above 400 MB for 1m",
		Observed: "431.0 MB", Expected: "at most 400 MB",
		Deployment: &alert.Deployment{ID: "d-7", Version: "1.4.2", StartedAt: base.Add(-time.Hour)},
	}
}

// group is main's group notification of alerts.
func group(base time.Time, alerts ...alert.Alert) alert.Message {
	return alert.Message{ID: "msg-1", Kind: alert.KindAlerts, GroupKey: `{target="main"}`,
		GroupLabels: map[string]string{"target": "main"}, Alerts: alerts, CreatedAt: base}
}

// timestampRE matches the RFC 3339 times of a payload.
var timestampRE = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"`)

// relativeTimes indents a payload and writes its times as offsets from
// base ("base-10m0s"), so that the golden file holds whatever the test
// base date; the zero time stays as it is.
func relativeTimes(t *testing.T, body []byte, base time.Time) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, body, "", "  "); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	return timestampRE.ReplaceAllFunc(out.Bytes(), func(q []byte) []byte {
		at, err := time.Parse(time.RFC3339Nano, string(q[1:len(q)-1]))
		if err != nil || at.IsZero() {
			return q
		}
		d := at.Sub(base)
		if d >= 0 {
			return []byte(`"base+` + d.String() + `"`)
		}
		return []byte(`"base-` + (-d).String() + `"`)
	})
}

// checkGolden compares got with testdata/name, or rewrites it under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testkit.CheckGolden(t, "testdata/"+name, append(got, '\n'), *update)
}
