package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// remoteWrites are the API's writes, as a script on another host sends
// them: a reload is `curl -X POST`, with no body.
var remoteWrites = []struct{ method, path, body string }{
	{http.MethodPost, "/api/v1/silences", `{"target": "main", "duration": "1h", "comment": "from elsewhere"}`},
	{http.MethodDelete, "/api/v1/silences/0123abcd", ""},
	{http.MethodPost, "/api/v1/deployments", `{"target": "main", "version": "9.9.9"}`},
	{http.MethodPost, "/api/v1/notify/test", `{}`},
	{http.MethodPost, "/-/reload", ""},
}

// TestWriteAPIFromElsewhere: a daemon listening on every interface takes
// the API's writes (a reload too, with --web.enable-lifecycle) from
// loopback only, until its web config authenticates callers. From an
// address on another interface, without authentication, every write is
// refused with 403 naming --web.config.file (the CLI's client passes that
// on) and nothing changes, while reads still answer; the same writes from
// loopback go through. With basic_auth_users, writes from that address go
// through with the credentials.
func TestWriteAPIFromElsewhere(t *testing.T) {
	t.Parallel()
	src := nonLoopbackAddr(t)
	cfg := mainConfig(t)
	ctx := context.Background()
	silence := daemon.AddSilenceRequest{Target: "main", Duration: "1h", Comment: "maintenance"}

	t.Run("no authentication", func(t *testing.T) {
		d := startDaemon(t, cfg, daemonSetup{listen: "0.0.0.0:0", lifecycle: true})
		remote := "http://" + net.JoinHostPort(src.String(), d.port)
		for _, w := range remoteWrites {
			code, body := doFrom(t, src, jsonRequest(t, w.method, remote+w.path, w.body))
			if code != http.StatusForbidden || !strings.Contains(body, "--web.config.file") || !strings.Contains(body, src.String()+" is not a loopback address") {
				t.Errorf("%s %s from %s: %d %s, want 403 naming the peer and --web.config.file", w.method, w.path, src, code, body)
			}
		}
		if code, body := doFrom(t, src, jsonRequest(t, http.MethodGet, remote+"/api/v1/silences", "")); code != http.StatusOK {
			t.Errorf("GET /api/v1/silences from %s: %d %s, want 200: reads stay open", src, code, body)
		}

		// The CLI's client, pointed at that address, connects from it
		// too (a local destination is its own source), and says why.
		c, err := daemon.NewClient(remote, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.AddSilence(ctx, silence); err == nil || !strings.Contains(err.Error(), "--web.config.file") {
			t.Errorf("client AddSilence from %s: %v, want an error naming --web.config.file", src, err)
		}

		// Nothing was written; from loopback the writes go through.
		local, err := daemon.NewClient(d.url, "")
		if err != nil {
			t.Fatal(err)
		}
		if list, err := local.Silences(ctx); err != nil || len(list) != 0 {
			t.Fatalf("silences after the refused writes: %+v, %v; want none", list, err)
		}
		ds, err := local.Deployments(ctx, "main")
		if err != nil {
			t.Fatal(err)
		}
		for _, dep := range ds {
			if dep.Version == "9.9.9" {
				t.Errorf("the refused deployment was recorded: %+v", dep)
			}
		}
		sil, err := local.AddSilence(ctx, silence)
		if err != nil {
			t.Fatalf("AddSilence from loopback: %v", err)
		}
		if _, err := local.ExpireSilence(ctx, sil.ID); err != nil {
			t.Errorf("ExpireSilence from loopback: %v", err)
		}
		if _, err := local.StartDeployment(ctx, daemon.StartDeploymentRequest{Target: "main", Version: "1.2.4"}); err != nil {
			t.Errorf("StartDeployment from loopback: %v", err)
		}
		if code, body := doFrom(t, nil, jsonRequest(t, http.MethodPost, d.url+"/-/reload", "")); code != http.StatusOK {
			t.Errorf("POST /-/reload from loopback: %d %s, want 200", code, body)
		}
	})

	t.Run("basic auth", func(t *testing.T) {
		authFile := filepath.Join(t.TempDir(), "auth")
		testkit.WriteFile(t, authFile, "ci:s3cret-pass\n")
		d := startDaemon(t, cfg, daemonSetup{listen: "0.0.0.0:0", lifecycle: true, webConfigFile: basicAuthWebConfig(t, "ci", "s3cret-pass")})
		remote := "http://" + net.JoinHostPort(src.String(), d.port)

		for _, w := range remoteWrites {
			if code, body := doFrom(t, src, jsonRequest(t, w.method, remote+w.path, w.body)); code != http.StatusUnauthorized {
				t.Errorf("anonymous %s %s from %s: %d %s, want 401", w.method, w.path, src, code, body)
			}
		}
		c, err := daemon.NewClient(remote, authFile)
		if err != nil {
			t.Fatal(err)
		}
		sil, err := c.AddSilence(ctx, silence)
		if err != nil {
			t.Fatalf("AddSilence from %s with credentials: %v", src, err)
		}
		if _, err := c.ExpireSilence(ctx, sil.ID); err != nil {
			t.Errorf("ExpireSilence from %s with credentials: %v", src, err)
		}
		if _, err := c.StartDeployment(ctx, daemon.StartDeploymentRequest{Target: "main", Version: "1.2.4"}); err != nil {
			t.Errorf("StartDeployment from %s with credentials: %v", src, err)
		}
		reload := jsonRequest(t, http.MethodPost, remote+"/-/reload", "")
		reload.SetBasicAuth("ci", "s3cret-pass")
		if code, body := doFrom(t, src, reload); code != http.StatusOK {
			t.Errorf("POST /-/reload from %s with credentials: %d %s, want 200", src, code, body)
		}
	})
}

// TestWriteAPIBrowserRequests: a page in a browser cannot write through
// the API: not from another site (Origin, Sec-Fetch-Site), not as a form
// or a no-cors fetch (no JSON content type), not from a DNS name rebound
// to the daemon (Host). A page the daemon served itself could.
func TestWriteAPIBrowserRequests(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, mainConfig(t), daemonSetup{})
	rebound := "evil.example:" + d.port

	cases := []struct {
		name   string
		host   string // "" is the URL's, 127.0.0.1:port
		header map[string]string
		want   int
	}{
		{"fetch from another site", "", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, http.StatusForbidden},
		{"form from another site", "", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}, http.StatusForbidden},
		{"old browser, another site", "", map[string]string{"Origin": "https://evil.example", "Content-Type": "application/json"}, http.StatusForbidden},
		{"another port of localhost", "", map[string]string{"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}, http.StatusForbidden},
		{"form without Origin", "", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"DNS rebinding", rebound, map[string]string{"Origin": "http://" + rebound, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, http.StatusForbidden},
		{"the daemon's own page", "", map[string]string{"Origin": d.url, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, http.StatusCreated},
	}
	for _, tc := range cases {
		req := jsonRequest(t, http.MethodPost, d.url+"/api/v1/silences", `{"target": "main", "duration": "1h", "comment": "`+tc.name+`"}`)
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		if tc.host != "" {
			req.Host = tc.host
		}
		if code, body := doFrom(t, nil, req); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.want)
		}
	}
	code, body := d.get("/api/v1/silences")
	var list daemon.SilencesResponse
	if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil {
		t.Fatalf("GET /api/v1/silences: %d %v %s", code, err, body)
	}
	if len(list.Silences) != 1 || list.Silences[0].Comment != "the daemon's own page" {
		t.Errorf("silences = %+v, want only the one from the daemon's own page", list.Silences)
	}
}

// nonLoopbackAddr gives the host an address that is not a loopback one,
// for the test's length, and returns it: a client that connects from it
// to a daemon on 0.0.0.0 is a non-loopback peer, as one on another host
// is. The address sits on one end of a veth pair made for the test (the
// dummy driver is not in every kernel; veth is), with a random name and
// address so that parallel test processes do not clash. Needs root and
// ip (Debian package iproute2).
func nonLoopbackAddr(t *testing.T) net.IP {
	t.Helper()
	testkit.Root(t, "add a network interface (a veth pair) for a non-loopback address")
	ip := testkit.Tool(t, "ip")
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	name := fmt.Sprintf("stw%06x", rand.IntN(1<<24)) // 9 characters; Linux allows 15
	addr := net.IPv4(10, 213, byte(1+rand.IntN(254)), byte(1+rand.IntN(254)))
	run("link", "add", name, "type", "veth", "peer", "name", name+"p")
	t.Cleanup(func() {
		// Deleting one end deletes the pair and the address.
		if out, err := exec.Command(ip, "link", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip link del %s: %v\n%s", name, err, out)
		}
	})
	run("addr", "add", addr.String()+"/32", "dev", name)
	run("link", "set", name, "up")
	run("link", "set", name+"p", "up")
	return addr
}
