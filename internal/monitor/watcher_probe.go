package monitor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// This file is the watcher's side for other goroutines: Status for
// /api/v1/status, and the TelemetryProbe of the scheduled checks 4
// (telemetry) and 10 (thresholds), which share the watcher's connection
// rather than open a second one (the instance may cap connections).

// ErrTelemetryUnavailable is wrapped by every error of Window and
// FirstDataFrame that comes from the stream delivering no data: not yet
// connected, disconnected (the error then wraps the last dial error),
// silent, or the watcher not running.
var ErrTelemetryUnavailable = errors.New("telemetry unavailable")

// The daemon's scheduled checks 4 and 10 read the watcher's stream.
var _ TelemetryProbe = (*Watcher)(nil)

// WatcherStatus is a watcher's view of its target's telemetry.
type WatcherStatus struct {
	// Target is the target's name.
	Target string `json:"target"`
	// Running is true while Run runs.
	Running bool `json:"running"`
	// State is unknown until the first connection delivers data or fails,
	// then connected (data flowing), disconnected or silent.
	State StreamState `json:"state"`
	// Connected is true while data flows (spacetime_telemetry_connected).
	Connected bool `json:"connected"`
	// URL is the URL of the current or last connection (password redacted).
	URL string `json:"url,omitempty"`
	// Since is when State began.
	Since time.Time `json:"since,omitzero"`
	// LastFrame is when the last frame of instance data arrived (as of the
	// last second's tick).
	LastFrame time.Time `json:"last_frame,omitzero"`
	// LastError is why the last connection ended or the last dial failed;
	// it names each URL tried.
	LastError string `json:"last_error,omitempty"`
	// DialAttempts counts dials since Run started; FailedDials counts the
	// consecutive ones that failed.
	DialAttempts uint64 `json:"dial_attempts"`
	FailedDials  int    `json:"failed_dials"`
	// Reconnects counts connections after the first
	// (spacetime_telemetry_reconnects_total).
	Reconnects uint64 `json:"reconnects"`
	// NextDial is when the next dial is due, while backing off.
	NextDial time.Time `json:"next_dial,omitzero"`
	// Rules are the state of every enabled rule.
	Rules []RuleState `json:"rules"`
}

// Status returns the watcher's current view. It never blocks on Run.
func (w *Watcher) Status() WatcherStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.pub.status
	st.Running = w.runDone != nil
	st.Rules = slices.Clone(st.Rules)
	if w.pub.lastErr != nil {
		st.LastError = w.pub.lastErr.Error() // worded when asked, not at every tick
	}
	return st
}

// StatusView is Status for the daemon's /api/v1/status.
func (w *Watcher) StatusView() any { return w.Status() }

// publish shares the current state with the other goroutines, and brings
// the rule series to it. It runs at every tick of every watcher, so it
// allocates nothing: the rule states go into the published status's own
// slice, which Status copies before handing it out, and Status words the
// last error. Only publish writes that slice, under the run lock the
// caller holds, so Sync may read it after mu is released.
func (w *Watcher) publish() {
	r := &w.run
	w.mu.Lock()
	st := &w.pub.status
	rules := r.engine.AppendStates(st.Rules[:0])
	*st = WatcherStatus{
		Target:       w.target,
		Running:      true,
		State:        r.state,
		Connected:    r.live,
		URL:          r.url,
		Since:        r.stateSince,
		LastFrame:    r.lastFrame,
		DialAttempts: r.dials,
		FailedDials:  r.failures,
		Reconnects:   r.reconnects,
		NextDial:     r.nextDial,
		Rules:        rules,
	}
	w.pub.lastErr = r.lastErr
	w.mu.Unlock()
	r.firing.Sync(rules)
}

// watcherRequest asks Run's goroutine for data: samples (Window) or a data
// frame (FirstDataFrame). Replies go to channels buffered for one, so Run's
// goroutine never blocks on a caller that gave up.
type watcherRequest struct {
	window  time.Duration
	samples chan windowReply
	maxAge  time.Duration
	frame   chan spacetime.Frame
}

type windowReply struct {
	live      bool
	liveSince time.Time
	now       time.Time
	samples   []Sample
}

// frameWaiter is a FirstDataFrame waiting for the next data frame.
type frameWaiter struct {
	reply    chan spacetime.Frame
	deadline time.Time
}

// serve answers a request on Run's goroutine.
func (w *Watcher) serve(req watcherRequest) {
	r := &w.run
	now := w.now()
	if req.samples != nil {
		rep := windowReply{live: r.live, liveSince: r.liveSince, now: now}
		if r.live {
			// Only the current connection's samples: those of an earlier one
			// came before an outage.
			from := now.Add(-req.window)
			if from.Before(r.liveSince) {
				from = r.liveSince
			}
			rep.samples = r.ring.since(from.UnixNano())
		}
		req.samples <- rep
		return
	}
	if r.live && r.held != nil && now.Sub(r.held.Received) <= req.maxAge {
		req.frame <- *r.held
		return
	}
	r.waiters = append(r.waiters, frameWaiter{reply: req.frame, deadline: now.Add(req.maxAge)})
}

func (w *Watcher) answerWaiters(f spacetime.Frame) {
	for _, wt := range w.run.waiters {
		wt.reply <- f
	}
	w.run.waiters = w.run.waiters[:0]
}

// expireWaiters forgets the waiters whose callers have given up.
func (w *Watcher) expireWaiters(now time.Time) {
	w.run.waiters = slices.DeleteFunc(w.run.waiters, func(wt frameWaiter) bool { return now.After(wt.deadline) })
}

