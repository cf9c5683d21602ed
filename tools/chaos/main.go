// Command chaos is `make chaos`: the daemon (the real binary, so that
// SIGKILL is real), several simulated instances, the project's fake Slack
// answering 429, 5xx, resets and timeouts at random, and a real
// Alertmanager; a driver that breaks the instances, restarts them, kills
// and restarts the daemon, reloads it with good and bad configs and
// corrupts its state once; and at the end a reconciliation of what must
// have been notified against what the fake Slack and Alertmanager got.
//
// It prints its seed first (CHAOS_SEED=<seed> replays the same choices)
// and its figures last, and exits 1 on any loss, a duplicate beyond the
// allowed one, a panic in a log, goroutine or file-descriptor growth, or
// RSS above its bound. It is not part of `make test`.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
)

func main() {
	o := options{}
	flag.DurationVar(&o.duration, "duration", 8*time.Minute, "How long the driver injects faults (env CHAOS_DURATION); the settling and reconciliation add about a minute.")
	flag.IntVar(&o.sims, "sims", 3, "How many simulated instances the daemon watches.")
	flag.StringVar(&o.daemonBin, "daemon", "bin/spacetime-watch", "The spacetime-watch binary to run.")
	flag.StringVar(&o.amBin, "alertmanager", "prometheus-alertmanager", "The Alertmanager binary (Debian's prometheus-alertmanager).")
	flag.StringVar(&o.dir, "dir", "", "Where the state dir, configs and logs go (default: a new temporary directory, kept when the run fails).")
	flag.Parse()
	if v := os.Getenv("CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "chaos: CHAOS_DURATION=%q: want a positive duration such as 90s or 8m\n", v)
			os.Exit(2)
		}
		o.duration = d
	}
	o.seed = uint64(clock.Now().UnixNano())
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "chaos: CHAOS_SEED=%q: want the unsigned integer a run printed\n", v)
			os.Exit(2)
		}
		o.seed = s
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, o, os.Stdout)
	stop()
	os.Exit(code)
}

// options are the run's flags.
type options struct {
	duration  time.Duration
	sims      int
	daemonBin string
	amBin     string
	dir       string
	seed      uint64
}

// run is the whole chaos run; it returns the exit code.
func run(ctx context.Context, o options, out io.Writer) int {
	fmt.Fprintf(out, "chaos: seed %d (CHAOS_SEED=%d replays it), %s of faults on %d sims\n", o.seed, o.seed, o.duration, o.sims)
	dir := o.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "spacetime-watch-chaos-"); err != nil {
			fmt.Fprintf(out, "chaos: %v\n", err)
			return 1
		}
	}
	r := &runner{o: o, dir: dir, out: out}
	err := r.run(ctx)
	if err != nil {
		fmt.Fprintf(out, "chaos: FAILED: %v\n", err)
	}
	if err != nil || len(r.problems) > 0 {
		fmt.Fprintf(out, "chaos: logs, configs and state kept in %s\n", dir)
		return 1
	}
	if o.dir == "" {
		_ = os.RemoveAll(dir)
	}
	return 0
}
