package monitor_test

import (
	"flag"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
)

var update = flag.Bool("update", false, "rewrite testdata/messages_*.golden from the current rendering")

// notified is one alert's two notifications, as the manager queued them.
type notified struct {
	name             string
	firing, resolved alert.Message
	hint             string
}

// TestMessages renders every alert the monitor raises (every rule of the
// rule table, every check, every token condition), firing and resolved,
// for the console, the Slack webhook and the Slack bot, from events the
// monitor's tables made. A firing message says what, where, observed
// against expected, since when, the deployment, the likely cause and next
// step, and links the runbook; a resolved one names its own alert and
// what recovered, and nothing of another alert. Console text carries no
// markup; every Slack message stays within Slack's limits. The golden
// files keep the wording reviewable (go test -run TestMessages -update).
func TestMessages(t *testing.T) {
	var all []notified
	synctest.Test(t, func(t *testing.T) {
		p := startPipeline(t, alert.LabelTarget, alert.LabelAlert)
		defer p.stop()
		for _, e := range episodes(t) {
			firing, resolved := p.run(newDriver(t, p, "main"), e)
			if len(firing) == 0 || len(resolved) != 1 {
				t.Errorf("%s: %d firing and %d resolved messages, want at least 1 and 1", e.alert, len(firing), len(resolved))
				continue
			}
			n := notified{name: e.alert, firing: firing[0], resolved: resolved[0]}
			for _, a := range n.firing.Alerts {
				if a.Name == e.alert {
					n.hint = a.Hint
				}
			}
			all = append(all, n)
		}
	})

	names := monitor.ConditionNames()
	s := newSinks(t)
	var con, web, bot strings.Builder
	for _, n := range all {
		if n.hint == "" {
			t.Errorf("%s fires without a hint: give its row in the table one (likely cause, next step)", n.name)
		}
		f := s.deliver(n.firing)
		checkFiring(t, n, f)
		r := s.deliver(n.resolved)
		checkResolved(t, n, r, names)
		for _, step := range []struct {
			state string
			shown shown
		}{{"firing", f}, {"resolved", r}} {
			fmt.Fprintf(&con, "== %s %s\n%s", n.name, step.state, step.shown.console)
			fmt.Fprintf(&web, "== %s %s\n%s", n.name, step.state, slackGolden(t, step.shown.webhook))
			fmt.Fprintf(&bot, "== %s %s\n%s", n.name, step.state, slackGolden(t, step.shown.bot))
			if m := markup.FindString(step.shown.console); m != "" {
				t.Errorf("%s %s: the console prints markup %q:\n%s", n.name, step.state, m, step.shown.console)
			}
			for i, m := range append(step.shown.webhook, step.shown.bot...) {
				checkSlackLimits(t, fmt.Sprintf("%s %s, Slack message %d", n.name, step.state, i), m)
			}
		}
	}
	if len(all) != len(names) {
		t.Errorf("rendered %d alerts, want every one of %d", len(all), len(names))
	}
	golden(t, "messages_console.golden", con.String())
	golden(t, "messages_slack_webhook.golden", web.String())
	golden(t, "messages_slack_bot.golden", bot.String())
}

// checkFiring: the firing message says what, where, the values, since
// when, the deployment, the hint, and links the runbook, on every sink.
func checkFiring(t *testing.T, n notified, s shown) {
	t.Helper()
	hint := strings.Join(strings.Fields(n.hint), " ")
	for _, want := range []string{"FIRING " + n.name + " [", " on main: ", "observed ", "expected ", "since ",
		"deployment v2.4.1 started ", "likely cause, next step: " + hint, "runbook https://runbooks.example.com/spacetime/" + n.name} {
		if !strings.Contains(s.console, want) {
			t.Errorf("%s firing: the console lacks %q:\n%s", n.name, want, s.console)
		}
	}
	for sink, msgs := range map[string]string{"webhook": allText(t, s.webhook), "bot": allText(t, s.bot)} {
		for _, want := range []string{"*" + n.name + "* on `main`", "*Observed:* ", "*Expected:* ", "*Since:* ",
			"*Deployment:* `v2.4.1`, started ", "*Likely cause, next step:* ", "<https://runbooks.example.com/spacetime/" + n.name + "|Runbook>"} {
			if !strings.Contains(msgs, want) {
				t.Errorf("%s firing: the Slack %s message lacks %q:\n%s", n.name, sink, want, msgs)
			}
		}
	}
}

