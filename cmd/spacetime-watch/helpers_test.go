package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestMain fails the package if a command leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// result is what one invocation of the command line produced.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- stdout:\n" + r.stdout + "\n--- stderr:\n" + r.stderr
}

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

// invoke runs the command line args in-process, as main would, and
// returns its exit status and output. ctx bounds long-running commands.
func invoke(ctx context.Context, args ...string) result {
	var stdout, stderr syncBuffer
	code := run(ctx, args, &stdout, &stderr, nil)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// targetYAML is one config target watching s, its token in a file under dir.
func targetYAML(t *testing.T, dir, name string, s *sim.Sim) string {
	t.Helper()
	info := s.Info()
	token := testkit.WriteFileIn(t, dir, name+".token", info.Token+"\n")
	return "  - name: " + name + "\n    api_url: http://" + info.API + "\n    telemetry_urls: [\"ws://" + info.Telemetry + "/\"]\n    token_file: " + token + "\n"
}

// fastConfig is a config on a fast clock watching the given targets.
func fastConfig(targets ...string) string {
	return `defaults:
  schedule: {interval: 1s, timeout: 900ms}
  checks: {request_timeout: 300ms, telemetry_timeout: 500ms, threshold_window: 1s}
targets:
` + strings.Join(targets, "")
}
