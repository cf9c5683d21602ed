package slack

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
)

// DefaultAlertsURL is where the "… N more alerts" line sends readers when
// RenderOptions.AlertsURL is empty: the daemon's endpoint, as a path.
const DefaultAlertsURL = "/api/v1/alerts"

// RenderOptions tune Render.
type RenderOptions struct {
	// Sink is the sink's name, shown in test messages.
	Sink string
	// AlertsURL is the full URL of the daemon's /api/v1/alerts, linked from
	// the "… N more alerts" line. Default: the path DefaultAlertsURL, as text.
	AlertsURL string
}

// ErrEmptyMessage is returned by Render for a message with nothing to say
// (an alerts message without alerts, a text message without text).
var ErrEmptyMessage = errors.New("message has nothing to render")

// Render turns m into a Slack message within Slack's limits: at most
// MaxBlocks blocks, MaxSectionChars per section, fewer than MaxTotalChars
// in all. An alert group too large for one message shows its first alerts
// (firing first) and a "… N more alerts" line that accounts for the rest.
// Both Slack sinks use it; the bot renders its thread parents itself.
func Render(m alert.Message, o RenderOptions) (Payload, error) {
	switch m.Kind {
	case alert.KindAlerts:
		return renderAlerts(m, o)
	case alert.KindTest:
		return renderTest(m, o), nil
	case alert.KindText:
		return renderText(m)
	default:
		return Payload{}, fmt.Errorf("message %s: unknown kind %q (want %q, %q or %q)",
			m.ID, m.Kind, alert.KindAlerts, alert.KindTest, alert.KindText)
	}
}

func renderTest(m alert.Message, o RenderOptions) Payload {
	title := "spacetime-watch notification test"
	if m.Title != "" {
		title = m.Title
	}
	body := "This is a *test message* from spacetime-watch (`spacetime-watch notify test`). " +
		"If you can read it, this sink delivers. No action needed."
	if m.Text != "" {
		body = Escape(m.Text)
	}
	ctx := []string{"test message"}
	if o.Sink != "" {
		ctx = append(ctx, "sink "+Code(o.Sink, capName))
	}
	if !m.CreatedAt.IsZero() {
		ctx = append(ctx, "sent "+Date(m.CreatedAt))
	}
	fallback := "[TEST] " + title + ": no action needed"
	if o.Sink != "" {
		fallback = "[TEST] " + title + " via sink " + o.Sink + ": no action needed"
	}
	return Payload{
		Text: Truncate(Escape(fallback), MaxFallbackChars),
		Blocks: []Block{
			Header("🧪 TEST · " + title),
			Section(body),
			Context(strings.Join(ctx, " · ")),
		},
	}
}

func renderText(m alert.Message) (Payload, error) {
	if strings.TrimSpace(m.Text) == "" && m.Title == "" {
		return Payload{}, fmt.Errorf("text message %s: %w", m.ID, ErrEmptyMessage)
	}
	var p Payload
	if m.Title != "" {
		p.Blocks = append(p.Blocks, Header(m.Title))
	}
	used := p.Chars()
	chunks := chunks(Escape(m.Text), MaxSectionChars)
	for i, c := range chunks {
		// Keep a block and some characters for the "cut" line.
		if len(p.Blocks)+2 > MaxBlocks || used+textLen(c)+200 >= MaxTotalChars {
			rest := 0
			for _, r := range chunks[i:] {
				rest += textLen(r)
			}
			p.Blocks = append(p.Blocks, Context(fmt.Sprintf("_%d more characters not shown_", rest)))
			break
		}
		p.Blocks = append(p.Blocks, Section(c))
		used += textLen(c)
	}
	first := m.Title
	if first == "" {
		first, _, _ = strings.Cut(strings.TrimSpace(m.Text), "\n")
	}
	p.Text = Truncate(Escape(first), MaxFallbackChars)
	return p, nil
}

// chunks splits s into pieces of at most n characters, at line breaks
// where it can.
func chunks(s string, n int) []string {
	var out []string
	var cur strings.Builder
	curLen := 0
	flush := func() {
		if curLen > 0 {
			out = append(out, cur.String())
			cur.Reset()
			curLen = 0
		}
	}
	for _, line := range strings.SplitAfter(s, "\n") {
		for textLen(line) > n { // a line longer than a whole chunk: cut it
			flush()
			var head string
			head, line = cutAt(line, n)
			out = append(out, head)
		}
		if curLen+textLen(line) > n {
			flush()
		}
		cur.WriteString(line)
		curLen += textLen(line)
	}
	flush()
	kept := out[:0]
	for _, c := range out {
		// Slack refuses an empty section text.
		if c = strings.Trim(c, "\n"); strings.TrimSpace(c) != "" {
			kept = append(kept, c)
		}
	}
	return kept
}

// cutAt splits s after its first n characters.
func cutAt(s string, n int) (head, tail string) {
	count := 0
	for i := range s {
		if count == n {
			return s[:i], s[i:]
		}
		count++
	}
	return s, ""
}
