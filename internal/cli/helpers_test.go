package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
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

// watchConfig writes a config watching s as target "main" on a fast
// clock (a round every second, bounded well inside it), its token in a
// file under dir; head is YAML before the defaults (an alerting section),
// defaults more lines of the defaults section. It returns the config's
// path and the token file's.
func watchConfig(t *testing.T, dir string, s *sim.Sim, head, defaults string) (cfg, tokenFile string) {
	t.Helper()
	info := s.Info()
	tokenFile = testkit.WriteFileIn(t, dir, "api-token", info.Token+"\n")
	cfg = testkit.WriteFileIn(t, dir, "config.yaml", fmt.Sprintf(`%sdefaults:
  schedule: {interval: 1s, timeout: 900ms}
  checks: {request_timeout: 300ms, telemetry_timeout: 500ms}
%stargets:
  - name: main
    api_url: http://%s
    telemetry_urls: ["ws://%s/"]
    token_file: %s
`, head, defaults, info.API, info.Telemetry, tokenFile))
	return cfg, tokenFile
}

// get fetches url; err is set when the server cannot be reached.
func get(url string) (int, string, error) { return testkit.Get(url, 5*time.Second) }

// mustGet fetches url and fails the test unless it answers 200.
func mustGet(t *testing.T, url string) string {
	t.Helper()
	code, body, err := get(url)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", url, code, err, body)
	}
	return body
}

// runDaemon runs daemon.Run with opts on a loopback listener and returns
// its base URL once it serves. stop cancels it and fails the test when it
// returns an error or takes more than 10 s; it runs when the test ends,
// and calling it earlier (to read what the daemon left behind) is fine.
func runDaemon(t *testing.T, opts daemon.Options) (base string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Listener = l
	ready := make(chan struct{})
	opts.Ready = func(net.Addr) { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runErr = daemon.Run(ctx, opts)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
				if runErr != nil {
					t.Errorf("daemon: %v", runErr)
				}
			case <-time.After(10 * time.Second):
				t.Error("daemon did not stop within 10s")
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-ready:
	case <-done:
		t.Fatalf("daemon.Run returned before serving: %v", runErr)
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon did not serve within 10s")
	}
	return "http://" + l.Addr().String(), stop
}
