package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func newNotifier(t *testing.T, url string, client *http.Client, timeout time.Duration) *Notifier {
	t.Helper()
	if client == nil {
		client = testClient(t)
	}
	n, err := New(Options{Name: "oncall", WebhookURL: url, HTTPClient: client, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNotifyDelivers posts a firing group to the fake Slack, which checks
// Slack's limits, and finds the rendered blocks and fallback there.
func TestNotifyDelivers(t *testing.T) {
	fake := slackfake.New()
	defer fake.Close()
	n := newNotifier(t, fake.WebhookURL(), nil, 0)
	m := group(fpsLow(), memoryHigh())

	retry, err := n.Notify(context.Background(), m)
	if err != nil || retry {
		t.Fatalf("Notify = %v, %v; want delivered", retry, err)
	}
	got := fake.Messages()
	if len(got) != 1 || got[0].Kind != slackfake.Webhook {
		t.Fatalf("fake received %+v, want one webhook message", got)
	}
	want, _ := Render(m, RenderOptions{Sink: "oncall"})
	wantBlocks, _ := json.Marshal(want.Blocks)
	var gotBlocks, wantAny any
	_ = json.Unmarshal(got[0].Blocks, &gotBlocks)
	_ = json.Unmarshal(wantBlocks, &wantAny)
	if got[0].Text != want.Text || !jsonEqual(gotBlocks, wantAny) {
		t.Errorf("received text %q blocks %s, want the rendering", got[0].Text, got[0].Blocks)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestNotifyStormWithinSlackLimits sends a 200-alert group and a
// 1000-alert one: the fake Slack, which refuses what Slack refuses,
// accepts both, and each accounts for all its alerts.
func TestNotifyStormWithinSlackLimits(t *testing.T) {
	fake := slackfake.New()
	defer fake.Close()
	n := newNotifier(t, fake.WebhookURL(), nil, 0)
	for _, size := range []int{200, 1000} {
		if retry, err := n.Notify(context.Background(), storm(size)); err != nil {
			t.Fatalf("%d alerts: Notify = %v, %v", size, retry, err)
		}
	}
	for i, msg := range fake.Messages() {
		var p Payload
		if err := json.Unmarshal(append([]byte(`{"blocks":`), append(msg.Blocks, '}')...), &p); err != nil {
			t.Fatal(err)
		}
		shown, more := checkLimits(t, Payload{Text: msg.Text, Blocks: p.Blocks})
		if want := []int{200, 1000}[i]; shown+more != want {
			t.Errorf("message %d: %d shown + %d more, want %d", i, shown, more, want)
		}
	}
	for _, r := range fake.RequestLog() {
		if r.Error != "" {
			t.Errorf("the fake refused a message: %+v", r)
		}
	}
}

// TestNotifyMapsSlackAnswers checks the verdict for each answer Slack
// gives a webhook: 429 and 5xx are retried (with Retry-After), Slack's
// permanent errors are not, and each is tried exactly once by Notify.
func TestNotifyMapsSlackAnswers(t *testing.T) {
	tests := []struct {
		name       string
		fault      slackfake.Fault
		retry      bool
		code       int
		reason     string
		retryAfter time.Duration
	}{
		{"429 with Retry-After 30", slackfake.RateLimited(30 * time.Second), true, 429, "rate_limited", 30 * time.Second},
		{"429 with retry_after in the body only", slackfake.Fault{Code: 429, Body: `{"ok":false,"error":"rate_limited","retry_after":12}`}, true, 429, "rate_limited", 12 * time.Second},
		{"500", slackfake.ServerError(500), true, 500, "internal_server_error", 0},
		{"502", slackfake.ServerError(502), true, 502, "bad_gateway", 0},
		{"503 with Retry-After", slackfake.Fault{Code: 503, Error: "service_unavailable", Header: http.Header{"Retry-After": {"7"}}}, true, 503, "service_unavailable", 7 * time.Second},
		{"408", slackfake.WebhookError(408, "request_timeout"), true, 408, "request_timeout", 0},
		{"connection reset", slackfake.Reset(), true, 0, "connection reset", 0},
		{"403 invalid_token", slackfake.WebhookError(403, "invalid_token"), false, 403, "invalid_token", 0},
		{"403 action_prohibited", slackfake.WebhookError(403, "action_prohibited"), false, 403, "action_prohibited", 0},
		{"404 no_service", slackfake.WebhookError(404, "no_service"), false, 404, "no_service", 0},
		{"404 channel_not_found", slackfake.WebhookError(404, "channel_not_found"), false, 404, "channel_not_found", 0},
		{"410 channel_is_archived", slackfake.WebhookError(410, "channel_is_archived"), false, 410, "channel_is_archived", 0},
		{"400 invalid_payload", slackfake.WebhookError(400, "invalid_payload"), false, 400, "invalid_payload", 0},
		{"400 invalid_blocks", slackfake.WebhookError(400, "invalid_blocks"), false, 400, "invalid_blocks", 0},
		{"400 with an HTML page", slackfake.Fault{Code: 400, Body: "<html>Bad Request</html>"}, false, 400, "bad_request", 0},
	}
	fake := slackfake.New()
	defer fake.Close()
	n := newNotifier(t, fake.WebhookURL(), nil, 0)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := fake.Requests()
			fake.Inject(slackfake.Webhook, tc.fault)
			retry, err := n.Notify(context.Background(), group(fpsLow()))
			if retry != tc.retry {
				t.Errorf("retry = %v, want %v (err %v)", retry, tc.retry, err)
			}
			var de *alert.DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *alert.DeliveryError", err)
			}
			if de.Sink != "oncall" || de.Code != tc.code || de.Reason != tc.reason || de.RetryAfter != tc.retryAfter {
				t.Errorf("DeliveryError{Sink %q, Code %d, Reason %q, RetryAfter %s}, want {oncall %d %q %s}",
					de.Sink, de.Code, de.Reason, de.RetryAfter, tc.code, tc.reason, tc.retryAfter)
			}
			if alert.RetryAfter(err) != tc.retryAfter {
				t.Errorf("alert.RetryAfter = %s", alert.RetryAfter(err))
			}
			if got := fake.Requests() - before; got != 1 {
				t.Errorf("%d requests, want exactly 1 (retries are the outbox's)", got)
			}
		})
	}
	if len(fake.Messages()) != 0 {
		t.Errorf("a failed post was recorded: %+v", fake.Messages())
	}
}

func TestNotifyConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T0/B0/x"
	srv.Close() // nothing listens there any more
	n := newNotifier(t, url, nil, 0)
	retry, err := n.Notify(context.Background(), group(fpsLow()))
	var de *alert.DeliveryError
	if !retry || !errors.As(err, &de) || de.Reason != "connection refused" || de.Code != 0 {
		t.Errorf("Notify = %v, %v; want retry with reason connection refused", retry, err)
	}
}

