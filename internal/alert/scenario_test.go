package alert_test

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
)

// The acceptance scenarios against a fake Slack (docs/reliability.md 1,
// 3–7 and 19), through the whole pipeline: see scenario_helpers_test.go.
// Times are fake (testing/synctest) and therefore exact; the figures each
// scenario measures are logged (go test -v -run Scenario).

// TestScenarioAPIOutageWithRestart is docs/reliability.md 1: the API is down
// from minute 0 to 12, polled every 5 minutes, alerting after 2 failed
// polls; the daemon is restarted (SIGTERM) in the middle and the restored
// monitor replays the firing condition. Each sink gets exactly 1 firing and
// 1 resolved notification (the bot's in the deployment's thread, with the
// firing message updated by chat.update), and the firing one reaches Slack
// within group_wait of the 2nd failed poll.
func TestScenarioAPIOutageWithRestart(t *testing.T) {
	const (
		poll   = 5 * time.Minute
		outage = 12 * time.Minute
		failN  = 2
	)
	tests := []struct {
		name      string
		restartAt time.Duration
	}{
		{"restart at minute 7, after the firing message", 7 * time.Minute},
		{"restart during group_wait, before the firing message", 5*time.Minute + 15*time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dep := &alert.Deployment{ID: "main-7", Version: "v2.4.1", StartedAt: time.Now().Add(-time.Hour)}
				w := newWorld(t, scenario{sinks: []string{sinkWebhook, sinkBot}, deployment: dep})
				const target, check, sev = "main", "check_instance_up", alert.SeverityCritical
				outageStart := time.Now()

				// Polls every 5 minutes from each start: 0, 5, ... then R, R+5, ...
				var polls []time.Duration
				for p := time.Duration(0); p < tc.restartAt; p += poll {
					polls = append(polls, p)
				}
				for p := tc.restartAt; ; p += poll {
					polls = append(polls, p)
					if p >= outage {
						break
					}
				}
				failures, fired, restarted := 0, false, false
				var firedAt, resolvedAt time.Duration
				for _, p := range polls {
					if !restarted && p >= tc.restartAt {
						w.at(tc.restartAt)
						before, docBefore := w.mgr().Alerts(), w.stateDoc()
						w.restart()
						restarted = true
						if fired {
							w.handle(firing(target, check, sev, outageStart)) // the restored monitor's replay
						}
						after, docAfter := w.mgr().Alerts(), w.stateDoc()
						if !reflect.DeepEqual(docBefore, docAfter) {
							t.Errorf("the stored alert state changed across the restart and the replay:\nbefore %v\nafter  %v", docBefore, docAfter)
						}
						if len(before) != 1 || len(after) != 1 || before[0].State != after[0].State ||
							!before[0].StartsAt.Equal(after[0].StartsAt) || before[0].Fingerprint != after[0].Fingerprint {
							t.Fatalf("alert state across the restart:\nbefore %+v\nafter  %+v", before, after)
						}
						t.Logf("alert across the restart at %v: %s, since %v", tc.restartAt, after[0].State, after[0].StartsAt.Sub(w.start))
					}
					w.at(p)
					if p < outage {
						failures++
						if failures == failN && !fired {
							fired, firedAt = true, w.now()
							w.handle(firing(target, check, sev, outageStart))
						}
						continue
					}
					resolvedAt = w.now()
					w.handle(resolved(target, check, sev))
				}
				w.at(resolvedAt + 10*time.Minute)

				hook := w.messages(slackfake.Webhook)
				if len(hook) != 2 || !hook[0].isFiring() || hook[0].isResolved() || !hook[1].isResolved() || hook[1].isFiring() {
					t.Fatalf("webhook messages: want 1 firing then 1 resolved, got %d:%s", len(hook), summaries(hook))
				}
				// What is wrong, said once: the summary already carries the reason.
				if reason := check + " breached on " + target; strings.Count(hook[0].text, reason) != 1 {
					t.Errorf("firing message states the reason %d times, want once:\n%s", strings.Count(hook[0].text, reason), hook[0].text)
				}
				gw := w.settings().GroupWait
				latency := hook[0].at - firedAt
				if latency > gw+time.Second {
					t.Errorf("firing message %v after failed poll #%d, want within group_wait %v + 1s", latency, failN, gw)
				}
				if d := hook[1].at - resolvedAt; d > gw+time.Second {
					t.Errorf("resolved message %v after the first good poll, want within group_wait %v + 1s", d, gw)
				}
				t.Logf("failed poll #%d → Slack 200: %v (group_wait %v); first good poll → resolved: %v",
					failN, latency, gw, hook[1].at-resolvedAt)

				posts, updates := w.messages(slackfake.PostMessage), w.messages(slackfake.Update)
				switch {
				case len(posts) != 3 || !posts[0].isParent() || posts[0].ThreadTS != "":
					t.Errorf("bot posts: want the thread parent, the firing reply and the resolved reply, got%s", summaries(posts))
				case posts[1].ThreadTS != posts[0].TS || !posts[1].isFiring() || posts[1].isResolved():
					t.Errorf("bot's firing message is not a firing reply in the thread:%s", summaries(posts))
				case posts[2].ThreadTS != posts[0].TS || !posts[2].isResolved() || posts[2].isFiring():
					t.Errorf("bot's resolved message is not a resolved reply in the thread:%s", summaries(posts))
				case len(updates) != 1 || updates[0].TS != posts[1].TS || !updates[0].isResolved():
					t.Errorf("bot updates: want the firing message shown resolved, got%s", summaries(updates))
				}

				if left := w.mgr().Alerts(); len(left) != 0 {
					t.Errorf("alerts still tracked after the resolution went out: %+v", left)
				}
				for _, sink := range []string{sinkWebhook, sinkBot} {
					if p, dl := w.pending(sink), w.deadLettersOf(sink); p != 0 || len(dl) != 0 {
						t.Errorf("sink %s: %d pending, %d dead letters, want none", sink, p, len(dl))
					}
				}
				checkAllAccepted(t, w)
			})
		})
	}
}

