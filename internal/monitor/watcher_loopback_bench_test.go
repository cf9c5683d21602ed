package monitor

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// BenchmarkLoopbackCPU measures the process CPU per telemetry frame over
// real loopback WebSockets, read three ways:
//
//   - bare: gorilla's ReadMessage, discarded (tools/benchfleet/barereader,
//     make bench-fleet's yardstick);
//   - stream: spacetime.Stream.Next in a loop (the read, deadlines and
//     decode, as the watcher's connection goroutine does);
//   - watcher: a Watcher per connection, the daemon's whole telemetry path.
//
// The server is in the same process but as cheap as can be: one goroutine
// writes ready-made frames to every connection each 10 ms, in the
// simulator's mix (one fps event for five vr_tracking events). Its share is
// the same in the three modes; the differences are the readers'. An
// iteration is a half-second window; cpu-µs/frame is the figure to compare
// (make bench-fleet's target: the watcher at most 1.3 times bare).
func BenchmarkLoopbackCPU(b *testing.B) {
	const conns = 40
	for _, mode := range []string{"bare", "stream", "watcher"} {
		b.Run(mode, func(b *testing.B) {
			srv := newFrameServer(b, conns)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() {
				cancel()
				wg.Wait()
			}()
			for i := range conns {
				wg.Go(func() { loopbackReader(ctx, b, mode, srv.url, i) })
			}
			srv.waitConns(b, conns)
			frames0, cpu0 := srv.sent.Load(), testkit.ProcessCPU(b)
			for b.Loop() {
				time.Sleep(500 * time.Millisecond) // the window measured
			}
			frames, cpu := srv.sent.Load()-frames0, testkit.ProcessCPU(b)-cpu0
			if frames == 0 {
				b.Fatal("no frame sent")
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(frames), "cpu-µs/frame")
			b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

// frameServer writes the simulator's frame mix to every connection from one
// goroutine, every 10 ms, until the benchmark ends.
type frameServer struct {
	url  string
	sent atomic.Uint64

	mu    sync.Mutex
	conns []*websocket.Conn
}

func newFrameServer(b *testing.B, want int) *frameServer {
	fs := &frameServer{}
	up := websocket.Upgrader{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		go func() { // answers pings and notices the close
			for {
				if _, _, err := c.NextReader(); err != nil {
					return
				}
			}
		}()
		fs.mu.Lock()
		fs.conns = append(fs.conns, c)
		fs.mu.Unlock()
	}))
	fs.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/"
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		fps, tracking := []byte(benchFPSJSON), []byte(benchTrackingJSON)
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			frame := tracking
			if n%6 == 0 {
				frame = fps
			}
			fs.mu.Lock()
			for _, c := range fs.conns {
				if c.WriteMessage(websocket.TextMessage, frame) == nil {
					fs.sent.Add(1)
				}
			}
			fs.mu.Unlock()
		}
	})
	b.Cleanup(func() {
		close(done)
		wg.Wait()
		fs.mu.Lock()
		for _, c := range fs.conns {
			c.Close()
		}
		fs.mu.Unlock()
		hs.Close()
	})
	return fs
}

// waitConns waits until n clients are connected and a few frames went out.
func (fs *frameServer) waitConns(b *testing.B, n int) {
	testkit.Eventually(b, 5*time.Second, "the readers connected", func() (bool, string) {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		return len(fs.conns) == n && fs.sent.Load() > uint64(10*n), fmt.Sprintf("%d of %d connected", len(fs.conns), n)
	})
}

// loopbackReader reads one instance's stream the way mode says until ctx
// ends.
func loopbackReader(ctx context.Context, b *testing.B, mode, url string, i int) {
	switch mode {
	case "bare":
		c, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
		if err != nil {
			b.Error(err)
			return
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	case "stream":
		s, err := spacetime.Dial(ctx, spacetime.StreamOptions{URLs: []string{url}, SkipPoses: true})
		if err != nil {
			b.Error(err)
			return
		}
		defer s.Close()
		var f spacetime.Frame
		for s.Next(ctx, &f) == nil {
		}
	case "watcher":
		opts := testWatcherOptions(fmt.Sprintf("vr-%d", i), url)
		opts.Metrics = NewMetrics(prometheus.NewRegistry())
		opts.Logger = zap.NewNop()
		w, err := NewWatcher(opts)
		if err != nil {
			b.Error(err)
			return
		}
		if err := w.Run(ctx); err != nil {
			b.Error(err)
		}
	default:
		panic(fmt.Sprintf("unknown mode %q", mode))
	}
}
