package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
)

// sentinel is the secret part of the webhook URLs below: it must not
// appear in any error, whatever goes wrong (RELIABILITY.md scenario 19).
const sentinel = "SENTINEL-9f3c2a7d41"

func sentinelURL(base string) string {
	return base + "/services/T0SENTINEL/B0SENTINEL/" + sentinel
}

// assertClean fails t if text carries the sentinel or the URL's path.
func assertClean(t *testing.T, what, text string) {
	t.Helper()
	lower := strings.ToLower(text)
	for _, needle := range []string{sentinel, "/services/t0sentinel"} {
		if strings.Contains(lower, strings.ToLower(needle)) {
			t.Errorf("%s leaks the webhook URL: %s", what, text)
		}
	}
}

// assertErrClean checks err's text in every form fmt gives it, and the
// text of every error in its chain.
func assertErrClean(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		assertClean(t, "error as "+verb, fmt.Sprintf(verb, err))
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		assertClean(t, fmt.Sprintf("error in the chain (%T)", e), e.Error())
	}
}

// echoServer answers code with a body that repeats the request's URL,
// path and last segment, as a misbehaving proxy might.
func echoServer(code int) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		segs := strings.Split(r.URL.Path, "/")
		_, _ = io.WriteString(w, "no route for http://"+r.Host+r.URL.String()+" ("+r.URL.Path+", "+segs[len(segs)-1]+")")
	}))
}

// TestWebhookURLNeverInErrors drives every failure mode with a sentinel
// URL and scans the errors for it.
func TestWebhookURLNeverInErrors(t *testing.T) {
	fake := slackfake.New()
	defer fake.Close()
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL
	refused.Close()

	tests := []struct {
		name  string
		base  func(t *testing.T) string
		fault *slackfake.Fault
	}{
		{"connection refused", func(*testing.T) string { return refusedURL }, nil},
		{"timeout", func(*testing.T) string { return fake.URL() }, &slackfake.Fault{Hang: true}},
		{"reset", func(*testing.T) string { return fake.URL() }, &slackfake.Fault{Reset: true}},
		{"429", func(*testing.T) string { return fake.URL() }, ptr(slackfake.RateLimited(time.Second))},
		{"403", func(*testing.T) string { return fake.URL() }, ptr(slackfake.WebhookError(403, "invalid_token"))},
		{"404", func(*testing.T) string { return fake.URL() }, ptr(slackfake.WebhookError(404, "no_service"))},
		{"5xx page", func(*testing.T) string { return fake.URL() }, ptr(slackfake.ServerError(503))},
		{"500 echoing the URL", func(t *testing.T) string {
			s := echoServer(500)
			t.Cleanup(s.Close)
			return s.URL
		}, nil},
		{"404 echoing the URL", func(t *testing.T) string {
			s := echoServer(404)
			t.Cleanup(s.Close)
			return s.URL
		}, nil},
		{"redirect to itself", func(t *testing.T) string {
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.String()+"?again="+r.URL.Path, http.StatusFound)
			}))
			t.Cleanup(s.Close)
			return s.URL
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				fake.Inject(slackfake.Webhook, *tc.fault)
			}
			n := newNotifier(t, sentinelURL(tc.base(t)), nil, 200*time.Millisecond)
			_, err := n.Notify(context.Background(), group(fpsLow()))
			assertErrClean(t, err)
		})
	}
}

func TestWebhookURLNeverPrinted(t *testing.T) {
	n := newNotifier(t, sentinelURL("https://hooks.slack.com"), nil, 0)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x"} {
		assertClean(t, "Notifier as "+verb, fmt.Sprintf(verb, n))
		assertClean(t, "*Notifier as "+verb, fmt.Sprintf(verb, *n))
	}
	// A URL that does not parse: url.Parse's error quotes it.
	_, err := New(Options{Name: "oncall", WebhookURL: "http://[::1" + "/services/T0SENTINEL/" + sentinel})
	assertErrClean(t, err)
	_, err = New(Options{Name: "oncall", WebhookURL: "hooks.slack.com/services/T0SENTINEL/" + sentinel})
	assertErrClean(t, err)
}

func ptr[T any](v T) *T { return &v }
