package slackbot

import (
	"context"
	"encoding/json"
	"fmt"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	alertslack "github.com/spacetime-vr/spacetime-watch/internal/alert/slack"
)

// threadRecord is a deployment's thread: its parent message.
type threadRecord struct {
	// Channel is the channel ID Slack answered with; TS the parent's ts.
	Channel string `json:"channel"`
	TS      string `json:"ts"`
	// Configured is Options.Channel when the thread was made: a thread in
	// a channel the sink no longer posts to is not reused.
	Configured string `json:"configured"`
}

// place returns where m goes: its deployment's thread (posting the
// parent first when the deployment has none yet), or the channel's top
// level for a message without a deployment.
func (n *Notifier) place(ctx context.Context, m alert.Message) (channel, thread string, retry bool, err error) {
	d := m.Deployment
	if d == nil || d.ID == "" {
		return n.channel, "", false, nil
	}
	key := n.prefix + "thread/" + d.ID
	var rec threadRecord
	found, err := n.get(key, &rec)
	if err != nil {
		return "", "", true, err
	}
	if found && rec.Configured == n.channel && rec.TS != "" {
		return rec.Channel, rec.TS, false, nil
	}
	ch, ts, retry, err := n.post(ctx, n.channel, "", threadParent(*d, target(m), n.render.Sink))
	if err != nil {
		return "", "", retry, err
	}
	// Should this fail, the retry posts a second parent: better than
	// replies scattered over one new parent each.
	if err := n.put(key, threadRecord{Channel: ch, TS: ts, Configured: n.channel}); err != nil {
		return "", "", true, err
	}
	return ch, ts, false, nil
}

// target is the target m is about.
func target(m alert.Message) string {
	if m.Target != "" {
		return m.Target
	}
	if t := m.GroupLabels["target"]; t != "" {
		return t
	}
	if len(m.Alerts) > 0 {
		return m.Alerts[0].Target
	}
	return ""
}

// threadParent is a deployment's thread parent: "Deployment v2.4.1 on
// main started …".
func threadParent(d alert.Deployment, target, sink string) alertslack.Payload {
	version := d.Version
	if version == "" {
		version = d.ID
	}
	title := "🚀 Deployment " + version
	text := "Deployment " + version
	if target != "" {
		title += " on " + target
		text += " on " + target
	}
	body := "Alerts and reviews for this deployment follow in this thread."
	if !d.StartedAt.IsZero() {
		body = "*Started* " + alertslack.Date(d.StartedAt) + ". " + body
		text += " started " + alertslack.UTC(d.StartedAt)
	}
	return alertslack.Payload{
		Text: alertslack.Truncate(alertslack.Escape(text), alertslack.MaxFallbackChars),
		Blocks: []alertslack.Block{
			alertslack.Header(title),
			alertslack.Section(body),
			alertslack.Context(fmt.Sprintf("deployment %s · spacetime-watch sink %s",
				alertslack.Code(d.ID, 100), alertslack.Code(sink, 100))),
		},
	}
}

// get reads key into v; found is false when the key is absent.
func (n *Notifier) get(key string, v any) (found bool, err error) {
	b, ok, err := n.kv.Get(key)
	if err != nil {
		return false, &alert.DeliveryError{Sink: n.name, Reason: "state_unavailable", Err: fmt.Errorf("slack bot: reading %s: %w", key, err)}
	}
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		// A damaged record is as good as none: start afresh.
		n.log.Warn("slack bot: ignoring a damaged record", zap.String("key", key), zap.Error(err))
		return false, nil
	}
	return true, nil
}

// put stores v under key.
func (n *Notifier) put(key string, v any) error {
	b, err := json.Marshal(v)
	if err == nil {
		err = n.kv.Put(key, b)
	}
	if err != nil {
		return &alert.DeliveryError{Sink: n.name, Reason: "state_unavailable", Err: fmt.Errorf("slack bot: writing %s: %w", key, err)}
	}
	return nil
}
