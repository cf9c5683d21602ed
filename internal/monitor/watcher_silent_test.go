package monitor

import (
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestWatcherSilentStreamDefaultTimings is reliability scenario 8 under
// the default stream timings (PongWait 60s, SilenceTimeout 90s), run in a
// synctest bubble over in-memory connections so that the minutes pass in
// an instant. The instance streams FPS and memory for 10 s, then goes
// quiet without closing the connection:
//
//   - half-open (nothing comes back, not even a pong): the connection is
//     declared dead at PongWait, 60 s after the last frame, or up to the
//     read deadline's slack later (3.75 s, spacetime.DeadlineSlackDivisor);
//   - wedged (pongs come back, data does not): the stream is declared
//     silent at SilenceTimeout, 90 s after the last frame.
//
// Either way within 90 s, and at that moment the FPS, frame time and
// memory series are gone (memory is not polled from /performance here),
// not left at their last value; until then they are exported.
func TestWatcherSilentStreamDefaultTimings(t *testing.T) {
	cases := []struct {
		name        string
		answerPings bool
		wantState   StreamState
		wantErr     error
		want        time.Duration
		slack       time.Duration // how late it may come (spacetime.DeadlineSlackDivisor)
	}{
		{"half-open", false, StreamDisconnected, spacetime.ErrHeartbeatTimeout, spacetime.DefaultPongWait, spacetime.DefaultPongWait / spacetime.DeadlineSlackDivisor},
		{"wedged, pings answered", true, StreamSilent, spacetime.ErrSilent, spacetime.DefaultSilenceTimeout, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var lastFrame atomic.Int64 // UnixNano of the last frame sent
				srv := testkit.StartWSPipeServer(t, func(n int, c *websocket.Conn) {
					if !tc.answerPings {
						c.SetPingHandler(func(string) error { return nil })
					}
					readErr := make(chan error, 1)
					go func() {
						for {
							if _, _, err := c.ReadMessage(); err != nil {
								readErr <- err
								return
							}
						}
					}()
					for i := 0; n == 1 && i < 10; i++ { // later connections: silent from the start
						if err := c.WriteMessage(websocket.TextMessage, []byte(pipeFPSFrame)); err != nil {
							break
						}
						lastFrame.Store(time.Now().UnixNano())
						time.Sleep(time.Second)
					}
					<-readErr
				})

				type detection struct {
					at     time.Time
					state  StreamState
					series map[string]bool
				}
				detected := make(chan detection, 1)
				var env *watchEnv
				env = newWatchEnv(t, []string{"ws://vr.invalid:8081/"}, func(o *WatcherOptions) {
					o.Stream = spacetime.StreamOptions{URLs: o.Stream.URLs, NetDial: srv.Dial} // default timings
					o.Rules = testRules()
					def := testWatcherOptions(watchTarget) // the config's timings
					o.BackoffInitial, o.BackoffMax, o.TickInterval = def.BackoffInitial, def.BackoffMax, def.TickInterval
					o.Logger = zap.NewNop()
					o.OnStream = func(s StreamState) {
						if s == StreamConnected {
							return
						}
						d := detection{at: time.Now(), state: s, series: map[string]bool{}}
						for _, name := range []string{"spacetime_fps", "spacetime_frame_time_seconds", "spacetime_memory_bytes"} {
							_, d.series[name] = env.value(t, name, "target", watchTarget)
						}
						select {
						case detected <- d:
						default: // the first detection is the one measured
						}
					}
				})
				env.start(t)

				time.Sleep(10*time.Second + 30*time.Second) // 30 s into the quiet
				for _, name := range []string{"spacetime_fps", "spacetime_memory_bytes"} {
					if _, ok := env.value(t, name, "target", watchTarget); !ok {
						t.Errorf("%s absent 30 s after the last frame, want the last value until the stream is declared lost", name)
					}
				}
				var d detection
				select {
				case d = <-detected:
				case <-time.After(2 * time.Minute):
					t.Fatalf("quiet stream not detected 2m30s after the last frame (status %+v)", env.w.Status())
				}
				took := d.at.Sub(time.Unix(0, lastFrame.Load()))
				t.Logf("%s: detected as %s %v after the last frame", tc.name, d.state, took)
				if d.state != tc.wantState || took < tc.want || took > tc.want+tc.slack || took > spacetime.DefaultSilenceTimeout {
					t.Errorf("detected as %s after %v, want %s after %v to %v (within 90s)", d.state, took, tc.wantState, tc.want, tc.want+tc.slack)
				}
				for name, present := range d.series {
					if present {
						t.Errorf("%s still exported at detection, want it dropped", name)
					}
				}
				synctest.Wait() // the watcher publishes its status after OnStream
				if st := env.w.Status(); !strings.Contains(st.LastError, tc.wantErr.Error()) {
					t.Errorf("status %+v, want the stream ended by %v", st, tc.wantErr)
				}
			})
		})
	}
}

// pipeFPSFrame is an fps frame without a timestamp: the watcher stamps it
// with the bubble's clock.
const pipeFPSFrame = `{"type":"event","event":"fps","data":{"fps":90,"frame_time_ms":11.1,"memory_usage_mb":250}}`
