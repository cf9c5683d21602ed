package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/tools/internal/child"
)

// reviewOffsets are the daemon's review offsets: the config says them, and
// the reconciler expects their reviews (review.OffsetName names them).
var reviewOffsets = []time.Duration{90 * time.Second, 3 * time.Minute, 5 * time.Minute}

// offsetsYAML writes reviewOffsets as the config's list.
func offsetsYAML() string {
	var out []string
	for _, d := range reviewOffsets {
		out = append(out, d.String())
	}
	return strings.Join(out, ", ")
}

// daemonConfig is the daemon's config: every interval short, so that a
// run of minutes sees many alerts and its reviews. %[1]s is the Slack
// webhook URL file, %[2]s the Alertmanager URL, %[3]s the group interval
// (changed by the good reloads), %[4]s the targets, %[5]s the review
// offsets (reviewOffsets).
const daemonConfig = `alerting:
  group_wait: 1s
  group_interval: %[3]s
  grace_period: 0s
  outbox: {backoff_initial: 500ms, backoff_max: 4s}
  sinks:
    - name: slack
      type: slack_webhook
      webhook_url_file: %[1]s
      timeout: 2s
    - name: am
      type: alertmanager
      urls: [%[2]s]
      resend_interval: 1s
      timeout: 2s
defaults:
  reviews: {offsets: [%[5]s]}
  schedule: {interval: 2s, timeout: 1900ms}
  checks: {request_timeout: 500ms, telemetry_timeout: 1s}
  thresholds:
    fps: {for: 3s}
    memory: {for: 3s}
  telemetry: {down_for: 30s, backoff_max: 2s}
targets:
%[4]s`

// badConfig is a reload the daemon must refuse, keeping the old config.
const badConfig = "alerting:\n  group_wait: soon\nno_such_key: 1\n"

// daemon is the spacetime-watch process under test, restarted on the same
// state dir and address after each kill.
type daemon struct {
	bin, dir, config, state, addr string
	p                             *child.Process
	starts                        int
	// up are the intervals it ran, from ready to killed.
	up []interval
}

type interval struct{ from, to time.Time }

// targetsYAML lists the sims as targets, the token in a file each.
func targetsYAML(dir string, sims []*simSlot) (string, error) {
	var b strings.Builder
	for _, s := range sims {
		tok := filepath.Join(dir, s.name+".token")
		if err := os.WriteFile(tok, []byte(s.opts.Token), 0o600); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "  - name: %s\n    api_url: http://%s\n    telemetry_urls: [ws://%s/]\n    token_file: %s\n",
			s.name, s.opts.APIAddress, s.opts.TelemetryAddress, tok)
	}
	return b.String(), nil
}

func (d *daemon) url(path string) string { return "http://" + d.addr + path }

// start runs the daemon and waits until it serves /metrics.
func (d *daemon) start(ctx context.Context) error {
	d.starts++
	name := fmt.Sprintf("daemon-%02d", d.starts)
	p, _, err := child.Start(name, filepath.Join(d.dir, name+".log"), false, d.bin, "run",
		"--config.file="+d.config, "--state.dir="+d.state, "--web.listen-address="+d.addr,
		"--web.enable-lifecycle", "--log.level=info")
	if err != nil {
		return err
	}
	d.p = p
	if err := waitHTTP(ctx, d.url("/metrics"), 30*time.Second); err != nil {
		return fmt.Errorf("daemon start %d: %w", d.starts, err)
	}
	d.up = append(d.up, interval{from: clock.Now()})
	return nil
}

// stop ends the daemon with sig (SIGKILL or SIGTERM) and records the end
// of its interval up.
func (d *daemon) stop(sig syscall.Signal) error {
	d.up[len(d.up)-1].to = clock.Now()
	return d.p.SignalWait(sig, killGrace)
}

// reload sends SIGHUP and waits up to 10 s for the verdict the daemon's
// metrics give: the last reload successful (want) and, for a good one, a
// newer success timestamp than before.
func (d *daemon) reload(want bool) error {
	const ok, at = "spacetime_watch_config_last_reload_successful", "spacetime_watch_config_last_reload_success_timestamp_seconds"
	before, err := scrape(d.url("/metrics"))
	if err != nil {
		return err
	}
	if err := d.p.Signal(syscall.SIGHUP); err != nil {
		return err
	}
	deadline := clock.Deadline(10 * time.Second)
	for clock.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		m, err := scrape(d.url("/metrics"))
		if err != nil {
			continue
		}
		if !want && m[ok] == 0 {
			return nil
		}
		if want && m[ok] == 1 && m[at] > before[at] {
			return nil
		}
	}
	return fmt.Errorf("SIGHUP with a %s config: no such verdict in the metrics within 10 s", map[bool]string{true: "good", false: "bad"}[want])
}

// upFor reports whether the daemon ran, without a break, for at least
// hold within [from, to], outside the blackout.
func (d *daemon) upFor(from, to time.Time, hold time.Duration, blackout interval) bool {
	for _, u := range d.up {
		end := u.to
		if end.IsZero() {
			end = clock.Now()
		}
		for _, w := range cut(interval{maxTime(u.from, from), minTime(end, to)}, blackout) {
			if w.to.Sub(w.from) >= hold {
				return true
			}
		}
	}
	return false
}

// cut is w without b: zero, one or two intervals.
func cut(w, b interval) []interval {
	if !w.from.Before(w.to) {
		return nil
	}
	if b.from.IsZero() || !b.from.Before(w.to) || !w.from.Before(b.to) {
		return []interval{w}
	}
	var out []interval
	if w.from.Before(b.from) {
		out = append(out, interval{w.from, b.from})
	}
	if b.to.Before(w.to) {
		out = append(out, interval{b.to, w.to})
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// corruptState overwrites state.db from byte 8192 (past bbolt's two meta
// pages) to its end with random bytes, keeping each page header's
// overflow count 0: a random count can keep bbolt walking pages for
// minutes, a hang the watchdog catches in production but that would tell
// nothing of the damage handling here.
func corruptState(path string, rnd func() uint32) error {
	const from, pageSize, overflowAt = 8192, 4096, 12
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Size() <= from {
		return fmt.Errorf("%s is %d bytes: nothing to corrupt past %d", path, fi.Size(), from)
	}
	junk := make([]byte, fi.Size()-from)
	for i := range junk {
		junk[i] = byte(rnd())
	}
	for page := 0; page < len(junk); page += pageSize {
		for i := page + overflowAt; i < page+overflowAt+4 && i < len(junk); i++ {
			junk[i] = 0
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(junk, from); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
