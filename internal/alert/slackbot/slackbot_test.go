package slackbot

import (
	"context"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
)

func notify(t *testing.T, n *Notifier, m alert.Message) {
	t.Helper()
	if retry, err := n.Notify(context.Background(), m); err != nil {
		t.Fatalf("Notify = %v, %v; want delivered", retry, err)
	}
}

// parents returns the thread parents the fake received.
func parents(f *slackfake.Server) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range f.MessagesOf(slackfake.PostMessage) {
		if strings.HasPrefix(m.Text, "Deployment ") {
			out = append(out, m)
		}
	}
	return out
}

// TestThreadPerDeployment: the first message of a deployment posts the
// thread parent; later ones, also from a new Notifier on the same KV (a
// restart), reply in that thread; another deployment gets its own; a
// message without deployment and a test message go to the top level.
func TestThreadPerDeployment(t *testing.T) {
	s := newSetup(t)
	d1, d2 := dep("dep-1", "v2.4.1"), dep("dep-2", "v2.5.0")

	notify(t, s.notifier(t), msg(d1, firing("fps_low", d1)))
	notify(t, s.notifier(t), msg(d1, firing("memory_high", d1))) // after a restart
	notify(t, s.notifier(t), alert.Message{Kind: alert.KindText, Title: "Review +1h", Text: "healthy", Deployment: d1, CreatedAt: now})
	notify(t, s.notifier(t), msg(d2, firing("fps_low", d2)))
	notify(t, s.notifier(t), msg(nil, firing("token_expired", nil)))
	notify(t, s.notifier(t), alert.Message{Kind: alert.KindTest, CreatedAt: now})

	ps := parents(s.fake)
	if len(ps) != 2 {
		t.Fatalf("%d thread parents, want 2 (one per deployment): %+v", len(ps), ps)
	}
	if want := "Deployment v2.4.1 on main started " + d1.StartedAt.Format("2006-01-02 15:04 UTC"); ps[0].Text != want || ps[0].ThreadTS != "" {
		t.Errorf("first parent = %+v", ps[0])
	}
	all := s.fake.MessagesOf(slackfake.PostMessage)
	if len(all) != 8 {
		t.Fatalf("%d posts, want 8 (2 parents, 6 messages)", len(all))
	}
	wantThread := []string{"", ps[0].TS, ps[0].TS, ps[0].TS, "", ps[1].TS, "", ""}
	for i, m := range all {
		if m.ThreadTS != wantThread[i] {
			t.Errorf("post %d (%.40q): thread_ts %q, want %q", i, m.Text, m.ThreadTS, wantThread[i])
		}
		if m.Channel != all[0].Channel {
			t.Errorf("post %d in channel %s, want %s", i, m.Channel, all[0].Channel)
		}
	}
	if !strings.HasPrefix(all[7].Text, "[TEST]") {
		t.Errorf("test message = %q, want it marked [TEST]", all[7].Text)
	}
	if got := s.kv.keys("slackbot/bot/thread/"); len(got) != 2 {
		t.Errorf("thread records = %v, want one per deployment", got)
	}
}

// TestThreadParentFailure: a parent that Slack refuses is not recorded,
// so the next message tries again; nothing is posted top-level instead.
func TestThreadParentFailure(t *testing.T) {
	s := newSetup(t)
	d := dep("dep-1", "v2.4.1")
	s.fake.Inject(slackfake.PostMessage, slackfake.APIError("not_in_channel"))
	retry, err := s.notifier(t).Notify(context.Background(), msg(d, firing("fps_low", d)))
	if retry || err == nil || !strings.Contains(err.Error(), "not_in_channel") {
		t.Fatalf("Notify = %v, %v; want permanent not_in_channel", retry, err)
	}
	if len(s.fake.Messages()) != 0 || len(s.kv.keys("")) != 0 {
		t.Fatalf("after a refused parent: messages %+v, KV %v", s.fake.Messages(), s.kv.keys(""))
	}
	notify(t, s.notifier(t), msg(d, firing("fps_low", d)))
	if ps := parents(s.fake); len(ps) != 1 {
		t.Errorf("%d parents after the retry, want 1", len(ps))
	}
}