// TestScenarioSlackRateLimited is docs/reliability.md 3: Slack answers 429 with
// Retry-After: 30 to the first of three notifications. Nothing reaches it
// for 30 s, then all three are delivered, at most one a second (the fake
// refuses faster posts with its own 429s, and none came).
func TestScenarioSlackRateLimited(t *testing.T) {
	const retryAfter = 30 * time.Second
	tests := []struct {
		name string
		sink string
		ep   slackfake.Endpoint
		word string
	}{
		{"webhook", sinkWebhook, slackfake.Webhook, "rate_limited"},
		{"bot", sinkBot, slackfake.PostMessage, "ratelimited"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, scenario{sinks: []string{tc.sink}, fakeOpts: []slackfake.Option{slackfake.WithMinInterval(time.Second)}})
				w.fake.Inject(tc.ep, slackfake.RateLimited(retryAfter))
				targets := []string{"eu-west", "main", "staging"}
				for _, target := range targets {
					w.handle(firing(target, "fps_low", alert.SeverityWarning, time.Time{}))
				}
				w.at(5 * time.Minute)

				reqs := w.requestsTo(tc.ep)
				if len(reqs) != 4 || reqs[0].Code != 429 {
					t.Fatalf("requests: want one 429 then 3 deliveries, got %v", reqs)
				}
				var ats []time.Duration
				for _, r := range reqs {
					ats = append(ats, r.at)
				}
				for i, r := range reqs[1:] {
					if r.Code != 200 || r.Error != "" {
						t.Errorf("request %d after the 429: %v, want delivered", i+1, r)
					}
				}
				quiet := reqs[1].at - reqs[0].at
				if quiet < retryAfter {
					t.Errorf("next request %v after the 429, want at least Retry-After %v", quiet, retryAfter)
				}
				for i, g := range gaps(ats) {
					if g < time.Second {
						t.Errorf("requests %d and %d are %v apart, want at least 1s", i, i+1, g)
					}
				}
				msgs := w.messages(tc.ep)
				var got []string
				for _, m := range msgs {
					got = append(got, m.header[strings.LastIndex(m.header, " ")+1:])
				}
				if !slices.Equal(got, targets) {
					t.Errorf("delivered groups %v, want %v (nothing dropped, in order)", got, targets)
				}
				if r, d := w.notifications(tc.sink, "retried"), w.notifications(tc.sink, "delivered"); r != 1 || d != 3 {
					t.Errorf("notifications_total: retried %v delivered %v, want 1 and 3", r, d)
				}
				if p, dl := w.pending(tc.sink), w.deadLettersOf(tc.sink); p != 0 || len(dl) != 0 {
					t.Errorf("%d pending, %d dead letters, want none", p, len(dl))
				}
				checkAllAccepted(t, w, tc.word)
				t.Logf("429 at %v; quiet for %v; deliveries at %v; gaps %v", reqs[0].at, quiet, ats[1:], gaps(ats[1:]))
			})
		})
	}
}

