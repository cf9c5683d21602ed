package slackbot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestErrorMapping checks the verdict for each answer the Web API gives:
// rate limits, transient words, 5xx and resets are retried; words that
// retrying cannot fix are not; each is tried exactly once by Notify.
func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name       string
		fault      slackfake.Fault
		retry      bool
		code       int
		reason     string
		retryAfter time.Duration
	}{
		{"429 Retry-After 30", slackfake.RateLimited(30 * time.Second), true, 429, "ratelimited", 30 * time.Second},
		{"429 without Retry-After", slackfake.Fault{Code: 429, Error: "ratelimited"}, true, 429, "ratelimited", 0},
		{"500", slackfake.ServerError(500), true, 500, "internal_server_error", 0},
		{"503", slackfake.ServerError(503), true, 503, "service_unavailable", 0},
		{"reset", slackfake.Reset(), true, 0, "connection reset", 0},
		{"200 HTML page", slackfake.Fault{Code: 200, Body: "<html>captive portal</html>"}, true, 0, "invalid_response", 0},
	}
	for _, w := range []string{"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"} {
		tests = append(tests, struct {
			name       string
			fault      slackfake.Fault
			retry      bool
			code       int
			reason     string
			retryAfter time.Duration
		}{"ok:false " + w, slackfake.APIError(w), true, 200, w, 0})
	}
	for _, w := range []string{"invalid_auth", "not_authed", "account_inactive", "token_revoked", "missing_scope",
		"channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "msg_too_long", "msg_blocks_too_long", "no_text", "some_new_error"} {
		tests = append(tests, struct {
			name       string
			fault      slackfake.Fault
			retry      bool
			code       int
			reason     string
			retryAfter time.Duration
		}{"ok:false " + w, slackfake.APIError(w), false, 200, w, 0})
	}
	s := newSetup(t)
	n := s.notifier(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.fake.Requests()
			s.fake.Inject(slackfake.PostMessage, tc.fault)
			retry, err := n.Notify(context.Background(), msg(nil, firing("fps_low", nil)))
			if retry != tc.retry {
				t.Errorf("retry = %v, want %v (err %v)", retry, tc.retry, err)
			}
			var de *alert.DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *alert.DeliveryError", err)
			}
			if de.Sink != "bot" || de.Code != tc.code || de.Reason != tc.reason || de.RetryAfter != tc.retryAfter {
				t.Errorf("DeliveryError{Sink %q, Code %d, Reason %q, RetryAfter %s}, want {bot %d %q %s}",
					de.Sink, de.Code, de.Reason, de.RetryAfter, tc.code, tc.reason, tc.retryAfter)
			}
			if got := s.fake.Requests() - before; got != 1 {
				t.Errorf("%d requests, want exactly 1 (retries are the outbox's)", got)
			}
		})
	}
	if len(s.fake.Messages()) != 0 {
		t.Errorf("a failed post was recorded: %+v", s.fake.Messages())
	}
	// The hint tells the operator what to do.
	s.fake.Inject(slackfake.PostMessage, slackfake.APIError("not_in_channel"))
	_, err := n.Notify(context.Background(), msg(nil, firing("fps_low", nil)))
	if err == nil || !strings.Contains(err.Error(), "/invite the bot") {
		t.Errorf("not_in_channel: %v, want the /invite hint", err)
	}
}

// TestTimeoutInSynctest hangs the fake in a synctest bubble (in-memory
// transport): Notify gives up at its Timeout of fake time, asking for a
// retry.
func TestTimeoutInSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := slackfake.NewInMemory()
		defer fake.Close()
		n, err := New(Options{Name: "bot", Token: token, Channel: "C0123456789", APIURL: fake.APIURL(),
			HTTPClient: fake.Client(), KV: newKV(), Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		fake.Inject(slackfake.PostMessage, slackfake.Hang())
		start := time.Now()
		retry, err := n.Notify(context.Background(), msg(nil, firing("fps_low", nil)))
		var de *alert.DeliveryError
		if waited := time.Since(start); waited != 10*time.Second || !retry || !errors.As(err, &de) || de.Reason != "timeout" {
			t.Errorf("after %s: Notify = %v, %v; want a retry after the 10s timeout, reason timeout", waited, retry, err)
		}
		notify(t, n, msg(nil, firing("fps_low", nil)))
	})
}

