package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestPayloadGolden pins the exact body posted to /api/v2/alerts for each
// kind of post: labels, annotations, startsAt/endsAt (firing: now + 4 ×
// resend interval; resolved: its own end) and generatorURL.
func TestPayloadGolden(t *testing.T) {
	cases := []struct {
		name string
		send func(t *testing.T, n *Notifier)
	}{
		{"alerts", func(t *testing.T, n *Notifier) {
			if retry, err := n.Notify(t.Context(), alertsMessage(firingAlert(), resolvedAlert())); err != nil {
				t.Fatalf("Notify: retry=%v err=%v", retry, err)
			}
		}},
		{"test", func(t *testing.T, n *Notifier) {
			m := alert.Message{ID: "msg-7", Kind: alert.KindTest, Title: "spacetime-watch test notification",
				Text: "Sent by `spacetime-watch notify test`: no action needed.", Target: "main", CreatedAt: t0}
			if retry, err := n.Notify(t.Context(), m); err != nil {
				t.Fatalf("Notify: retry=%v err=%v", retry, err)
			}
		}},
		{"heartbeat", func(t *testing.T, n *Notifier) { n.resend(t.Context()) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			am := newFakeAM(t, nil)
			n, err := New(Options{Name: "am", URLs: []string{am.URL}, Heartbeat: true, Now: fixedClock(t0),
				ExternalLabels: map[string]string{"env": "prod"}, HeartbeatLabels: map[string]string{"instance": "host-1"}, GeneratorURL: "http://watch.example.com:9464/api/v1/alerts"})
			if err != nil {
				t.Fatal(err)
			}
			tc.send(t, n)
			reqs := am.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != http.MethodPost || r.Path != "/api/v2/alerts" || r.ContentType != "application/json" {
				t.Errorf("got %s %s (%s), want POST /api/v2/alerts (application/json)", r.Method, r.Path, r.ContentType)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, r.Body, "", "  "); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, r.Body)
			}
			pretty.WriteByte('\n')
			testkit.CheckGolden(t, filepath.Join("testdata", tc.name+".golden.json"), testkit.UnshiftDates(t, pretty.Bytes()), *update)
		})
	}
}

