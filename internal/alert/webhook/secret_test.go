package webhook

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// The secrets of the tests below: a token in the URL's path, one in its
// query, a password in its user information, and the HMAC secret. No
// error, log line or printed value may hold any of them.
const (
	pathToken  = "PATHtoken7f3a91"
	queryToken = "QUERYtoken2c8e44"
	password   = "PASSWORDd41b07"
	hmacSecret = "HMACsecret93e1aa"
)

var secrets = []string{pathToken, queryToken, password, hmacSecret}

// secretURL is base's secret webhook URL.
func secretURL(base string) string {
	return strings.Replace(base, "://", "://alerts:"+password+"@", 1) + "/hooks/" + pathToken + "?token=" + queryToken
}

// leaks reports whether text holds a secret, in any case, or 8
// characters of one in a row (a secret cut short is still a leak).
func leaks(text string) bool {
	lower := strings.ToLower(text)
	for _, s := range secrets {
		if strings.Contains(lower, strings.ToLower(s)) {
			return true
		}
		for i := 0; i+8 <= len(s); i++ {
			if strings.Contains(text, s[i:i+8]) {
				return true
			}
		}
	}
	return false
}

// assertClean fails t if text leaks a secret.
func assertClean(t *testing.T, what, text string) {
	t.Helper()
	if leaks(text) {
		t.Errorf("%s leaks a secret: %s", what, text)
	}
}

// echo answers code with everything the request carried: its URL, its
// headers (the basic auth and the signature among them), as a
// misbehaving proxy might.
func echo(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, "no route for http://%s%s (%s, %s) headers %v", r.Host, r.URL, r.URL.Path, r.URL.RawQuery, r.Header)
	}
}

// TestSecretsNeverInErrors drives every failure mode with a secret URL and
// an HMAC secret, and scans the errors for them.
func TestSecretsNeverInErrors(t *testing.T) {
	base := testkit.BaseTime(t)
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL
	refused.Close()
	tests := []struct {
		name    string
		url     func(t *testing.T) string
		respond func(int, http.ResponseWriter, *http.Request)
	}{
		{"connection refused", func(*testing.T) string { return refusedURL }, nil},
		{"reset", nil, func(_ int, w http.ResponseWriter, _ *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}},
		{"403 echoing the request", nil, echo(403)},
		{"500 echoing the request", nil, echo(500)},
		{"429 echoing the request", nil, echo(429)},
		{"redirect to itself", nil, func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.String()+"&again="+r.URL.Path, http.StatusFound)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := refusedURL
			if tc.respond != nil {
				url = serve(t, &receiver{respond: tc.respond})
			}
			n := newNotifier(t, secretURL(url), Options{HMACSecret: hmacSecret})
			_, err := n.Notify(context.Background(), group(base, fpsLow(base)))
			testkit.AssertHidden(t, err, leaks)
		})
	}
}

// TestTimeoutErrorClean: a timed-out request's error (whose *url.Error
// carries the URL) is as clean as the others.
func TestTimeoutErrorClean(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := testkit.BaseTime(t)
		hang := &receiver{respond: func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }}
		n := newNotifier(t, secretURL("https://hooks.example.com"), Options{HTTPClient: handlerClient(hang), HMACSecret: hmacSecret})
		_, err := n.Notify(context.Background(), group(base, fpsLow(base)))
		testkit.AssertHidden(t, err, leaks)
	})
}

// TestSecretsReachTheReceiver: what is hidden from errors is still sent:
// the path and query as given, the user information as basic auth.
func TestSecretsReachTheReceiver(t *testing.T) {
	base := testkit.BaseTime(t)
	rc := &receiver{}
	n := newNotifier(t, secretURL(serve(t, rc)), Options{})
	if _, err := n.Notify(context.Background(), group(base, fpsLow(base))); err != nil {
		t.Fatal(err)
	}
	r := rc.requests()[0]
	if r.Path != "/hooks/"+pathToken || r.Query != "token="+queryToken || r.User != "alerts:"+password {
		t.Errorf("receiver got path %q query %q user %q", r.Path, r.Query, r.User)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	n := newNotifier(t, secretURL("https://hooks.example.com"), Options{HMACSecret: hmacSecret})
	for _, v := range []any{n, *n, struct{ N *Notifier }{n}} {
		testkit.AssertHidden(t, v, leaks)
	}
	// URLs that do not parse or are not absolute: url.Parse's error quotes them.
	for _, bad := range []string{
		"http://[::1/hooks/" + pathToken,
		"hooks.example.com/hooks/" + pathToken + "?token=" + queryToken,
		"ftp://alerts:" + password + "@hooks.example.com/" + pathToken,
	} {
		_, err := New(Options{Name: "hooks", URL: bad, HMACSecret: hmacSecret})
		testkit.AssertHidden(t, err, leaks)
	}
}

// TestLongEchoClean: an answer is cleaned before it is cut, so that a
// secret straddling the cut is not left half shown.
func TestLongEchoClean(t *testing.T) {
	base := testkit.BaseTime(t)
	url := serve(t, &receiver{respond: func(_ int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		_, _ = io.WriteString(w, strings.Repeat("x", 183)+r.URL.String())
	}})
	n := newNotifier(t, secretURL(url), Options{})
	_, err := n.Notify(context.Background(), group(base, fpsLow(base)))
	testkit.AssertHidden(t, err, leaks)
}