// TestScenarioSlackOutageWithRestart is docs/reliability.md 4: Slack answers
// 5xx or resets the connection for 20 minutes, and the daemon restarts in
// the middle. The notification stays in the persisted outbox, the attempts
// back off (capped), and after recovery it is delivered exactly once per
// sink, within the backoff cap + 5 s.
func TestScenarioSlackOutageWithRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			down        = 20 * time.Minute
			restartAt   = 10 * time.Minute
			backoffMax  = 60 * time.Second
			maxAttempts = 40
		)
		w := newWorld(t, scenario{sinks: []string{sinkWebhook, sinkBot}, backoffMax: backoffMax})
		w.net.outage(w.start, w.start.Add(down),
			slackfake.ServerError(503), slackfake.Reset(), slackfake.ServerError(500), slackfake.ServerError(502))
		w.handle(firing("main", "check_health", alert.SeverityCritical, time.Time{}))
		w.at(restartAt)
		sinks := map[string]slackfake.Endpoint{sinkWebhook: slackfake.Webhook, sinkBot: slackfake.PostMessage}
		for sink := range sinks {
			if p := w.pending(sink); p != 1 {
				t.Fatalf("sink %s: %d pending before the restart, want 1", sink, p)
			}
		}
		w.restart()
		for sink := range sinks {
			if p := w.pending(sink); p != 1 {
				t.Fatalf("sink %s: %d pending after the restart, want the message kept", sink, p)
			}
		}
		w.at(down + 10*time.Minute)

		for sink, ep := range sinks {
			var during, after []timedRequest
			var ats []time.Duration
			for _, r := range w.requestsTo(ep) {
				ats = append(ats, r.at)
				if r.at < down {
					during = append(during, r)
				} else {
					after = append(after, r)
				}
			}
			if len(during) == 0 || len(during) > maxAttempts {
				t.Errorf("sink %s: %d attempts during the outage, want 1 to %d", sink, len(during), maxAttempts)
			}
			for _, r := range during {
				if r.Code == 200 && r.Error == "" {
					t.Errorf("sink %s: request %v succeeded during the outage", sink, r)
				}
			}
			if len(after) != 1 || after[0].Code != 200 || after[0].Error != "" {
				t.Fatalf("sink %s: after recovery got %v, want exactly one delivery", sink, after)
			}
			if latency := after[0].at - down; latency > backoffMax+5*time.Second {
				t.Errorf("sink %s: delivered %v after recovery, want within %v", sink, latency, backoffMax+5*time.Second)
			}
			// Exponential: with a jitter of at most 20 %, each wait of the
			// first few is longer than the one before.
			if g := gaps(ats); len(g) < 5 || !slices.IsSorted(g[:5]) {
				t.Errorf("sink %s: first gaps between attempts %v, want growing (exponential backoff)", sink, g[:min(5, len(g))])
			}
			longest := slices.Max(gaps(ats))
			if longest > backoffMax {
				t.Errorf("sink %s: %v between two attempts, want at most the cap %v", sink, longest, backoffMax)
			}
			if msgs := w.messages(ep); len(msgs) != 1 || !msgs[0].isFiring() {
				t.Errorf("sink %s: messages%s, want exactly one firing", sink, summaries(msgs))
			}
			if p, dl := w.pending(sink), w.deadLettersOf(sink); p != 0 || len(dl) != 0 {
				t.Errorf("sink %s: %d pending, %d dead letters, want none", sink, p, len(dl))
			}
			t.Logf("sink %s: %d attempts during the 20-minute outage (restart at %v), longest gap %v; delivered %v after recovery",
				sink, len(during), restartAt, longest, after[0].at-down)
		}
	})
}

