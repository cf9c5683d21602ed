package secreturl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
)

const raw = "https://bob:hunter2@hooks.example.com/hooks/TOKENsecret42?key=QUERYsecret"

// leaks are the secret parts of raw: no printed or cleaned text may hold them.
var leaks = []string{"TOKENsecret42", "QUERYsecret", "hunter2", "Ym9iOmh1bnRlcjI="}

func assertClean(t *testing.T, what, text string) {
	t.Helper()
	for _, leak := range leaks {
		if strings.Contains(text, leak) {
			t.Errorf("%s leaks %q: %s", what, leak, text)
		}
	}
}

func TestURLNeverPrinted(t *testing.T) {
	u := URL(raw)
	holder := struct{ U URL }{u}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		for _, v := range []any{u, holder, &holder} {
			assertClean(t, fmt.Sprintf("%s of %T", verb, v), fmt.Sprintf(verb, v))
		}
	}
}

func TestRedactorClean(t *testing.T) {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRedactor("webhook", u, "hooks")
	in := strings.Join([]string{raw, u.Path, u.RawQuery, url.QueryEscape(raw), "bob:hunter2", "Basic Ym9iOmh1bnRlcjI=", "TOKENsecret42", "no hooks here"}, " | ")
	got := r.Clean(in)
	assertClean(t, "Clean", got)
	if !strings.Contains(got, "no hooks here") {
		t.Errorf("Clean redacted the public segment: %s", got)
	}
	if r.Where() != "https://hooks.example.com/<redacted>" {
		t.Errorf("Where = %s", r.Where())
	}
}

func TestRedactorSanitize(t *testing.T) {
	u, _ := url.Parse(raw)
	r := NewRedactor("webhook", u)
	refused := &url.Error{Op: "Post", URL: raw, Err: syscall.ECONNREFUSED}
	err := r.Sanitize(refused)
	if err.Error() != "webhook: POST https://hooks.example.com/<redacted>: connection refused" || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Sanitize(refused) = %q, want the cause kept without the URL", err)
	}
	echo := &url.Error{Op: "Post", URL: raw, Err: errors.New("proxy refused " + raw)}
	err = r.Sanitize(echo)
	assertClean(t, "Sanitize(echo)", err.Error())
	if errors.Unwrap(err) != nil {
		t.Errorf("Sanitize(echo) = %q (unwraps to %v), want the redacted text only", err, errors.Unwrap(err))
	}
}
