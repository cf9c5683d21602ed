// Package console is the sink that prints notifications as readable text
// on a writer (stdout in `spacetime-watch demo`): the same messages the
// other sinks deliver, one line per alert, in plain text.
//
//	ALERT FIRING fps_low [warning] on demo: FPS 60.3 below 85 for 10s (observed 60.3, expected ≥ 85; since 10:35:13, deployment 1.0.0 started 3m ago)
//	  likely cause, next step: more scene load than the frame budget holds, ...
//	ALERT RESOLVED fps_low [warning] on demo: FPS 90.1 back at or above 88 for 10s (observed 90.1, expected ≥ 85; fired 10:35:13–10:35:53 for 40s, deployment 1.0.0 started 4m ago)
package console

import (
	"context"
	"io"
	"sync"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
)

// Notifier writes each message to its writer in one Write call, so that
// messages never interleave with each other. It never fails unless the
// writer does.
type Notifier struct {
	name string
	mu   sync.Mutex // one message at a time on w
	w    io.Writer
}

var _ alert.Notifier = (*Notifier)(nil)

// New returns a console sink named name that writes to w.
func New(w io.Writer, name string) *Notifier {
	return &Notifier{name: name, w: w}
}

// Name returns the sink's configured name.
func (n *Notifier) Name() string { return n.name }

// Notify writes m as Render renders it. It returns (false, nil) once
// written; a failed write is transient (retry=true), since a full disk or
// a pipe being reattached can recover.
func (n *Notifier) Notify(_ context.Context, m alert.Message) (bool, error) {
	text := Render(m, n.name)
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := io.WriteString(n.w, text); err != nil {
		return true, &alert.DeliveryError{Sink: n.name, Reason: "write failed", Err: err}
	}
	return false, nil
}