// TestScenarioPermanentErrors is docs/reliability.md 5: each error that retrying
// cannot fix is tried once, dead-lettered, counted as failed, reported to
// OnDeadLetter, and leaves the sink marked unhealthy; the next notification
// still goes out.
func TestScenarioPermanentErrors(t *testing.T) {
	tests := []struct {
		name  string
		sink  string
		ep    slackfake.Endpoint
		fault slackfake.Fault
		word  string
	}{
		{"webhook 403 invalid_token", sinkWebhook, slackfake.Webhook, slackfake.WebhookError(403, "invalid_token"), "invalid_token"},
		{"webhook 404 no_service", sinkWebhook, slackfake.Webhook, slackfake.WebhookError(404, "no_service"), "no_service"},
		{"webhook 404 channel_not_found", sinkWebhook, slackfake.Webhook, slackfake.WebhookError(404, "channel_not_found"), "channel_not_found"},
		{"webhook 410 channel_is_archived", sinkWebhook, slackfake.Webhook, slackfake.WebhookError(410, "channel_is_archived"), "channel_is_archived"},
		{"webhook 400 invalid_payload", sinkWebhook, slackfake.Webhook, slackfake.WebhookError(400, "invalid_payload"), "invalid_payload"},
		{"bot ok:false not_in_channel", sinkBot, slackfake.PostMessage, slackfake.APIError("not_in_channel"), "not_in_channel"},
		{"bot ok:false invalid_auth", sinkBot, slackfake.PostMessage, slackfake.APIError("invalid_auth"), "invalid_auth"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, scenario{sinks: []string{tc.sink}})
				w.fake.Inject(tc.ep, tc.fault)
				w.handle(firing("main", "fps_low", alert.SeverityWarning, time.Time{}))
				w.at(15 * time.Minute) // a retry loop would have shown by now

				tries := w.attemptsOf(tc.sink)
				if len(tries) != 1 || tries[0].err == nil || !strings.Contains(tries[0].err.Error(), tc.word) {
					t.Fatalf("attempts %+v, want exactly 1, failed with %s", tries, tc.word)
				}
				if reqs := w.requestsTo(tc.ep); len(reqs) != 1 {
					t.Errorf("requests to %s: %v, want exactly 1", tc.ep, reqs)
				}
				dl := w.deadLettersOf(tc.sink)
				if len(dl) != 1 || !strings.Contains(dl[0].Reason, tc.word) {
					t.Fatalf("dead letters %+v, want 1 naming %s", dl, tc.word)
				}
				if m, err := alert.DecodeOutboxMessage(dl[0].Payload); err != nil || m.ID != tries[0].id || len(m.Firing()) != 1 || m.Firing()[0].Name != "fps_low" {
					t.Errorf("dead letter's message %+v (%v), want the fps_low notification", m, err)
				}
				for result, want := range map[string]float64{"failed": 1, "retried": 0, "delivered": 0} {
					if got := w.notifications(tc.sink, result); got != want {
						t.Errorf(`notifications_total{result=%q} = %v, want %v`, result, got, want)
					}
				}
				if v, ok := w.metric("spacetime_watch_sink_healthy", map[string]string{"sink": tc.sink}); !ok || v != 0 {
					t.Errorf("spacetime_watch_sink_healthy = %v (present %v), want 0", v, ok)
				}
				if calls := w.deadLetterCalls(); len(calls) != 1 || !strings.HasPrefix(calls[0], tc.sink+": ") || !strings.Contains(calls[0], tc.word) {
					t.Errorf("OnDeadLetter calls %q, want one for %s naming %s", calls, tc.sink, tc.word)
				}
				if !strings.Contains(w.logs.String(), "dead letters") || !strings.Contains(w.logs.String(), tc.word) {
					t.Errorf("no error log line names the dead letter and %s", tc.word)
				}

				// The sink is not stuck: the next notification is delivered.
				w.handle(firing("main", "memory_high", alert.SeverityWarning, time.Time{}))
				w.at(30 * time.Minute)
				tries = w.attemptsOf(tc.sink)
				if len(tries) != 2 || tries[1].err != nil || tries[1].id == tries[0].id {
					t.Errorf("attempts %+v, want the next message delivered at its first attempt", tries)
				}
				if msgs := w.messages(tc.ep); len(msgs) != 1 || !strings.Contains(msgs[0].text, "memory_high") {
					t.Errorf("messages%s, want the memory_high notification", summaries(msgs))
				}
				checkAllAccepted(t, w, tc.word)
			})
		})
	}
}

