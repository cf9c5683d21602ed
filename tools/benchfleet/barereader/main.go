// Command barereader is make bench-fleet's yardstick: the least a program
// can do with the fleet's telemetry streams. It reads a spacetime-watch
// target file, dials every target's first telemetry URL with
// gorilla/websocket (the daemon's WebSocket library), and reads and
// discards every frame, counting them. It prints {"connected": N} on
// stdout once every stream is open, and {"frames": F, "errors": E} when
// SIGTERM or SIGINT stops it, after reading for a second more what was
// already sent. It does not reconnect: a stream that ends
// counts as an error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"gopkg.in/yaml.v3"
)

// UserAgent is how the simulator's GET /stats names this reader's frames.
const UserAgent = "spacetime-benchfleet-barereader"

// dialTimeout bounds one WebSocket handshake.
const dialTimeout = 10 * time.Second

// drainFor is how long, once stopped, the reader goes on reading what the
// sims wrote before the stop and is still in the sockets, so that its
// count is what arrived, not what it had got round to reading.
const drainFor = time.Second

func main() {
	if len(os.Args) != 2 || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: barereader TARGET_FILE")
		os.Exit(3)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "barereader: %v\n", err)
		os.Exit(1)
	}
}

// target is what the reader takes from a target file entry.
type target struct {
	Name          string   `yaml:"name"`
	TelemetryURLs []string `yaml:"telemetry_urls"`
}

func run(ctx context.Context, targetFile string, stdout io.Writer) error {
	b, err := os.ReadFile(targetFile)
	if err != nil {
		return err
	}
	var targets []target
	if err := yaml.Unmarshal(b, &targets); err != nil {
		return fmt.Errorf("%s: %w", targetFile, err)
	}
	var conns []*websocket.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	header := http.Header{"User-Agent": {UserAgent}}
	for _, t := range targets {
		if len(t.TelemetryURLs) == 0 {
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		c, resp, err := websocket.DefaultDialer.DialContext(dctx, t.TelemetryURLs[0], header)
		cancel()
		if err != nil {
			return fmt.Errorf("target %s: dial %s: %w", t.Name, t.TelemetryURLs[0], err)
		}
		_ = resp.Body.Close()
		conns = append(conns, c)
	}
	if err := json.NewEncoder(stdout).Encode(map[string]int{"connected": len(conns)}); err != nil {
		return err
	}

	var frames, failed atomic.Uint64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			for {
				// NextReader, not ReadMessage: the frame is discarded
				// without being gathered into a slice.
				_, r, err := c.NextReader()
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					return
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					if ctx.Err() == nil && !errors.Is(err, io.EOF) {
						failed.Add(1)
					}
					return
				}
				frames.Add(1)
			}
		})
	}
	<-ctx.Done()
	drained := clock.Deadline(drainFor)
	for _, c := range conns {
		_ = c.SetReadDeadline(drained) // ends every reader once the sockets are empty
	}
	wg.Wait()
	conns = nil
	return json.NewEncoder(stdout).Encode(map[string]uint64{"frames": frames.Load(), "errors": failed.Load()})
}
