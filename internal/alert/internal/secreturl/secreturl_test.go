package secreturl

import (
	"errors"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

const raw = "https://bob:hunter2@hooks.example.com/hooks/TOKENsecret42?key=QUERYsecret"

// secrets are the secret parts of raw: no printed or cleaned text may
// hold them.
var secrets = []string{"TOKENsecret42", "QUERYsecret", "hunter2", "Ym9iOmh1bnRlcjI="}

func leaks(text string) bool {
	for _, s := range secrets {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

func TestURLNeverPrinted(t *testing.T) {
	u := URL(raw)
	holder := struct{ U URL }{u}
	for _, v := range []any{u, holder, &holder} {
		testkit.AssertHidden(t, v, leaks)
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
	testkit.AssertHidden(t, got, leaks)
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
	testkit.AssertHidden(t, err, leaks)
	if errors.Unwrap(err) != nil {
		t.Errorf("Sanitize(echo) = %q (unwraps to %v), want the redacted text only", err, errors.Unwrap(err))
	}
}