// TestScenarioAlertStorm is docs/reliability.md 6: 200 threshold breaches within
// 60 s. On one target they arrive as one message (group_wait 60s) or at
// most two (the default 30s) that account for all 200, with "+N more" for
// those not shown; on 20 targets the 20 groups fold into storm summaries
// (storm_fold_groups 3), at most 5 messages, the last accounting for all
// 200 and naming every target. Every message keeps within Slack's limits,
// and the fake Slack, which enforces them and 1 message/s, refuses none.
func TestScenarioAlertStorm(t *testing.T) {
	const breaches = 200
	name := regexp.MustCompile(`breach_\d{3}`)
	tests := []struct {
		name        string
		groupWait   time.Duration
		targets     int
		maxMessages int
	}{
		{"one target, group_wait 60s", 60 * time.Second, 1, 1},
		{"one target, default group_wait 30s", 30 * time.Second, 1, 2},
		{"20 targets, default group_wait 30s", 30 * time.Second, 20, 5},
		{"20 targets, group_wait 60s", 60 * time.Second, 20, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := alert.SettingsFrom(config.Default().Alerting)
				s.GroupWait = tc.groupWait
				s.RunbookURL = "https://runbooks.example.com/spacetime/{{.Alert}}"
				s.DashboardURL = "http://grafana.example.com/d/spacetime-watch?var-target={{.Target}}&var-alert={{.Alert}}"
				dep := &alert.Deployment{ID: "d-1", Version: "v2.4.1-rc.3+build.20250314", StartedAt: time.Now().Add(-time.Hour)}
				w := newWorld(t, scenario{settings: &s, deployment: dep,
					fakeOpts: []slackfake.Option{slackfake.WithMinInterval(time.Second)}})
				targetOf := func(i int) string {
					if tc.targets == 1 {
						return "main"
					}
					return fmt.Sprintf("vr-%02d", i%tc.targets)
				}
				// 200 in 60 s: 5 every 1.5 s (one manager step per instant
				// keeps the run short under -race; the outcome depends only
				// on when each breach falls against group_wait).
				for i := range breaches {
					if i%5 == 0 {
						w.at(time.Duration(i/5) * 1500 * time.Millisecond)
					}
					sev := alert.SeverityWarning
					if i%10 == 0 {
						sev = alert.SeverityCritical
					}
					ev := firing(targetOf(i), fmt.Sprintf("breach_%03d", i), sev, time.Time{})
					ev.Reason = fmt.Sprintf("FPS 61.%d below 85 for 1m0s on %s (breach %d of the storm)", i%10, ev.Target, i)
					w.gen.mgr.Handle(ev)
				}
				w.at(30 * time.Minute)

				msgs := w.messages(slackfake.Webhook)
				if len(msgs) == 0 || len(msgs) > tc.maxMessages {
					t.Fatalf("%d messages, want 1 to %d:%s", len(msgs), tc.maxMessages, summaries(msgs))
				}
				var ats []time.Duration
				maxBlocks, maxSection, maxChars := 0, 0, 0
				for _, m := range msgs {
					checkLimits(t, m)
					ats = append(ats, m.at)
					maxBlocks, maxChars = max(maxBlocks, m.blocks), max(maxChars, m.chars)
					maxSection = max(maxSection, slices.Max(m.sections))
				}
				for i, g := range gaps(ats) {
					if g < time.Second {
						t.Errorf("messages %d and %d are %v apart, want at least 1s", i, i+1, g)
					}
				}
				checkAllAccepted(t, w)
				if n := len(w.mgr().Alerts()); n != breaches {
					t.Errorf("/api/v1/alerts lists %d alerts, want all %d", n, breaches)
				}

				if tc.targets == 1 {
					last := msgs[len(msgs)-1]
					header, shown, more := accounting(last, name)
					if header != breaches || len(shown)+more != breaches || (len(shown) < breaches && more == 0) {
						t.Errorf("last message: header FIRING %d, %d alerts shown + %d more; want all %d accounted for", header, len(shown), more, breaches)
					}
					t.Logf("%d message(s) at %v; the last shows %d alerts and \"+%d more\"; max %d blocks, %d chars per section, %d chars in all",
						len(msgs), ats, len(shown), more, maxBlocks, maxSection, maxChars)
					return
				}
				for _, m := range msgs {
					header, shown, more := accounting(m, name)
					if len(shown)+more != header || !strings.Contains(m.header, fmt.Sprintf("%d groups", tc.targets)) {
						t.Errorf("%s: header FIRING %d, %d shown + %d more; want a summary of the %d groups accounting for every alert",
							m, header, len(shown), more, tc.targets)
					}
				}
				last := msgs[len(msgs)-1]
				if header, _, _ := accounting(last, name); header != breaches {
					t.Errorf("last message: header FIRING %d, want all %d", header, breaches)
				}
				t.Logf("%d message(s) at %v; max %d blocks, %d chars per section, %d chars in all",
					len(msgs), ats, maxBlocks, maxSection, maxChars)
			})
		})
	}
}

