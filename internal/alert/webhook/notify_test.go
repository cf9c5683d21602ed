package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestSignature checks the signature a receiver verifies: the hex
// HMAC-SHA256 of "<timestamp>.<body>" under the secret, with the
// timestamp the attempt's time; unsigned requests carry neither header.
// Every request carries the message ID.
func TestSignature(t *testing.T) {
	base := testkit.BaseTime(t)
	const secret = "s3cret-hmac-key"
	rc := &receiver{}
	url := serve(t, rc)
	signed := newNotifier(t, url, Options{HMACSecret: secret})
	unsigned := newNotifier(t, url, Options{})
	for _, n := range []*Notifier{signed, unsigned} {
		if _, err := n.Notify(context.Background(), group(base, fpsLow(base))); err != nil {
			t.Fatal(err)
		}
	}
	reqs := rc.requests()
	s, u := reqs[0], reqs[1]

	ts := s.Header.Get(HeaderTimestamp)
	if ts != strconv.FormatInt(base.Unix(), 10) {
		t.Errorf("%s = %q, want %d (the clock's Unix seconds)", HeaderTimestamp, ts, base.Unix())
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(s.Body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := s.Header.Get(HeaderSignature); got != want {
		t.Errorf("%s = %q, want %q", HeaderSignature, got, want)
	}
	// A replayed body under another timestamp does not verify.
	mac = hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(base.Unix()+600, 10) + "." + string(s.Body)))
	if s.Header.Get(HeaderSignature) == "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		t.Error("the signature does not cover the timestamp")
	}

	if u.Header.Get(HeaderSignature) != "" || u.Header.Get(HeaderTimestamp) != "" {
		t.Errorf("unsigned request carries %v", u.Header)
	}
	for _, r := range reqs {
		if r.Header.Get(HeaderMessageID) != "msg-1" {
			t.Errorf("%s = %q, want msg-1", HeaderMessageID, r.Header.Get(HeaderMessageID))
		}
	}
}

// TestVerdicts maps each answer a receiver gives to retry or permanent,
// as Alertmanager's webhook notifier does, with Retry-After honoured;
// each answer costs exactly one request (retries are the outbox's).
func TestVerdicts(t *testing.T) {
	base := testkit.BaseTime(t)
	tests := []struct {
		name       string
		respond    func(int, http.ResponseWriter, *http.Request)
		retry      bool
		code       int
		reason     string
		retryAfter time.Duration
	}{
		{"200", answer(200, "ok"), false, 0, "", 0},
		{"204", answer(204, ""), false, 0, "", 0},
		{"429 with Retry-After", answer(429, "slow down", "Retry-After", "30"), true, 429, "too_many_requests", 30 * time.Second},
		{"503 with a Retry-After date", answer(503, "", "Retry-After", base.Add(90*time.Second).Format(http.TimeFormat)),
			true, 503, "service_unavailable", 90 * time.Second},
		{"500", answer(500, "<html>oops</html>"), true, 500, "internal_server_error", 0},
		{"502", answer(502, ""), true, 502, "bad_gateway", 0},
		{"408", answer(408, ""), true, 408, "request_timeout", 0},
		{"599", answer(599, ""), true, 599, "http_599", 0},
		{"400", answer(400, "bad payload"), false, 400, "bad_request", 0},
		{"401", answer(401, ""), false, 401, "unauthorized", 0},
		{"403 with a Retry-After", answer(403, "", "Retry-After", "30"), false, 403, "forbidden", 0},
		{"404", answer(404, "no such hook"), false, 404, "not_found", 0},
		{"410", answer(410, ""), false, 410, "gone", 0},
		{"413", answer(413, ""), false, 413, "request_entity_too_large", 0},
		{"422", answer(422, ""), false, 422, "unprocessable_entity", 0},
		{"redirect", func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		}, false, 307, "temporary_redirect", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := &receiver{respond: tc.respond}
			n := newNotifier(t, serve(t, rc)+"/hook", Options{})
			retry, err := n.Notify(context.Background(), group(base, fpsLow(base)))
			if retry != tc.retry {
				t.Errorf("retry = %v, want %v (err %v)", retry, tc.retry, err)
			}
			if got := len(rc.requests()); got != 1 {
				t.Errorf("%d requests, want exactly 1", got)
			}
			if tc.code == 0 {
				if err != nil {
					t.Errorf("err = %v, want delivered", err)
				}
				return
			}
			var de *alert.DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *alert.DeliveryError", err)
			}
			got := *de
			got.Err = nil // the answer's text, checked elsewhere
			if want := (alert.DeliveryError{Sink: "hooks", Code: tc.code, Reason: tc.reason, RetryAfter: tc.retryAfter}); got != want {
				t.Errorf("DeliveryError = %+v, want %+v", got, want)
			}
		})
	}
}

