package slackbot

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	alertslack "github.com/spacetime-vr/spacetime-watch/internal/alert/slack"
)

// maxRefs bounds how many messages are remembered per alert and episode:
// the latest ones, which are the ones people see.
const maxRefs = 10

// msgRef names a posted message.
type msgRef struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// alertRecord lists the messages that showed an alert firing during one
// episode (one StartsAt).
type alertRecord struct {
	StartsAt time.Time `json:"starts_at"`
	Messages []msgRef  `json:"messages"`
}

// msgRecord is what a posted message shows, so that it can be rendered
// again with some of its alerts resolved.
type msgRecord struct {
	Message alert.Message `json:"message"`
}

func (n *Notifier) alertKey(fingerprint string) string { return n.prefix + "alert/" + fingerprint }

func (n *Notifier) msgKey(r msgRef) string { return n.prefix + "msg/" + r.Channel + "/" + r.TS }

// updateResolved re-renders, with chat.update, each message that showed
// one of m's resolved alerts firing. A message that can no longer be
// updated (deleted, too old) is skipped: the resolution posted in the
// thread is the notification, the update a courtesy.
func (n *Notifier) updateResolved(ctx context.Context, m alert.Message) (bool, error) {
	var order []msgRef
	byRef := map[msgRef]map[string]alert.Alert{}
	var done []string
	for _, a := range m.Resolved() {
		key := n.alertKey(a.Fingerprint)
		var rec alertRecord
		found, err := n.get(key, &rec)
		if err != nil {
			return true, err
		}
		if !found {
			continue
		}
		for _, ref := range rec.Messages {
			if byRef[ref] == nil {
				byRef[ref] = map[string]alert.Alert{}
				order = append(order, ref)
			}
			byRef[ref][a.Fingerprint] = a
		}
		done = append(done, key)
	}
	for _, ref := range order {
		retry, err := n.updateOne(ctx, ref, byRef[ref])
		if err == nil {
			continue
		}
		if retry {
			return true, err
		}
		n.log.Warn("slack bot: cannot show the resolution in the firing message; the thread reply still goes out",
			zap.String("channel", ref.Channel), zap.String("ts", ref.TS), zap.Error(err))
		n.forget(n.msgKey(ref))
	}
	for _, key := range done {
		n.forget(key)
	}
	return false, nil
}

// updateOne shows resolved's alerts resolved, as they resolved, in the
// message at ref.
func (n *Notifier) updateOne(ctx context.Context, ref msgRef, resolved map[string]alert.Alert) (bool, error) {
	key := n.msgKey(ref)
	var rec msgRecord
	found, err := n.get(key, &rec)
	if err != nil {
		return true, err
	}
	if !found {
		return false, nil // nothing to render it from: leave it be
	}
	allResolved := true
	for i, a := range rec.Message.Alerts {
		if r, ok := resolved[a.Fingerprint]; ok && a.State != alert.StateResolved {
			// The resolution in its own words: the firing reason and
			// values under "resolved" would read as current.
			rec.Message.Alerts[i] = r
		}
		if rec.Message.Alerts[i].State != alert.StateResolved {
			allResolved = false
		}
	}
	p, err := alertslack.Render(rec.Message, n.render)
	if err != nil {
		return false, &alert.DeliveryError{Sink: n.name, Reason: "invalid_message", Err: err}
	}
	if retry, err := n.update(ctx, ref.Channel, ref.TS, p); err != nil {
		return retry, err
	}
	if allResolved {
		n.forget(key)
	} else if err := n.put(key, rec); err != nil {
		n.log.Warn("slack bot: cannot store the updated message", zap.String("key", key), zap.Error(err))
	}
	return false, nil
}

// rememberFiring records that the message ch/ts shows m's firing alerts.
// It runs after the post succeeded, so a failure here is logged, not
// returned: a retry would post the message twice, while a lost record
// only costs the later chat.update.
func (n *Notifier) rememberFiring(m alert.Message, ch, ts string) {
	firing := m.Firing()
	if len(firing) == 0 || ts == "" {
		return
	}
	ref := msgRef{Channel: ch, TS: ts}
	for _, a := range firing {
		key := n.alertKey(a.Fingerprint)
		var rec alertRecord
		found, err := n.get(key, &rec)
		if err != nil {
			n.log.Warn("slack bot: cannot read an alert's messages", zap.String("key", key), zap.Error(err))
			continue
		}
		if !found || !rec.StartsAt.Equal(a.StartsAt) { // a new episode
			rec = alertRecord{StartsAt: a.StartsAt}
		}
		rec.Messages = append(rec.Messages, ref)
		if len(rec.Messages) > maxRefs {
			rec.Messages = rec.Messages[len(rec.Messages)-maxRefs:]
		}
		if err := n.put(key, rec); err != nil {
			n.log.Warn("slack bot: cannot remember an alert's message", zap.String("key", key), zap.Error(err))
		}
	}
	if err := n.put(n.msgKey(ref), msgRecord{Message: m}); err != nil {
		n.log.Warn("slack bot: cannot remember a message", zap.String("channel", ch), zap.String("ts", ts), zap.Error(err))
	}
}

// forget deletes key, logging a failure: a stale record costs an update
// that finds nothing to do.
func (n *Notifier) forget(key string) {
	if err := n.kv.Delete(key); err != nil {
		n.log.Warn("slack bot: cannot delete a record", zap.String("key", key), zap.Error(err))
	}
}
