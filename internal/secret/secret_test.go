package secret

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

const hook = "https://hooks.slack.com/services/T0SECRET/B0SECRET/XyzSecretPart42"

func TestValueNeverPrints(t *testing.T) {
	v := Value("TOKEN-abc123-secret")
	leaks := testkit.SecretForms(v.Reveal())
	testkit.AssertHidden(t, v, leaks)
	testkit.AssertHidden(t, struct{ Tok Value }{v}, leaks)
	b, err := json.Marshal(struct{ Tok Value }{v})
	if err != nil || leaks(string(b)) {
		t.Errorf("JSON %s, %v", b, err)
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	buf, err := enc.EncodeEntry(zapcore.Entry{Message: "m"}, []zap.Field{zap.Any("tok", v), zap.Stringer("s", v)})
	if err != nil || leaks(buf.String()) {
		t.Errorf("zap %s, %v", buf.String(), err)
	}
}

func TestRedactorRemovesEveryForm(t *testing.T) {
	var r Redactor
	r.Add(hook)
	r.Add("hmac-Key-0042")
	r.Add("https://bob:hunter22@example.com/hook?token=QuerySecret9")
	u, _ := url.Parse(hook)
	mixed := []rune(u.Path)
	for i := range mixed {
		if i%2 == 0 {
			mixed[i] = []rune(strings.ToUpper(string(mixed[i])))[0]
		}
	}
	texts := map[string]string{
		"as is":         "POST " + hook + " failed",
		"upper":         strings.ToUpper(hook),
		"lower path":    "invalid_payload " + strings.ToLower(u.Path),
		"mixed path":    string(mixed),
		"last segment":  "no_service xyzsecretpart42",
		"query escaped": url.QueryEscape(hook),
		"path escaped":  url.PathEscape(u.Path),
		"base64":        base64.StdEncoding.EncodeToString([]byte(hook)),
		"base64 url":    base64.URLEncoding.EncodeToString([]byte(u.Path)),
		"hmac any case": "bad signature HMAC-KEY-0042",
		"password":      "auth hunter22 refused",
		"basic auth":    "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("bob:hunter22")),
		"query value":   "token querysecret9 expired",
	}
	leaks := testkit.SecretForms(hook, u.Path, "XyzSecretPart42", "hmac-Key-0042", "hunter22", "QuerySecret9", "bob:hunter22")
	for name, text := range texts {
		if !leaks(text) {
			t.Fatalf("%s: the sweep does not see the secret in %q", name, text)
		}
		if got := r.Clean(text); leaks(got) || !strings.Contains(got, Redacted) {
			t.Errorf("%s: Clean(%q) = %q", name, text, got)
		}
	}
	// What is not secret stays: the host, Slack's public segment, short
	// parts of the URL that are everywhere.
	if got := r.Clean("hooks.slack.com/services answered T0 in 2s"); got != "hooks.slack.com/services answered T0 in 2s" {
		t.Errorf("Clean removed text that is no secret: %q", got)
	}
}

func TestFileSourceReadsEveryTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "webhook")
	src := File(path)
	_, err := src.Read()
	var ue *UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "create it") {
		t.Fatalf("missing file: %v, want an UnavailableError naming %s and the fix", err, path)
	}
	testkit.WriteFile(t, path, "\n")
	if _, err := src.Read(); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("empty file: %v", err)
	}
	testkit.WriteFile(t, path, "first-Secret-1\n")
	if v, err := src.Read(); err != nil || v.Reveal() != "first-Secret-1" {
		t.Fatalf("Read = %v, %v", v.Reveal(), err)
	}
	testkit.WriteFile(t, path, "second-Secret-2")
	if v, err := src.Read(); err != nil || v.Reveal() != "second-Secret-2" {
		t.Fatalf("rotated: Read = %v, %v", v.Reveal(), err)
	}
	// Both values were registered: an old one in an old error is hidden too.
	if got := Clean("FIRST-SECRET-1 and second-secret-2"); strings.Contains(strings.ToLower(got), "secret-") {
		t.Errorf("Clean = %q", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Read(); err == nil {
		t.Error("a removed file still yields a value")
	}
}

func TestEnvSource(t *testing.T) {
	env := map[string]string{"HOOK": " envSecret-77 "}
	src := Env("HOOK", func(k string) string { return env[k] })
	if v, err := src.Read(); err != nil || v.Reveal() != "envSecret-77" {
		t.Fatalf("Read = %v, %v", v.Reveal(), err)
	}
	if _, err := Env("NOPE", func(string) string { return "" }).Read(); err == nil || !strings.Contains(err.Error(), "env NOPE") {
		t.Errorf("unset: %v", err)
	}
}