// TestNotifyTimeout hangs the fake inside a synctest bubble (in-memory
// transport): Notify gives up at its Timeout of fake time and asks for a
// retry; a parent context's deadline does the same earlier.
func TestNotifyTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := slackfake.NewInMemory()
		defer fake.Close()
		n := newNotifier(t, fake.WebhookURL(), fake.Client(), 10*time.Second)
		fake.Inject(slackfake.Webhook, slackfake.Hang(), slackfake.Hang())

		start := time.Now()
		retry, err := n.Notify(context.Background(), group(fpsLow()))
		if waited := time.Since(start); waited != 10*time.Second {
			t.Errorf("gave up after %s, want the 10s Timeout", waited)
		}
		var de *alert.DeliveryError
		if !retry || !errors.As(err, &de) || de.Reason != "timeout" || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Notify = %v, %v; want retry, reason timeout, wrapping DeadlineExceeded", retry, err)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start = time.Now()
		retry, _ = n.Notify(ctx, group(fpsLow()))
		if waited := time.Since(start); waited != 2*time.Second || !retry {
			t.Errorf("with a 2s context: gave up after %s (retry %v), want 2s", waited, retry)
		}
	})
}

// TestNotifyDoesNotFollowRedirects: a webhook that redirects is
// misconfigured; following would post the alert (and the URL's secret
// path, in Referer-like logs) somewhere else.
func TestNotifyDoesNotFollowRedirects(t *testing.T) {
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the redirect was followed")
	}))
	defer elsewhere.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	n := newNotifier(t, srv.URL+"/services/T0/B0/x", nil, 0)
	retry, err := n.Notify(context.Background(), group(fpsLow()))
	var de *alert.DeliveryError
	if retry || !errors.As(err, &de) || de.Code != http.StatusTemporaryRedirect {
		t.Errorf("Notify = %v, %v; want a permanent error with code 307", retry, err)
	}
}

func TestNotifyRefusesUnrenderable(t *testing.T) {
	fake := slackfake.New()
	defer fake.Close()
	n := newNotifier(t, fake.WebhookURL(), nil, 0)
	retry, err := n.Notify(context.Background(), alert.Message{ID: "x", Kind: alert.KindAlerts})
	var de *alert.DeliveryError
	if retry || !errors.As(err, &de) || de.Reason != "invalid_message" {
		t.Errorf("Notify = %v, %v; want a permanent invalid_message", retry, err)
	}
	if fake.Requests() != 0 {
		t.Error("an unrenderable message was sent")
	}
}

// TestRetryAfter: the header as alert.ParseRetryAfter reads it, else
// Slack's retry_after body field.
func TestRetryAfter(t *testing.T) {
	at := testkit.BaseTime(t)
	tests := []struct {
		name   string
		header string
		body   string
		want   time.Duration
	}{
		{"header", "30", "", 30 * time.Second},
		{"HTTP date", at.Add(45 * time.Second).Format(http.TimeFormat), "", 45 * time.Second},
		{"body only", "", `{"retry_after": 20}`, 20 * time.Second},
		{"header wins", "5", `{"retry_after": 20}`, 5 * time.Second},
		{"garbage header, body", "soon", `{"retry_after": 3}`, 3 * time.Second},
		{"garbage", "soon", "rate_limited", 0},
		{"absurd body is capped", "", `{"retry_after": 1e300}`, time.Hour},
		{"nothing", "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryAfter(tc.header, []byte(tc.body), at); got != tc.want {
				t.Errorf("retryAfter(%q, %q) = %s, want %s", tc.header, tc.body, got, tc.want)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no name", Options{WebhookURL: "https://hooks.slack.com/services/T/B/x"}, "name is empty"},
		{"no URL", Options{Name: "oncall"}, "webhook URL is empty"},
		{"relative URL", Options{Name: "oncall", WebhookURL: "hooks.slack.com/services/T/B/x"}, "not an absolute http(s) URL"},
		{"other scheme", Options{Name: "oncall", WebhookURL: "ftp://hooks.slack.com/x"}, "not an absolute http(s) URL"},
		{"negative timeout", Options{Name: "oncall", WebhookURL: "https://hooks.slack.com/x", Timeout: -time.Second}, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