// TestNotifyPostsToEveryAlertmanager: an HA pair gossips notification
// logs, not alerts, so each member must get the same alerts; a base URL
// with a route prefix keeps its path.
func TestNotifyPostsToEveryAlertmanager(t *testing.T) {
	a, b := newFakeAM(t, nil), newFakeAM(t, nil)
	n, err := New(Options{Name: "am", URLs: []string{a.URL, b.URL + "/alertmanager/"}, Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if retry, err := n.Notify(t.Context(), alertsMessage(firingAlert())); retry || err != nil {
		t.Fatalf("Notify = %v, %v; want delivered", retry, err)
	}
	ra, rb := a.requests(), b.requests()
	if len(ra) != 1 || len(rb) != 1 {
		t.Fatalf("requests: %d and %d, want 1 each", len(ra), len(rb))
	}
	if ra[0].Path != "/api/v2/alerts" || rb[0].Path != "/alertmanager/api/v2/alerts" {
		t.Errorf("paths %q and %q", ra[0].Path, rb[0].Path)
	}
	if !bytes.Equal(ra[0].Body, rb[0].Body) {
		t.Errorf("the two Alertmanagers got different bodies:\n%s\n%s", ra[0].Body, rb[0].Body)
	}
	got := ra[0].alerts(t)
	if len(got) != 1 || !got[0].EndsAt.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("firing alert's endsAt: got %v, want now + 4 × 1m", got)
	}
}

// TestNotifyVerdict maps each Alertmanager answer to the outbox's verdict:
// delivered when any accepted, retry for transient failures (with
// Retry-After), permanent when every one rejected the alerts.
func TestNotifyVerdict(t *testing.T) {
	httpDate := t0.Add(45 * time.Second).Format(http.TimeFormat)
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	cases := []struct {
		name       string
		answers    []func(http.ResponseWriter, *http.Request) // nil: nothing listens
		wantRetry  bool
		wantErr    bool
		wantCode   int
		wantReason string
		wantAfter  time.Duration
		wantText   []string
		wantWarn   bool
	}{
		{name: "both accept", answers: answers(status(200, ""), status(200, ""))},
		{name: "one of two down is still delivered", answers: answers(status(200, ""), nil), wantWarn: true},
		{name: "one of two 5xx is still delivered", answers: answers(status(503, "overloaded"), status(200, "")), wantWarn: true},
		{name: "5xx everywhere", answers: answers(status(500, "boom"), status(502, "bad gateway")),
			wantRetry: true, wantErr: true, wantReason: "server error", wantText: []string{"HTTP 500: boom", "HTTP 502: bad gateway"}},
		{name: "400 everywhere is permanent", answers: answers(status(400, `"start time must be before end time"`), status(400, `"start time must be before end time"`)),
			wantErr: true, wantCode: 400, wantReason: "invalid alerts", wantText: []string{"HTTP 400: start time must be before end time"}},
		{name: "400 and 503 is retried", answers: answers(status(400, "bad"), status(503, "")),
			wantRetry: true, wantErr: true, wantReason: "2 of 2 Alertmanagers failed"},
		{name: "429 with Retry-After seconds", answers: answers(status(429, "slow down", "Retry-After", "30")),
			wantRetry: true, wantErr: true, wantCode: 429, wantReason: "rate limited", wantAfter: 30 * time.Second, wantText: []string{"retry after 30s"}},
		{name: "429 with Retry-After date", answers: answers(status(429, "", "Retry-After", httpDate)),
			wantRetry: true, wantErr: true, wantCode: 429, wantReason: "rate limited", wantAfter: 45 * time.Second},
		{name: "408 is retried", answers: answers(status(408, "")), wantRetry: true, wantErr: true, wantCode: 408},
		{name: "404 is permanent", answers: answers(status(404, "404 page not found")),
			wantErr: true, wantCode: 404, wantReason: "not found"},
		{name: "connection refused", answers: answers(nil), wantRetry: true, wantErr: true, wantReason: "unreachable", wantText: []string{"connection refused"}},
		{name: "no answer within the timeout", answers: answers(hang), wantRetry: true, wantErr: true, wantReason: "timeout", wantText: []string{"no answer within 200ms"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var urls []string
			for _, answer := range tc.answers {
				am := newFakeAM(t, answer)
				if answer == nil {
					am.Close() // nothing listens there any more
				}
				urls = append(urls, am.URL)
			}
			core, logs := observer.New(zap.WarnLevel)
			n, err := New(Options{Name: "am", URLs: urls, Timeout: 200 * time.Millisecond, Now: fixedClock(t0), Logger: zap.New(core)})
			if err != nil {
				t.Fatal(err)
			}
			retry, err := n.Notify(t.Context(), alertsMessage(firingAlert()))
			if retry != tc.wantRetry || (err != nil) != tc.wantErr {
				t.Fatalf("Notify = %v, %v; want retry=%v, error=%v", retry, err, tc.wantRetry, tc.wantErr)
			}
			if got := logs.Len() > 0; got != tc.wantWarn {
				t.Errorf("warning logged: %v, want %v (%v)", got, tc.wantWarn, logs.All())
			}
			if err == nil {
				return
			}
			var de *alert.DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *alert.DeliveryError: %v", err, err)
			}
			if de.Sink != "am" || de.Code != tc.wantCode || (tc.wantReason != "" && de.Reason != tc.wantReason) || de.RetryAfter != tc.wantAfter {
				t.Errorf("got Sink=%q Code=%d Reason=%q RetryAfter=%s; want am, %d, %q, %s",
					de.Sink, de.Code, de.Reason, de.RetryAfter, tc.wantCode, tc.wantReason, tc.wantAfter)
			}
			if got := alert.RetryAfter(err); got != tc.wantAfter {
				t.Errorf("alert.RetryAfter = %s, want %s", got, tc.wantAfter)
			}
			for _, want := range tc.wantText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}

func answers(fs ...func(http.ResponseWriter, *http.Request)) []func(http.ResponseWriter, *http.Request) {
	return fs
}

// TestUserInfoNeverShown: credentials in a URL go out as basic auth and
// appear in no error or log line, whatever fails.
func TestUserInfoNeverShown(t *testing.T) {
	const user, secret = "sentinel-user", "sentinel-password"
	am := newFakeAM(t, status(500, "boom"))
	down := newFakeAM(t, nil)
	down.Close()
	withAuth := func(raw string) string { return strings.Replace(raw, "http://", "http://"+user+":"+secret+"@", 1) }
	core, logs := observer.New(zap.DebugLevel)
	n, err := New(Options{Name: "am", URLs: []string{withAuth(am.URL), withAuth(down.URL)}, Heartbeat: true,
		Now: fixedClock(t0), Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Notify(t.Context(), alertsMessage(firingAlert()))
	if err == nil {
		t.Fatal("Notify succeeded against a failing and a closed Alertmanager")
	}
	n.resend(t.Context()) // logs its failure
	reqs := am.requests()
	if len(reqs) == 0 || !reqs[0].HasAuth || reqs[0].User != user || reqs[0].Password != secret {
		t.Fatalf("basic auth not sent from the URL's user information: %+v", reqs)
	}
	texts := []string{err.Error()}
	if logs.Len() == 0 {
		t.Fatal("the failed re-send logged nothing")
	}
	for _, e := range logs.All() {
		texts = append(texts, e.Message)
		for k, v := range e.ContextMap() {
			texts = append(texts, k+"="+toString(v))
		}
	}
	for _, text := range texts {
		if strings.Contains(text, "sentinel") {
			t.Errorf("user information leaked: %q", text)
		}
	}

	// A URL that does not even parse is not shown with its credentials either.
	_, err = New(Options{Name: "am", URLs: []string{"http://" + user + ":" + secret + "@bad host:9093/"}})
	if err == nil || strings.Contains(err.Error(), "sentinel") {
		t.Errorf("New with a broken URL: %v", err)
	}
}

func toString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestNewValidation: New names the field and the fix.
func TestNewValidation(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"no name", Options{URLs: []string{"http://127.0.0.1:9093"}}, "name is required"},
		{"no URL", Options{Name: "am"}, "urls: at least one"},
		{"bad scheme", Options{Name: "am", URLs: []string{"http://a:1", "ftp://a:1"}}, "urls[1]: ftp://a:1: scheme must be http or https"},
		{"no host", Options{Name: "am", URLs: []string{"http:///x"}}, "host is missing"},
		{"query", Options{Name: "am", URLs: []string{"http://a:1/?x=1"}}, "without query"},
		{"bad label name", Options{Name: "am", URLs: []string{"http://a:1"}, ExternalLabels: map[string]string{"bad-name": "x"}}, `external label "bad-name"`},
		{"test label", Options{Name: "am", URLs: []string{"http://a:1"}, ExternalLabels: map[string]string{TestLabel: "true"}}, `external label "spacetime_watch_test": reserved`},
		{"bad heartbeat label", Options{Name: "am", URLs: []string{"http://a:1"}, HeartbeatLabels: map[string]string{"bad-name": "x"}}, `heartbeat label "bad-name"`},
		{"negative timeout", Options{Name: "am", URLs: []string{"http://a:1"}, Timeout: -time.Second}, "must not be negative"},
		{"relative generator", Options{Name: "am", URLs: []string{"http://a:1"}, GeneratorURL: "/alerts"}, "generator URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestNotifyKinds: a text message has no Alertmanager form and is skipped
// (delivered), an unknown kind is a permanent error, an alert message
// with nothing firing or resolved posts nothing.
func TestNotifyKinds(t *testing.T) {
	am := newFakeAM(t, nil)
	n, err := New(Options{Name: "am", URLs: []string{am.URL}, Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		msg       alert.Message
		wantRetry bool
		wantErr   string
	}{
		{"text is skipped", alert.Message{ID: "m", Kind: alert.KindText, Text: "review at +1h: all good"}, false, ""},
		{"empty alerts", alert.Message{ID: "m", Kind: alert.KindAlerts}, false, ""},
		{"pending only", alertsMessage(alert.Alert{Target: "main", Name: "fps_low", State: alert.StatePending}), false, ""},
		{"unknown kind", alert.Message{ID: "m", Kind: "bogus"}, false, `unknown message kind "bogus"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			retry, err := n.Notify(t.Context(), tc.msg)
			if retry != tc.wantRetry || (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Notify = %v, %v; want %v, %q", retry, err, tc.wantRetry, tc.wantErr)
			}
		})
	}
	if reqs := am.requests(); len(reqs) != 0 {
		t.Errorf("got %d requests, want none", len(reqs))
	}
}

// TestNotifyHonoursContext: a Notify waiting for a re-send in flight gives
// up with its context, as a transient failure.
func TestNotifyHonoursContext(t *testing.T) {
	n, err := New(Options{Name: "am", URLs: []string{"http://127.0.0.1:9"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.lock(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer n.unlock()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	retry, err := n.Notify(ctx, alertsMessage(firingAlert()))
	if !retry || !errors.Is(err, context.Canceled) {
		t.Fatalf("Notify = %v, %v; want retry with context.Canceled", retry, err)
	}
}

func TestSummarize(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"JSON string", `"start time must be before end time"` + "\n", "start time must be before end time"},
		{"plain text on lines", "line one\n  line two\n", "line one line two"},
		{"long", strings.Repeat("é", 150), strings.Repeat("é", 100) + "…"},
		{"invalid UTF-8", "a\xffb", "ab"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := summarize([]byte(tc.in)); got != tc.want {
				t.Errorf("summarize = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestOwnLabels: a sharded daemon's {shard, replica} go on its own alerts
// and its heartbeat, never on a target's alert, whose copies from the two
// replicas of an HA pair must stay one alert to Alertmanager.
func TestOwnLabels(t *testing.T) {
	am := newFakeAM(t, nil)
	own := map[string]string{"shard": "2", "replica": "spacetime-watch-2"}
	n, err := New(Options{Name: "am", URLs: []string{am.URL}, Heartbeat: true, Now: fixedClock(t0), OwnLabels: own})
	if err != nil {
		t.Fatal(err)
	}
	internal := firingAlert()
	internal.Fingerprint, internal.Target, internal.Name = "fp-own", alert.InternalTarget, alert.AlertNotificationsFailing
	if retry, err := n.Notify(t.Context(), alertsMessage(firingAlert(), internal)); retry || err != nil {
		t.Fatalf("Notify = %v, %v; want delivered", retry, err)
	}
	n.resend(t.Context())
	var sent []postableAlert
	for _, r := range am.requests() {
		sent = append(sent, r.alerts(t)...)
	}
	seen := map[string]bool{}
	for _, a := range sent {
		name := a.Labels["alertname"]
		wantOwn := name != "fps_low"
		for k, v := range own {
			if got, ok := a.Labels[k]; wantOwn != ok || (ok && got != v) {
				t.Errorf("%s: label %s = %q (present %v), want present %v", name, k, got, ok, wantOwn)
			}
		}
		seen[name] = true
	}
	for _, name := range []string{"fps_low", alert.AlertNotificationsFailing, "SpacetimeWatchHeartbeat"} {
		if !seen[name] {
			t.Errorf("no %s among the alerts sent: %v", name, sent)
		}
	}
	if _, err := New(Options{Name: "am", URLs: []string{"http://a:1"}, OwnLabels: map[string]string{"bad-name": "x"}}); err == nil || !strings.Contains(err.Error(), `own label "bad-name"`) {
		t.Errorf("a bad own label: %v, want refused naming it", err)
	}
}