// TestScenarioFlappingFPS is docs/reliability.md 7: FPS flapping around the
// threshold for an hour.
//
// Without hysteresis (fps_low firing and resolved every half period, the
// worst a rule engine could send), grouping bounds the notifications to
// one per group_interval. With the events the real rule engine emits (its
// `for`, hysteresis and resolve_for), a 30 s square wave is no episode at
// all, and one sustained drop is exactly 1 firing and 1 resolved message,
// the firing one within `for` + group_wait of the drop.
func TestScenarioFlappingFPS(t *testing.T) {
	waves := []struct {
		name       string
		halfPeriod time.Duration
		groupWait  time.Duration
	}{
		{"worst case: every firing outlives group_wait (30s up, 30s down, group_wait 10s)", 30 * time.Second, 10 * time.Second},
		{"30s period, default group_wait", 15 * time.Second, 30 * time.Second},
	}
	for _, tc := range waves {
		t.Run("without hysteresis/"+tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := alert.SettingsFrom(config.Default().Alerting)
				s.GroupWait = tc.groupWait
				w := newWorld(t, scenario{settings: &s})
				for k := 0; time.Duration(k)*tc.halfPeriod < time.Hour; k++ {
					w.at(time.Duration(k) * tc.halfPeriod)
					if k%2 == 0 {
						w.handle(firing("main", "fps_low", alert.SeverityWarning, time.Time{}))
					} else {
						w.handle(resolved("main", "fps_low", alert.SeverityWarning))
					}
				}
				w.at(time.Hour + 15*time.Minute)

				msgs := w.messages(slackfake.Webhook)
				inHour := 0
				var ats []time.Duration
				for _, m := range msgs {
					ats = append(ats, m.at)
					if m.at < time.Hour {
						inHour++
					}
				}
				ceiling := int(time.Hour/s.GroupInterval) + 1
				if inHour > ceiling {
					t.Errorf("%d notifications in the hour, want at most %d (one per group_interval %v)", inHour, ceiling, s.GroupInterval)
				}
				for i, g := range gaps(ats) {
					if g < s.GroupInterval {
						t.Errorf("messages %d and %d are %v apart, want at least group_interval %v", i, i+1, g, s.GroupInterval)
					}
				}
				if len(msgs) > 0 && !msgs[len(msgs)-1].isResolved() {
					t.Errorf("the wave ended resolved but the last message is %s", msgs[len(msgs)-1])
				}
				if left := w.mgr().Alerts(); len(left) != 0 {
					t.Errorf("alerts still tracked after the wave: %+v", left)
				}
				t.Logf("%d notifications/hour (ceiling %d) at %v", inHour, ceiling, ats)
			})
		})
	}

	t.Run("rule engine", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newWorld(t, scenario{})
			cfg := monitor.RuleConfigFrom(config.Default().Targets[0])
			engine, err := monitor.NewRuleEngine(cfg)
			if err != nil {
				t.Fatal(err)
			}
			// 0–10 min: a 30 s square wave around 85 from healthy; 10–20 min:
			// a sustained drop; 20–50 min: the square wave while firing;
			// 50–60 min: healthy.
			const dropAt, dropEnd, waveEnd = 10 * time.Minute, 20 * time.Minute, 50 * time.Minute
			fps := func(at time.Duration) float64 {
				square := 80.0
				if (at/(15*time.Second))%2 == 1 {
					square = 90
				}
				switch {
				case at < dropAt:
					return square
				case at < dropEnd:
					return 60
				case at < waveEnd:
					return square
				}
				return 90
			}
			var evs []event.Event
			var events []string
			for at := time.Second; at <= time.Hour; at += time.Second {
				w.at(at)
				evs = engine.Observe(monitor.Sample{At: time.Now(), FPS: fps(at), HasFPS: true, MemoryMB: 300, HasMemory: true}, evs[:0])
				for _, ev := range evs {
					events = append(events, fmt.Sprintf("%v %s", at, ev))
					ev.Target = "main"
					w.handle(ev)
				}
			}
			w.at(70 * time.Minute)

			if len(events) != 2 || !strings.Contains(events[0], "fps_low firing") || !strings.Contains(events[1], "fps_low resolved") {
				t.Errorf("rule engine events %q, want fps_low firing then resolved", events)
			}
			msgs := w.messages(slackfake.Webhook)
			if len(msgs) != 2 || !msgs[0].isFiring() || !msgs[1].isResolved() {
				t.Fatalf("messages%s, want 1 firing and 1 resolved", summaries(msgs))
			}
			within := cfg.FPSFor + cfg.SmoothingWindow + w.settings().GroupWait
			if d := msgs[0].at - dropAt; d < 0 || d > within {
				t.Errorf("firing message %v after the drop, want within for %v + smoothing %v + group_wait %v",
					d, cfg.FPSFor, cfg.SmoothingWindow, w.settings().GroupWait)
			}
			t.Logf("rule events %q; drop at %v notified after %v (bound %v); resolved message at %v; 2 notifications in the hour",
				events, dropAt, msgs[0].at-dropAt, within, msgs[1].at)
		})
	})
}