// TestAnswerInError: the start of an error answer, on one line, is in the
// error for the operator, after the endpoint without its path; a long one
// is cut.
func TestAnswerInError(t *testing.T) {
	base := testkit.BaseTime(t)
	long := strings.Repeat("é", 300)
	for _, tc := range []struct{ body, want string }{
		{"invalid\n  payload: alerts[0]\n", "/<redacted>: HTTP 400: invalid payload: alerts[0]"},
		{long, "/<redacted>: HTTP 400: " + strings.Repeat("é", 100) + "…"},
	} {
		url := serve(t, &receiver{respond: answer(400, tc.body)})
		n := newNotifier(t, url+"/hook", Options{})
		_, err := n.Notify(context.Background(), group(base, fpsLow(base)))
		if err == nil || !strings.HasSuffix(err.Error(), "webhook: POST "+url+tc.want) {
			t.Errorf("err = %v, want it to end with %q", err, "webhook: POST "+url+tc.want)
		}
	}
}

// TestTimeout hangs the receiver inside a synctest bubble: Notify gives up
// at its Timeout of fake time and asks for a retry.
func TestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := testkit.BaseTime(t)
		hang := &receiver{respond: func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }}
		n := newNotifier(t, "https://hooks.example.com/hook", Options{HTTPClient: handlerClient(hang), Timeout: 10 * time.Second})
		start := time.Now()
		retry, err := n.Notify(context.Background(), group(base, fpsLow(base)))
		if waited := time.Since(start); waited != 10*time.Second {
			t.Errorf("gave up after %s, want the 10s Timeout", waited)
		}
		var de *alert.DeliveryError
		if !retry || !errors.As(err, &de) || de.Reason != "timeout" || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Notify = %v, %v; want retry, reason timeout, wrapping DeadlineExceeded", retry, err)
		}
	})
}

func TestConnectionRefused(t *testing.T) {
	base := testkit.BaseTime(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	n := newNotifier(t, srv.URL+"/hook", Options{})
	srv.Close() // nothing listens there any more
	retry, err := n.Notify(context.Background(), group(base, fpsLow(base)))
	var de *alert.DeliveryError
	if !retry || !errors.As(err, &de) || de.Reason != "connection refused" || de.Code != 0 {
		t.Errorf("Notify = %v, %v; want retry with reason connection refused", retry, err)
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no name", Options{URL: "https://hooks.example.com/x"}, "name is empty"},
		{"no URL", Options{Name: "hooks"}, "URL is empty: set url, url_file or url_env"},
		{"relative URL", Options{Name: "hooks", URL: "hooks.example.com/x"}, "not an absolute http(s) URL"},
		{"other scheme", Options{Name: "hooks", URL: "ftp://hooks.example.com/x"}, "not an absolute http(s) URL"},
		{"negative timeout", Options{Name: "hooks", URL: "https://hooks.example.com/x", Timeout: -time.Second}, "timeout -1s is negative"},
		{"negative max_alerts", Options{Name: "hooks", URL: "https://hooks.example.com/x", MaxAlerts: -1}, "max_alerts -1 is negative"},
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
