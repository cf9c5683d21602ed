package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var freePorts = []string{"--api.listen-address=127.0.0.1:0", "--telemetry.listen-address=127.0.0.1:0", "--control.listen-address=127.0.0.1:0"}

// runSim runs the command until its first stdout line, hands the decoded
// line to check, then stops it (as SIGTERM would) and returns the exit code
// and stderr.
func runSim(t *testing.T, args []string, check func(info map[string]string)) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := run(ctx, append(freePorts, args...), outW, &stderr)
		outW.Close()
		done <- code
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("no info line on stdout: %v", err)
	}
	var info map[string]string
	if err := json.Unmarshal([]byte(line), &info); err != nil {
		t.Fatalf("info line %q is not JSON: %v", line, err)
	}
	check(info)
	cancel()
	go io.Copy(io.Discard, outR) //nolint:errcheck // drain until run closes the pipe
	select {
	case code := <-done:
		return code, stderr.String()
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancellation")
		return 0, ""
	}
}

func httpGet(t *testing.T, url string) (int, string, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestRunPrintsInfoLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantHealth string
		wantType   string
		wantCode   int
		perfToken  bool
	}{
		{"checklist", []string{"--profile=checklist", "--token=sentinel-token-0123456789"}, `{"status":"ok"}`, "application/json", 200, false},
		{"godot", []string{"--profile=godot"}, "Not found", "text/html", 404, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := runSim(t, tt.args, func(info map[string]string) {
				for _, k := range []string{"api", "telemetry", "control", "token"} {
					if info[k] == "" {
						t.Errorf("info line lacks %q: %v", k, info)
					}
				}
				if (info["performance_token"] != "") != tt.perfToken {
					t.Errorf("performance_token = %q, want present: %v", info["performance_token"], tt.perfToken)
				}
				status, ctype, body := httpGet(t, "http://"+info["api"]+"/health")
				if status != tt.wantCode || ctype != tt.wantType || body != tt.wantHealth {
					t.Errorf("GET /health = %d %s %q, want %d %s %q", status, ctype, body, tt.wantCode, tt.wantType, tt.wantHealth)
				}
				if status, _, _ := httpGet(t, "http://"+info["control"]+"/faults"); status != 200 {
					t.Errorf("GET /faults = %d", status)
				}
			})
			if code != 0 {
				t.Errorf("exit code %d after cancellation, want 0; stderr:\n%s", code, stderr)
			}
			if strings.Contains(stderr, "sentinel-token") {
				t.Error("the token appears in the logs")
			}
		})
	}
}

func TestRunTokenFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("file-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runSim(t, []string{"--token-file=" + file}, func(info map[string]string) {
		if info["token"] != "file-token-0123456789" {
			t.Errorf("token = %q, want the file's content without the newline", info["token"])
		}
	})
}

func TestRunRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "drill.yaml")
	if err := os.WriteFile(bad, []byte("- at: 30s\n  set: {fsp: 60}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown profile", []string{"--profile=unity"}, "unity"},
		{"token in godot", []string{"--profile=godot", "--token=static-token-0123456789"}, "refused with --profile=godot"},
		{"perf token in checklist", []string{"--performance-token=" + strings.Repeat("a", 64)}, "--performance-token applies to --profile=godot only"},
		{"malformed perf token", []string{"--profile=godot", "--performance-token=xyz"}, "64 hex characters"},
		{"bad scenario", []string{"--scenario=" + bad}, bad + `:2: set: unknown fault field "fsp"`},
		{"missing token file", []string{"--token-file=" + filepath.Join(dir, "absent")}, "--token-file"},
		{"bad duration", []string{"--token-ttl=forever"}, `--token-ttl: want a positive duration such as 30s or 1h, got "forever"`},
		{"zero interval", []string{"--telemetry.fps-interval=0s"}, `--telemetry.fps-interval`},
		{"unknown flag", []string{"--bogus"}, "bogus"},
		{"no instances", []string{"--instances=0"}, "--instances: want 1 to 10000, got 0"},
		{"a fleet on one API address", []string{"--instances=2"}, "--api.listen-address is refused with a fleet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append(freePorts, tt.args...), &stdout, &stderr)
			if code != exitBadUsage || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d naming %q", code, stderr.String(), exitBadUsage, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--help exit %d, want 0; stderr %s", code, stderr.String())
	}
	for _, want := range []string{
		"--api.listen-address=\"127.0.0.1:8080\"", "--telemetry.listen-address=\"127.0.0.1:8081\"",
		"--control.listen-address=\"127.0.0.1:8089\"", "--profile=checklist", "--token-ttl=1h0m0s",
		"--environment=\"production\"", "--app-version=\"1.0.0\"", "--telemetry.fps-interval=500ms",
		"--telemetry.tracking-interval=100ms", "--scenario", "--token-file", "--performance-token", "telemetry-auth",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--help lacks %s:\n%s", want, stdout.String())
		}
	}
}

// TestRunFleet: --instances 3 --target-file prints one JSON line per
// instance, writes the target file, and serves one control API that sets
// a fault on every instance at once.
func TestRunFleet(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	targetFile := filepath.Join(t.TempDir(), "fleet.yaml")
	outR, outW := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"--control.listen-address=127.0.0.1:0", "--instances=3", "--target-file=" + targetFile}, outW, &stderr)
		outW.Close()
		done <- code
	}()
	lines := bufio.NewReader(outR)
	var infos []map[string]string
	for range 3 {
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("want 3 info lines: %v", err)
		}
		var info map[string]string
		if err := json.Unmarshal([]byte(line), &info); err != nil {
			t.Fatalf("info line %q is not JSON: %v", line, err)
		}
		infos = append(infos, info)
	}
	if infos[0]["name"] != "sim-0001" || infos[2]["name"] != "sim-0003" || infos[0]["control"] != infos[2]["control"] || infos[0]["api"] == infos[1]["api"] {
		t.Errorf("info lines = %v: want sim-0001..3, own API addresses, one control address", infos)
	}
	// The target file is written after the lines: wait for it.
	testkit.Eventually(t, 5*time.Second, "the target file", func() (bool, string) {
		b, _ := os.ReadFile(targetFile)
		return strings.Count(string(b), "- name: sim-") == 3, string(b)
	})
	req, _ := http.NewRequest(http.MethodPost, "http://"+infos[0]["control"]+"/faults?instance=all", strings.NewReader(`{"api_down": true}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /faults?instance=all: %d", resp.StatusCode)
	}
	for _, info := range infos {
		if _, err := http.Get("http://" + info["api"] + "/status"); err == nil {
			t.Errorf("%s: API still answers after api_down for all", info["name"])
		}
	}
	cancel()
	go io.Copy(io.Discard, outR) //nolint:errcheck // drain until run closes the pipe
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d, stderr %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancellation")
	}
}