// TestScenarioSecretsNeverLeak is docs/reliability.md 19 with every error path
// taken: both sinks get a 429, a 5xx, a reset and a timeout, then a
// permanent error (dead letter), a chat.update refused, and a restart. The
// sweep that ends every scenario (world.finish) finds the sentinel webhook
// URL and bot token nowhere: logs, errors, Slack messages, dead letters,
// /metrics, /api/v1/alerts, the state dir.
func TestScenarioSecretsNeverLeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dep := &alert.Deployment{ID: "main-9", Version: "v3.0.0", StartedAt: time.Now().Add(-time.Hour)}
		w := newWorld(t, scenario{sinks: []string{sinkWebhook, sinkBot}, deployment: dep})
		w.fake.Inject(slackfake.Webhook, slackfake.RateLimited(2*time.Second), slackfake.ServerError(503), slackfake.Reset(), slackfake.Hang())
		w.fake.Inject(slackfake.PostMessage, slackfake.RateLimited(2*time.Second), slackfake.ServerError(502), slackfake.Reset(), slackfake.Hang())
		w.handle(firing("main", "fps_low", alert.SeverityWarning, time.Time{}))
		w.at(5 * time.Minute)
		if n, m := len(w.messages(slackfake.Webhook)), len(w.messages(slackfake.PostMessage)); n != 1 || m != 2 {
			t.Fatalf("after the transient faults: %d webhook messages, %d bot posts; want 1 and 2 (parent, alert)", n, m)
		}

		w.fake.Inject(slackfake.Webhook, slackfake.WebhookError(403, "invalid_token"))
		w.fake.Inject(slackfake.PostMessage, slackfake.APIError("not_in_channel"))
		w.handle(firing("main", "memory_high", alert.SeverityWarning, time.Time{}))
		w.at(10 * time.Minute)
		for _, sink := range []string{sinkWebhook, sinkBot} {
			if dl := w.deadLettersOf(sink); len(dl) != 1 {
				t.Fatalf("sink %s: %d dead letters, want 1", sink, len(dl))
			}
		}

		w.restart()
		w.fake.Inject(slackfake.Update, slackfake.APIError("cant_update_message"))
		w.handle(resolved("main", "fps_low", alert.SeverityWarning), resolved("main", "memory_high", alert.SeverityWarning))
		w.at(20 * time.Minute)
		if msgs := w.messages(slackfake.Webhook); len(msgs) != 2 || !msgs[1].isResolved() {
			t.Errorf("webhook messages%s, want the resolution delivered", summaries(msgs))
		}
		failed := 0
		for _, sink := range []string{sinkWebhook, sinkBot} {
			for _, a := range w.attemptsOf(sink) {
				if a.err != nil {
					failed++
				}
			}
		}
		if failed < 10 || !strings.Contains(w.logs.String(), "cant_update_message") {
			t.Errorf("%d failed attempts, refused update logged: %v; want every error path taken",
				failed, strings.Contains(w.logs.String(), "cant_update_message"))
		}
		t.Logf("%d failed attempts, %d Slack messages, %d bytes of logs swept", failed, len(w.fake.Messages()), len(w.logs.String()))
	})
}