// checkResolved: the resolved message names its own alert, resolved, and
// no other alert; it gives no hint (there is nothing left to do).
func checkResolved(t *testing.T, n notified, s shown, names []string) {
	t.Helper()
	if !strings.Contains(s.console, "RESOLVED "+n.name+" [") || strings.Contains(s.console, "likely cause") {
		t.Errorf("%s resolved: the console says %q", n.name, s.console)
	}
	if other := mentions(s.console, n.name, names); len(other) > 0 {
		t.Errorf("%s resolved: the console names %v:\n%s", n.name, other, s.console)
	}
	for sink, msgs := range map[string]string{"webhook": allText(t, s.webhook), "bot": allText(t, s.bot)} {
		if !strings.Contains(msgs, "*RESOLVED* · *"+n.name+"* on `main`") || strings.Contains(msgs, "Likely cause") {
			t.Errorf("%s resolved: the Slack %s message does not name it resolved, or gives a hint:\n%s", n.name, sink, msgs)
		}
		if other := mentions(msgs, n.name, names); len(other) > 0 {
			t.Errorf("%s resolved: the Slack %s message names %v:\n%s", n.name, sink, other, msgs)
		}
	}
	updated := false
	for _, m := range s.bot {
		updated = updated || m.Kind == slackfake.Update
	}
	if !updated {
		t.Errorf("%s resolved: the bot did not update the message that showed it firing", n.name)
	}
}

// hostile is text from instances and configs that must not act as markup:
// mentions, links, entities and emphasis.
const hostile = "<!channel> & <@U0123> *bold* _it_ `code` ~strike~ <https://evil.example|click> "

// TestMessagesStayWithinLimits: a group of 63 alerts with 5,000-character
// target names and reasons full of mrkdwn stays within Slack's limits on
// both Slack sinks, shows what fits and counts the rest ("… N more
// alerts"), and escapes every bit of the hostile text.
func TestMessagesStayWithinLimits(t *testing.T) {
	const targets = 7
	var firing, resolved []alert.Message
	synctest.Test(t, func(t *testing.T) {
		p := startPipeline(t) // one group for every alert
		defer p.stop()
		var ds []*driver
		for i := range targets {
			d := newDriver(t, p, fmt.Sprintf("%s%s-%d", hostile, strings.Repeat("t", 5000), i))
			ds = append(ds, d)
			var round []monitor.CheckResult
			for _, c := range config.AllChecks()[1:] { // all but instance_up, which would inhibit them
				r := failing(c)
				r.Reason = hostile + strings.Repeat("r", 5000)
				round = append(round, r)
			}
			d.round(upAnd(round...)...)
		}
		p.settle()
		firing = p.rec.since(0)
		n := p.rec.count()
		for _, d := range ds {
			var round []monitor.CheckResult
			for _, c := range config.AllChecks()[1:] {
				round = append(round, passing(c))
			}
			d.round(upAnd(round...)...)
		}
		p.settle()
		resolved = p.rec.since(n)
	})
	want := targets * (len(config.AllChecks()) - 1)
	if len(firing) != 1 || len(firing[0].Alerts) != want || len(resolved) != 1 || len(resolved[0].Alerts) != want {
		t.Fatalf("%d firing and %d resolved messages, want one of %d alerts each", len(firing), len(resolved), want)
	}
	s := newSinks(t)
	for _, m := range []alert.Message{firing[0], resolved[0]} {
		out := s.deliver(m)
		if got := strings.Count(out.console, " check_"); got != want {
			t.Errorf("the console shows %d alerts, want all %d", got, want)
		}
		for sink, posted := range map[string][]slackfake.Message{"webhook": out.webhook, "bot": out.bot} {
			for i, pm := range posted {
				checkSlackLimits(t, fmt.Sprintf("%s message %d", sink, i), pm)
			}
			text := allText(t, posted)
			for _, raw := range []string{"<!channel>", "<@U0123>", "<https://evil"} {
				if strings.Contains(text, raw) {
					t.Errorf("%s: the hostile %q went through unescaped", sink, raw)
				}
			}
			if !strings.Contains(text, "&lt;!channel&gt; &amp; &lt;@U0123&gt;") {
				t.Errorf("%s: the hostile text is not escaped as Slack wants (&lt; &gt; &amp;)", sink)
			}
			if n, more := account(t, posted[len(posted)-1]); more == 0 || n+more != want {
				t.Errorf("%s: %d alerts shown + %d more = %d, want a cut message accounting for all %d", sink, n, more, n+more, want)
			}
		}
	}
}

var moreAlerts = regexp.MustCompile(`… (\d+) more alerts?`)

// account counts the alerts a Slack message shows (each alert's line
// starts with its mark) and the "… N more alerts" it adds.
func account(t *testing.T, m slackfake.Message) (shownN, more int) {
	t.Helper()
	for _, b := range blocksOf(t, m) {
		for _, text := range b.Texts {
			for _, line := range strings.Split(text, "\n") {
				for _, mark := range []string{"🔴 ", "🟠 ", "🔵 ", "✅ "} {
					if b.Type == "section" && strings.HasPrefix(line, mark) {
						shownN++
					}
				}
			}
			if mm := moreAlerts.FindStringSubmatch(text); mm != nil {
				more, _ = strconv.Atoi(mm[1])
			}
		}
	}
	return shownN, more
}
