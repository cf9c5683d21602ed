package monitor_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/console"
	alertslack "github.com/spacetime-vr/spacetime-watch/internal/alert/slack"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackbot"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// sinks are the three sinks that render for people: the console, the
// Slack webhook and the Slack bot, the Slack ones posting to fakes that
// enforce Slack's limits (a message beyond them fails its delivery).
type sinks struct {
	t                    *testing.T
	webhookFake, botFake *slackfake.Server
	webhook              *alertslack.Notifier
	bot                  *slackbot.Notifier
}

const botToken = "xoxb-messages-test"

func newSinks(t *testing.T) *sinks {
	t.Helper()
	s := &sinks{t: t, webhookFake: slackfake.NewInMemory(), botFake: slackfake.NewInMemory(slackfake.WithToken(botToken))}
	t.Cleanup(s.webhookFake.Close)
	t.Cleanup(s.botFake.Close)
	var err error
	s.webhook, err = alertslack.New(alertslack.Options{Name: "oncall", WebhookURL: s.webhookFake.WebhookURL(),
		HTTPClient: s.webhookFake.Client(), AlertsURL: "https://watch.example.com/api/v1/alerts"})
	if err != nil {
		t.Fatal(err)
	}
	s.bot, err = slackbot.New(slackbot.Options{Name: "bot", Token: botToken, Channel: "#oncall", APIURL: s.botFake.APIURL(),
		HTTPClient: s.botFake.Client(), KV: &testkit.MemKV{}, AlertsURL: "https://watch.example.com/api/v1/alerts"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// shown is one message as each sink showed it: the console's text, and
// what each fake Slack received for it (the bot's thread parent, updates
// of earlier messages, and the post).
type shown struct {
	console      string
	webhook, bot []slackfake.Message
}

func (s *sinks) deliver(m alert.Message) shown {
	s.t.Helper()
	out := shown{console: console.Render(m, "console")}
	nw, nb := len(s.webhookFake.Messages()), len(s.botFake.Messages())
	if retry, err := s.webhook.Notify(s.t.Context(), m); err != nil {
		s.t.Errorf("slack webhook refused the message (retry %v): %v", retry, err)
	}
	if retry, err := s.bot.Notify(s.t.Context(), m); err != nil {
		s.t.Errorf("slack bot refused the message (retry %v): %v", retry, err)
	}
	out.webhook, out.bot = s.webhookFake.Messages()[nw:], s.botFake.Messages()[nb:]
	return out
}

func blocksOf(t *testing.T, m slackfake.Message) []slackfake.Block {
	t.Helper()
	bs, err := m.DecodeBlocks()
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

// allText is everything a Slack message shows, fallback and blocks.
func allText(t *testing.T, msgs []slackfake.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(m.Text + "\n")
		for _, bl := range blocksOf(t, m) {
			b.WriteString(strings.Join(bl.Texts, "\n") + "\n")
		}
	}
	return b.String()
}

func chars(s string) int { return utf8.RuneCountInString(s) }

// checkSlackLimits fails t for a message beyond Slack's limits or the
// budget the Slack sinks keep to.
func checkSlackLimits(t *testing.T, where string, m slackfake.Message) {
	t.Helper()
	bs := blocksOf(t, m)
	if len(bs) > alertslack.MaxBlocks {
		t.Errorf("%s: %d blocks, want at most %d", where, len(bs), alertslack.MaxBlocks)
	}
	total := 0
	for i, b := range bs {
		for _, text := range b.Texts {
			n := chars(text)
			total += n
			limit := alertslack.MaxSectionChars
			if b.Type == alertslack.BlockHeader {
				limit = alertslack.MaxHeaderChars
			}
			if n == 0 || n > limit {
				t.Errorf("%s: block %d (%s) has %d characters, want 1..%d", where, i, b.Type, n, limit)
			}
		}
	}
	if total >= alertslack.MaxTotalChars {
		t.Errorf("%s: %d characters in its blocks, want fewer than %d", where, total, alertslack.MaxTotalChars)
	}
	if n := chars(m.Text); n == 0 || n > alertslack.MaxFallbackChars || n > alertslack.MaxMessageTextChars {
		t.Errorf("%s: fallback text of %d characters, want 1..%d", where, n, alertslack.MaxFallbackChars)
	}
}

// markup finds Slack mrkdwn (or Markdown) in text meant to be plain:
// *bold*, _italic_, ~strike~, `code`, <url|label> links and <!mentions>.
// Names with underscores (fps_low) are not italics.
var markup = regexp.MustCompile("(^|[\\s(])\\*[^\\s*][^*\\n]*\\*|(^|[\\s(])_[^\\s_][^_\\n]*_($|[\\s).,:;])|(^|\\s)~[^\\s~][^~\\n]*~|`|<[^>\\s]+\\|[^>]*>|<[!@#]")

// dates are Slack's <!date^…> tokens: their Unix time moves with the base
// date, their fallback text is unshifted with the rest of the golden file.
var dates = regexp.MustCompile(`<!date\^\d+\^`)

// slackGolden renders Slack messages for a golden file: per message, what
// it is, its fallback text, then each block's type and text.
func slackGolden(t *testing.T, msgs []slackfake.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		what := "post"
		switch {
		case m.Kind == slackfake.Update:
			what = "update of an earlier message"
		case m.ThreadTS != "":
			what = "post in the deployment's thread"
		case m.Kind == slackfake.PostMessage:
			what = "post in the channel"
		}
		fmt.Fprintf(&b, "-- %s\ntext: %s\n", what, indent(m.Text))
		for _, bl := range blocksOf(t, m) {
			fmt.Fprintf(&b, "[%s] %s\n", bl.Type, indent(strings.Join(bl.Texts, "\n")))
		}
	}
	return dates.ReplaceAllString(b.String(), "<!date^…^")
}

// indent keeps a multi-line text under its label.
func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }

// golden compares text with testdata/name (go test -update rewrites it).
func golden(t *testing.T, name, text string) {
	t.Helper()
	testkit.CheckGolden(t, "testdata/"+name, testkit.UnshiftDates(t, []byte(text)), *update)
}

// mentions reports the alert names of names other than own that text names.
func mentions(text, own string, names []string) []string {
	var out []string
	for _, n := range names {
		if n != own && regexp.MustCompile(`(^|[^a-z_])`+n+`($|[^a-z_])`).MatchString(text) {
			out = append(out, n)
		}
	}
	return out
}
