package slack

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// sentinel is the secret part of the webhook URLs below: it must not
// appear in any error, whatever goes wrong (docs/reliability.md scenario 19).
const sentinel = "SENTINEL-9f3c2a7d41"

func sentinelURL(base string) string {
	return base + "/services/T0SENTINEL/B0SENTINEL/" + sentinel
}

// leaks reports whether text carries the sentinel or the URL's path.
func leaks(text string) bool {
	lower := strings.ToLower(text)
	for _, needle := range []string{sentinel, "/services/t0sentinel"} {
		if strings.Contains(lower, strings.ToLower(needle)) {
			return true
		}
	}
	return false
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
			testkit.AssertHidden(t, err, leaks)
		})
	}
}

func TestWebhookURLNeverPrinted(t *testing.T) {
	n := newNotifier(t, sentinelURL("https://hooks.slack.com"), nil, 0)
	testkit.AssertHidden(t, n, leaks)
	testkit.AssertHidden(t, *n, leaks)
	// A URL that does not parse: url.Parse's error quotes it.
	_, err := New(Options{Name: "oncall", WebhookURL: "http://[::1" + "/services/T0SENTINEL/" + sentinel})
	testkit.AssertHidden(t, err, leaks)
	_, err = New(Options{Name: "oncall", WebhookURL: "hooks.slack.com/services/T0SENTINEL/" + sentinel})
	testkit.AssertHidden(t, err, leaks)
}

func ptr[T any](v T) *T { return &v }