// TestResolvedUpdatesFiringMessages: when an alert resolves, every message
// that showed it firing is updated (also after a restart), and the
// resolution is posted in the thread; records are cleaned up once all of a
// message's alerts resolved.
func TestResolvedUpdatesFiringMessages(t *testing.T) {
	s := newSetup(t)
	d := dep("dep-1", "v2.4.1")
	fps, mem := firing("fps_low", d), firing("memory_high", d)

	notify(t, s.notifier(t), msg(d, fps, mem)) // message A
	notify(t, s.notifier(t), msg(d, fps))      // message B: fps_low re-notified
	posts := s.fake.MessagesOf(slackfake.PostMessage)
	a, b := posts[1], posts[2]

	// fps_low resolves, after a restart: A and B are updated, the
	// resolution is posted in the thread.
	notify(t, s.notifier(t), msg(d, resolved(fps)))
	ups := s.fake.MessagesOf(slackfake.Update)
	if len(ups) != 2 || ups[0].TS != a.TS || ups[1].TS != b.TS {
		t.Fatalf("updates = %+v, want A (%s) and B (%s)", ups, a.TS, b.TS)
	}
	nowA, _ := s.fake.Lookup(a.Channel, a.TS)
	if !strings.HasPrefix(nowA.Text, "🔴 FIRING 1 · ✅ RESOLVED 1 — main") || !strings.Contains(string(nowA.Blocks), "✅ *RESOLVED* · *fps_low* on `main` (critical)\\n"+resolved(fps).Reason) {
		t.Errorf("A after the update: %q %s; want fps_low resolved in its own words, memory_high still firing", nowA.Text, nowA.Blocks)
	}
	nowB, _ := s.fake.Lookup(b.Channel, b.TS)
	if !strings.HasPrefix(nowB.Text, "✅ RESOLVED 1 — main") {
		t.Errorf("B after the update: %q", nowB.Text)
	}
	posts = s.fake.MessagesOf(slackfake.PostMessage)
	if reply := posts[len(posts)-1]; reply.ThreadTS != posts[0].TS || !strings.HasPrefix(reply.Text, "✅ RESOLVED 1") {
		t.Errorf("resolution reply = %+v, want it in the thread", reply)
	}
	if _, ok, _ := s.kv.Get("slackbot/bot/alert/fp-fps_low"); ok {
		t.Error("fps_low's record outlived its resolution")
	}
	if _, ok, _ := s.kv.Get("slackbot/bot/msg/" + b.Channel + "/" + b.TS); ok {
		t.Error("B's record outlived the resolution of all its alerts")
	}

	// memory_high resolves: only A shows it.
	notify(t, s.notifier(t), msg(d, resolved(mem)))
	if ups := s.fake.MessagesOf(slackfake.Update); len(ups) != 3 || ups[2].TS != a.TS {
		t.Fatalf("updates = %+v, want a third one, of A", ups)
	}
	nowA, _ = s.fake.Lookup(a.Channel, a.TS)
	if !strings.HasPrefix(nowA.Text, "✅ RESOLVED 2 — main") {
		t.Errorf("A at the end: %q, want both resolved", nowA.Text)
	}
	if left := s.kv.keys("slackbot/bot/alert/"); len(left) != 0 {
		t.Errorf("alert records left: %v", left)
	}
	if left := s.kv.keys("slackbot/bot/msg/"); len(left) != 0 {
		t.Errorf("message records left: %v", left)
	}

	// Resolving again (a duplicate from the outbox) updates nothing more.
	notify(t, s.notifier(t), msg(d, resolved(mem)))
	if ups := s.fake.MessagesOf(slackfake.Update); len(ups) != 3 {
		t.Errorf("a duplicate resolution made %d updates, want none", len(ups)-3)
	}
}

// TestUpdateFailures: a message that can no longer be updated is skipped
// (the reply still goes out); a transient update failure posts nothing,
// so the retry posts the resolution once.
func TestUpdateFailures(t *testing.T) {
	t.Run("gone", func(t *testing.T) {
		s := newSetup(t)
		notify(t, s.notifier(t), msg(nil, firing("fps_low", nil)))
		s.fake.Inject(slackfake.Update, slackfake.APIError("message_not_found"))
		notify(t, s.notifier(t), msg(nil, resolved(firing("fps_low", nil))))
		if posts := s.fake.MessagesOf(slackfake.PostMessage); len(posts) != 2 {
			t.Errorf("%d posts, want the firing and the resolution", len(posts))
		}
		if s.logs.FilterMessageSnippet("cannot show the resolution").Len() != 1 {
			t.Errorf("the skipped update was not logged: %v", s.logs.All())
		}
		if left := s.kv.keys("slackbot/bot/"); len(left) != 0 {
			t.Errorf("records left: %v", left)
		}
	})
	t.Run("transient", func(t *testing.T) {
		s := newSetup(t)
		n := s.notifier(t)
		notify(t, n, msg(nil, firing("fps_low", nil)))
		s.fake.Inject(slackfake.Update, slackfake.ServerError(503))
		retry, err := n.Notify(context.Background(), msg(nil, resolved(firing("fps_low", nil))))
		if !retry || err == nil {
			t.Fatalf("Notify = %v, %v; want a retry", retry, err)
		}
		if posts := s.fake.MessagesOf(slackfake.PostMessage); len(posts) != 1 {
			t.Fatalf("%d posts after the failed update, want only the firing one", len(posts))
		}
		notify(t, n, msg(nil, resolved(firing("fps_low", nil))))
		if posts, ups := s.fake.MessagesOf(slackfake.PostMessage), s.fake.MessagesOf(slackfake.Update); len(posts) != 2 || len(ups) != 1 {
			t.Errorf("after the retry: %d posts and %d updates, want 2 and 1", len(posts), len(ups))
		}
	})
}

// TestKVFailures: a KV that cannot be read fails the delivery before
// anything is posted (retry); one that cannot be written after the post
// does not (a retry would post twice), and says so in the log.
func TestKVFailures(t *testing.T) {
	s := newSetup(t)
	d := dep("dep-1", "v2.4.1")
	s.kv.failGet = "thread/"
	retry, err := s.notifier(t).Notify(context.Background(), msg(d, firing("fps_low", d)))
	if !retry || err == nil || !strings.Contains(err.Error(), "state_unavailable") {
		t.Errorf("unreadable KV: Notify = %v, %v; want a retry, state_unavailable", retry, err)
	}
	if s.fake.Requests() != 0 {
		t.Errorf("%d requests with an unreadable KV, want none", s.fake.Requests())
	}

	s.kv.failGet, s.kv.failPut = "", "alert/"
	n := s.notifier(t)
	notify(t, n, msg(nil, firing("fps_low", nil)))
	if s.logs.FilterMessageSnippet("cannot remember an alert's message").Len() != 1 {
		t.Errorf("the lost record was not logged: %v", s.logs.All())
	}
}
