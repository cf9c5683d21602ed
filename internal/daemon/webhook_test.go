package daemon_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/webhook"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestWebhookSinkNotifyTest: a webhook sink whose URL (a token in its
// path) and HMAC secret come from files gets `notify test` as a signed
// Alertmanager payload; the outbox list and the status never show either
// secret.
func TestWebhookSinkNotifyTest(t *testing.T) {
	const token, secret = "TOKENc0ffee1234", "HMACdeadbeef5678"
	var (
		mu   sync.Mutex
		reqs []*http.Request
		body [][]byte
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs, body = append(reqs, r), append(body, b)
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	dir := t.TempDir()
	urlFile, secretFile := filepath.Join(dir, "webhook-url"), filepath.Join(dir, "webhook-hmac")
	testkit.WriteFile(t, urlFile, recv.URL+"/hooks/"+token+"\n")
	testkit.WriteFile(t, secretFile, secret+"\n")

	s := simtest.Start(t, sim.Options{})
	cfg := fmt.Sprintf(`alerting:
  sinks:
    - name: hooks
      type: webhook
      url_file: %s
      hmac_secret_file: %s
`, urlFile, secretFile) + configYAML(t, dir, simTarget{"main", s})
	configFile := filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, configFile, cfg)
	d := startDaemon(t, configFile, daemonSetup{})
	res, err := newClient(t, d).NotifyTest(context.Background(), "hooks")
	if err != nil || len(res.Results) != 1 || !res.Results[0].Delivered {
		t.Fatalf("notify test = %+v, %v", res, err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.URL.Path != "/hooks/"+token {
		t.Errorf("posted to %s, want the URL from the file", r.URL.Path)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(r.Header.Get(webhook.HeaderTimestamp) + "." + string(body[0])))
	if got, want := r.Header.Get(webhook.HeaderSignature), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
	var p webhook.Payload
	if err := json.Unmarshal(body[0], &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != "4" || p.Receiver != "hooks" || len(p.Alerts) != 1 || p.Alerts[0].Labels[webhook.TestLabel] != "true" {
		t.Errorf("payload %s, want a version 4 test alert from hooks", body[0])
	}

	for _, path := range []string{"/api/v1/outbox", "/api/v1/status"} {
		_, text := d.get(path)
		if strings.Contains(text, token) || strings.Contains(text, secret) {
			t.Errorf("%s shows a secret: %s", path, text)
		}
	}
}