// sentinelToken must not appear in any error or log line, whatever goes
// wrong (docs/reliability.md scenario 19).
const sentinelToken = "xoxb-SENTINEL-7a1c9e4f20"

// leaks reports whether text carries the token.
func leaks(text string) bool {
	return strings.Contains(strings.ToLower(text), strings.ToLower("SENTINEL-7a1c9e4f20"))
}

func assertClean(t *testing.T, what, text string) {
	t.Helper()
	if leaks(text) {
		t.Errorf("%s leaks the token: %s", what, text)
	}
}

// echoAPI answers every call with Slack-shaped JSON whose error word is
// the request body (token=… included), as a broken proxy might.
func echoAPI(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":false,"error":%q}`, string(b)+" "+r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/"
}

// TestTokenNeverInErrorsOrLogs drives every failure mode with a sentinel
// token and scans the errors and the log for it.
func TestTokenNeverInErrorsOrLogs(t *testing.T) {
	fake := slackfake.New(slackfake.WithToken("xoxb-the-right-one"))
	defer fake.Close()
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL + "/api/"
	refused.Close()

	tests := []struct {
		name  string
		api   func(t *testing.T) string
		fault *slackfake.Fault
	}{
		{"invalid_auth", func(*testing.T) string { return fake.APIURL() }, nil},
		{"connection refused", func(*testing.T) string { return refusedURL }, nil},
		{"timeout", func(*testing.T) string { return fake.APIURL() }, &slackfake.Fault{Hang: true}},
		{"reset", func(*testing.T) string { return fake.APIURL() }, &slackfake.Fault{Reset: true}},
		{"429", func(*testing.T) string { return fake.APIURL() }, &slackfake.Fault{Code: 429, Header: http.Header{"Retry-After": {"3"}}}},
		{"5xx", func(*testing.T) string { return fake.APIURL() }, &slackfake.Fault{Code: 502, Body: "bad gateway"}},
		{"server echoing the request", echoAPI, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				fake.Inject(slackfake.PostMessage, *tc.fault)
			}
			core, logs := observer.New(zap.DebugLevel)
			kv := newKV()
			n, err := New(Options{Name: "bot", Token: sentinelToken, Channel: "C0123456789", APIURL: tc.api(t),
				HTTPClient: testClient(t), KV: kv, Logger: zap.New(core), Timeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			d := dep("dep-1", "v1")
			_, err = n.Notify(context.Background(), msg(d, firing("fps_low", d)))
			testkit.AssertHidden(t, err, leaks)
			for _, e := range logs.All() {
				assertClean(t, "log line", fmt.Sprintf("%s %v", e.Message, e.ContextMap()))
			}
			for _, k := range kv.keys("") {
				v, _, _ := kv.Get(k)
				assertClean(t, "KV record "+k, string(v))
			}
			testkit.AssertHidden(t, n, leaks)
		})
	}
	// Nothing the fake received carries it either (it travels only as the
	// token form field).
	for _, m := range fake.Messages() {
		assertClean(t, "message", m.Text+string(m.Blocks))
	}
}

func TestNewRefuses(t *testing.T) {
	kv := newKV()
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no name", Options{Token: "t", Channel: "C1", KV: kv}, "name is empty"},
		{"no token", Options{Name: "bot", Channel: "C1", KV: kv}, "token is empty"},
		{"no channel", Options{Name: "bot", Token: sentinelToken, KV: kv}, "channel is empty"},
		{"no KV", Options{Name: "bot", Token: sentinelToken, Channel: "C1"}, "no KV"},
		{"bad API URL", Options{Name: "bot", Token: sentinelToken, Channel: "C1", KV: kv, APIURL: "slack.com/api"}, "not an absolute http(s) URL"},
		{"negative timeout", Options{Name: "bot", Token: sentinelToken, Channel: "C1", KV: kv, Timeout: -1}, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
			testkit.AssertHidden(t, err, leaks)
		})
	}
}
