package daemon_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake/slackfaketest"
	"github.com/spacetime-vr/spacetime-watch/internal/cli"
	"github.com/spacetime-vr/spacetime-watch/internal/logging"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// echoForms are the ways the echoing receiver below returns the webhook
// URL it was called on, one per request in turn: the path as sent, in
// upper, lower and mixed case, URL-escaped both ways, base64, and the last
// segment alone as a JSON error word.
var echoForms = []func(u *url.URL) string{
	func(u *url.URL) string { return "invalid_payload " + u.Path },
	func(u *url.URL) string { return "invalid_payload " + strings.ToUpper(u.Path) },
	func(u *url.URL) string { return "invalid_payload " + strings.ToLower(u.Path) },
	func(u *url.URL) string { return "invalid_payload " + mixedCase(u.Path) },
	func(u *url.URL) string { return "invalid_payload " + url.QueryEscape(u.String()) },
	func(u *url.URL) string { return "invalid_payload " + url.PathEscape(u.Path) },
	func(u *url.URL) string {
		return "invalid_payload " + base64.StdEncoding.EncodeToString([]byte(u.String()))
	},
	func(u *url.URL) string {
		return fmt.Sprintf(`{"ok":false,"error":%q}`, strings.ToLower(u.Path[strings.LastIndexByte(u.Path, '/')+1:]))
	},
}

func mixedCase(s string) string {
	r := []rune(s)
	for i := range r {
		if i%2 == 0 {
			r[i] = unicode.ToUpper(r[i])
		} else {
			r[i] = unicode.ToLower(r[i])
		}
	}
	return string(r)
}

// TestWebhookSecretNeverEchoed is the redaction-by-value test: a Slack
// webhook receiver (or a proxy before it) that answers 400 echoing the
// secret URL back, in every case and encoding, and the request body after
// it. The daemon, at debug level, sends it notify tests and a firing alert
// that dead-letters, which raises NotificationsFailing through a second
// sink (the fake Slack). The secret URL and its last path segment, in any
// form, appear in none of: the logs, /metrics, the API's answers, the
// status page (whose outbox lists the dead letters), the state dir's
// bytes, `outbox list`, `notify test` and the other sink's messages.
func TestWebhookSecretNeverEchoed(t *testing.T) {
	var requests atomic.Int64
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := requests.Add(1) - 1
		u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "%s %s", echoForms[int(n)%len(echoForms)](u), body)
	}))
	t.Cleanup(echo.Close)
	team := slackfaketest.Start(t)

	const lastSegment = "EchoSecret7d1f9a2cQ"
	secretURL := echo.URL + "/services/T0ECHO000/B0ECHO000/" + lastSegment
	leaks := testkit.SecretForms(secretURL, lastSegment, "/services/T0ECHO000/B0ECHO000/"+lastSegment)

	dir := t.TempDir()
	echoFile := testkit.WriteFileIn(t, dir, "echo-webhook", secretURL+"\n")
	teamFile := testkit.WriteFileIn(t, dir, "team-webhook", team.WebhookURL()+"\n")
	s := simtest.Start(t, sim.Options{})
	// The echo sink is alertingYAML's "oncall"; the team gets what it cannot.
	cfg := alertingYAML(echoFile) + fmt.Sprintf("    - {name: team, type: slack_webhook, webhook_url_file: %s, min_interval: 0s}\n", teamFile) +
		strings.Replace(configYAML(t, dir, simTarget{"main", s}), "defaults:\n", "defaults:\n"+fastRules, 1)
	configFile := testkit.WriteFileIn(t, dir, "config.yaml", cfg)

	var logs testkit.Buffer
	log, err := logging.New(&logs, "debug", "json")
	if err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, "state")
	d := startDaemon(t, configFile, daemonSetup{stateDir: stateDir, logger: log})
	ctx := context.Background()
	cliOpts := cli.DaemonOptions{URL: d.url}

	// Everything swept, by where it came from.
	seen := map[string]string{}

	// notify test, once per echoed form.
	for i := range echoForms {
		var out, errOut testkit.Buffer
		if code := cli.NotifyTest(ctx, cliOpts, "oncall", &out, &errOut); code != cli.ExitError {
			t.Errorf("notify test %d: exit %d, want %d (the receiver refuses)", i, code, cli.ExitError)
		}
		if !strings.Contains(out.String(), "oncall: NOT delivered") {
			t.Errorf("notify test %d does not report the refusal:\n%s%s", i, out.String(), errOut.String())
		}
		seen[fmt.Sprintf("notify test %d", i)] = out.String() + errOut.String()
	}

	// A firing alert dead-letters at the echo sink; NotificationsFailing
	// goes to the team.
	if err := s.PatchFaults([]byte(`{"fps": 60}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "NotificationsFailing at the team sink", func() (bool, string) {
		return slackMentions(team, alert.AlertNotificationsFailing) > 0, fmt.Sprintf("%d messages", len(team.Messages()))
	})
	for _, output := range []string{"table", "json"} {
		var out, errOut testkit.Buffer
		if code := cli.OutboxList(ctx, cliOpts, output, &out, &errOut); code != cli.ExitOK || !strings.Contains(out.String(), "oncall") {
			t.Errorf("outbox list --output %s: exit %d, no dead letter of oncall:\n%s%s", output, code, out.String(), errOut.String())
		}
		seen["outbox list --output "+output] = out.String() + errOut.String()
	}
	for _, path := range []string{"/metrics", "/api/v1/alerts", "/api/v1/outbox", "/api/v1/status", "/", "/targets/main"} {
		_, body := d.get(path)
		seen[path] = body
	}
	for i, m := range team.Messages() {
		seen[fmt.Sprintf("team message %d", i)] = m.Text + string(m.Blocks)
	}
	if n := requests.Load(); n <= int64(len(echoForms)) {
		t.Errorf("the receiver answered %d requests, want more than %d: not every form was echoed", n, len(echoForms))
	}

	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	seen["logs"] = logs.String()
	err = filepath.WalkDir(stateDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		seen["state file "+filepath.Base(path)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := seen["state file state.db"]; !ok {
		t.Error("no state.db swept")
	}
	for where, text := range seen {
		if text == "" && !strings.HasPrefix(where, "state file") {
			t.Errorf("%s: empty, the sweep proves nothing there", where)
		}
		if leaks(text) {
			t.Errorf("%s leaks the webhook secret (%d bytes swept; the start: %.300q)", where, len(text), text)
		}
	}
}
