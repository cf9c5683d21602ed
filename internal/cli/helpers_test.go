package cli_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
)

// syncBuffer is a bytes.Buffer that a running command and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startSim starts a simulated instance on free loopback ports with a fast
// FPS stream, closed when the test ends.
func startSim(t *testing.T, opts sim.Options) *sim.Sim {
	t.Helper()
	opts.APIAddress, opts.TelemetryAddress, opts.ControlAddress = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if opts.FPSInterval == 0 {
		opts.FPSInterval = 20 * time.Millisecond
	}
	s, err := sim.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("sim.Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// get fetches url; err is set when the server cannot be reached.
func get(url string) (int, string, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// mustGet fetches url and fails the test unless it answers 200.
func mustGet(t *testing.T, url string) string {
	t.Helper()
	code, body, err := get(url)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", url, code, err, body)
	}
	return body
}

// eventually polls cond every 20 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last seen: %s", what, timeout, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
