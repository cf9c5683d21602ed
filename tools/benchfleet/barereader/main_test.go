package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestReader: the reader dials every target of the file, says so, and at
// the stop reports exactly the frames the sims say they sent it (by its
// User-Agent), once the streams are silenced.
func TestReader(t *testing.T) {
	sims := []*sim.Sim{simtest.Start(t, sim.Options{}), simtest.Start(t, sim.Options{})}
	file := testkit.WriteFile(t, filepath.Join(t.TempDir(), "targets.yaml"), "- name: a\n  api_url: http://"+sims[0].Info().API+"\n  telemetry_urls: [ws://"+sims[0].Info().Telemetry+"/]\n"+
		"- name: b\n  api_url: http://"+sims[1].Info().API+"\n  telemetry_urls: [\"ws://"+sims[1].Info().Telemetry+"/\"]\n"+
		"- name: no-telemetry\n  api_url: http://127.0.0.1:1\n  telemetry_urls: []\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, file, outW)
		outW.Close()
	}()
	lines := bufio.NewReader(outR)
	line, err := lines.ReadString('\n')
	if err != nil || line != `{"connected":2}`+"\n" {
		t.Fatalf("first line %q, %v; want {\"connected\":2}", line, err)
	}
	sent := func() uint64 {
		var n uint64
		for _, s := range sims {
			n += s.Stats().Clients[UserAgent].FramesSent
		}
		return n
	}
	testkit.Eventually(t, 10*time.Second, "a few frames sent to the reader", func() (bool, string) {
		n := sent()
		return n >= 10, fmt.Sprintf("%d frames", n)
	})
	for _, s := range sims {
		if err := s.PatchFaults([]byte(`{"telemetry_silent":true}`)); err != nil {
			t.Fatal(err)
		}
	}
	// A frame being written as the fault changed still counts: wait for
	// the count to hold for one poll (20 ms; loopback delivers within it).
	before := sent()
	testkit.Eventually(t, 10*time.Second, "the sims' count to hold", func() (bool, string) {
		n := sent()
		ok := n == before
		before = n
		return ok, fmt.Sprintf("%d frames", n)
	})
	cancel()
	line, err = lines.ReadString('\n')
	if err != nil {
		t.Fatalf("no count at the stop: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	var got struct{ Frames, Errors uint64 }
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("count line %q: %v", line, err)
	}
	if got.Frames != before || got.Errors != 0 {
		t.Errorf("reader counted %d frames and %d errors; the sims sent it %d", got.Frames, got.Errors, before)
	}
}

// TestReaderBadFile: a file that is not a target list is an error naming it.
func TestReaderBadFile(t *testing.T) {
	file := testkit.WriteFile(t, filepath.Join(t.TempDir(), "targets.yaml"), "targets: {not: a list}\n")
	err := run(context.Background(), file, io.Discard)
	if err == nil || err.Error()[:len(file)] != file {
		t.Errorf("run = %v, want an error naming %s", err, file)
	}
	if err := run(context.Background(), filepath.Join(t.TempDir(), "missing.yaml"), io.Discard); err == nil {
		t.Error("a missing file was accepted")
	}
}