// ask sends req to Run's goroutine and returns the channel closed when that
// Run ends.
func (w *Watcher) ask(ctx context.Context, req watcherRequest) (<-chan struct{}, error) {
	done := w.running()
	if done == nil {
		return nil, w.unavailable()
	}
	select {
	case w.reqs <- req:
		return done, nil
	case <-done:
		return nil, w.unavailable()
	case <-ctx.Done():
		return nil, fmt.Errorf("telemetry of %s: %w", w.target, ctx.Err())
	}
}

// FirstDataFrame returns the latest fps or vr_tracking frame if one arrived
// within timeout on the live connection, or else waits up to timeout for the
// next. An auth_required frame does not count. The error names why no frame
// came: disconnected (with the last dial error), silent, not yet
// connected, or connected but carrying no such frame.
func (w *Watcher) FirstDataFrame(ctx context.Context, timeout time.Duration) (spacetime.Frame, error) {
	if timeout <= 0 {
		return spacetime.Frame{}, fmt.Errorf("telemetry of %s: FirstDataFrame timeout must be positive, got %s", w.target, timeout)
	}
	reply := make(chan spacetime.Frame, 1)
	done, err := w.ask(ctx, watcherRequest{frame: reply, maxAge: timeout})
	if err != nil {
		return spacetime.Frame{}, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case f := <-reply:
		return f, nil
	case <-t.C:
		return spacetime.Frame{}, w.noFrame(timeout)
	case <-done:
		return spacetime.Frame{}, w.unavailable()
	case <-ctx.Done():
		return spacetime.Frame{}, fmt.Errorf("telemetry of %s: waiting for a data frame: %w", w.target, ctx.Err())
	}
}

// Window returns the FPS and memory samples of the last d, oldest first,
// from the current connection only: samples from before an outage are never
// judged. If the connection has delivered data for less than d, it waits
// (once) for the window to fill, within ctx. It fails when the stream is
// not delivering (ErrTelemetryUnavailable) or carried no sample in the window.
func (w *Watcher) Window(ctx context.Context, d time.Duration) ([]Sample, error) {
	if d <= 0 {
		return nil, fmt.Errorf("telemetry of %s: Window duration must be positive, got %s", w.target, d)
	}
	for waited := false; ; waited = true {
		reply := make(chan windowReply, 1)
		done, err := w.ask(ctx, watcherRequest{samples: reply, window: d})
		if err != nil {
			return nil, err
		}
		var rep windowReply
		select {
		case rep = <-reply:
		case <-done:
			return nil, w.unavailable()
		case <-ctx.Done():
			return nil, fmt.Errorf("telemetry of %s: %w", w.target, ctx.Err())
		}
		if !rep.live {
			return nil, w.unavailable()
		}
		if short := rep.liveSince.Add(d).Sub(rep.now); short > 0 && !waited {
			if !clock.Sleep(ctx, short) {
				return nil, fmt.Errorf("telemetry of %s: connected %s ago, waiting for a %s window: %w", w.target, rep.now.Sub(rep.liveSince).Round(time.Millisecond), d, ctx.Err())
			}
			continue
		}
		if len(rep.samples) == 0 {
			st := w.Status()
			return nil, fmt.Errorf("%w: no FPS or memory sample in the last %s on %s (the stream carries other frames only)", ErrTelemetryUnavailable, d, st.URL)
		}
		return rep.samples, nil
	}
}

// noFrame explains a FirstDataFrame that timed out.
func (w *Watcher) noFrame(timeout time.Duration) error {
	w.mu.Lock()
	p := w.pub
	running := w.runDone != nil
	w.mu.Unlock()
	if running && p.status.State == StreamConnected {
		return fmt.Errorf("%w: connected to %s, but no fps or vr_tracking frame within %s", ErrTelemetryUnavailable, p.status.URL, timeout)
	}
	return w.unavailable()
}

// unavailable says why the stream delivers no data now.
func (w *Watcher) unavailable() error {
	w.mu.Lock()
	p := w.pub
	running := w.runDone != nil
	w.mu.Unlock()
	st := p.status
	outFor := func() string { return w.now().Sub(st.Since).Round(time.Millisecond).String() }
	switch {
	case !running:
		return fmt.Errorf("%w: the telemetry watcher of target %s is not running", ErrTelemetryUnavailable, w.target)
	case st.State == StreamSilent && p.lastErr != nil:
		return fmt.Errorf("%w: stream silent for %s, redialling: %w", ErrTelemetryUnavailable, outFor(), p.lastErr)
	case st.State == StreamDisconnected && p.lastErr != nil:
		return fmt.Errorf("%w: disconnected for %s (%d dial attempts): %w", ErrTelemetryUnavailable, outFor(), st.DialAttempts, p.lastErr)
	case st.State == StreamConnected:
		return fmt.Errorf("%w: connected to %s, but no data in the requested span", ErrTelemetryUnavailable, st.URL)
	case st.URL != "":
		return fmt.Errorf("%w: connected to %s, no data received yet", ErrTelemetryUnavailable, st.URL)
	}
	return fmt.Errorf("%w: first connection attempt in progress", ErrTelemetryUnavailable)
}

// SamplesSince returns the current connection's samples received after
// since, oldest first, without waiting, and whether the stream is live. The
// review recorder takes them once a minute.
func (w *Watcher) SamplesSince(ctx context.Context, since time.Time) ([]Sample, bool, error) {
	now := w.now()
	window := now.Sub(since)
	if window <= 0 {
		return nil, false, nil
	}
	reply := make(chan windowReply, 1)
	done, err := w.ask(ctx, watcherRequest{samples: reply, window: window})
	if err != nil {
		return nil, false, err
	}
	select {
	case rep := <-reply:
		return rep.samples, rep.live, nil
	case <-done:
		return nil, false, w.unavailable()
	case <-ctx.Done():
		return nil, false, fmt.Errorf("telemetry of %s: %w", w.target, ctx.Err())
	}
}
