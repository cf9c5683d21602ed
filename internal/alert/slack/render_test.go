package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestRenderGolden compares the rendered JSON, byte for byte, with the
// reviewed files in testdata (go test -run TestRenderGolden -update
// rewrites them; review the diff).
func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name string
		m    alert.Message
	}{
		{"firing", group(fpsLow(), memoryHigh())},
		{"resolved", group(resolved(fpsLow(), now.Add(-time.Minute)), resolved(memoryHigh(), now.Add(-3*time.Minute)))},
		{"mixed", group(fpsLow(), resolved(memoryHigh(), now.Add(-3*time.Minute)))},
		{"storm_200", storm(200)},
		{"test", alert.Message{ID: "t-1", Kind: alert.KindTest, CreatedAt: now}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Render(tc.m, RenderOptions{Sink: "oncall"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.JSON()
			if err != nil {
				t.Fatal(err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", tc.name+".json")
			testkit.CheckGolden(t, path, testkit.UnshiftDates(t, pretty.Bytes()), *update)
		})
	}
}

var moreRE = regexp.MustCompile(`\*… (\d+) more alerts?\* \((\d+) firing, (\d+) resolved\)`)

// checkLimits fails t unless p is within Slack's limits and our budget,
// and returns how many alerts it shows (lines that start with an alert's
// mark: the first line of a full section, each line of a packed one) and
// the "+N more" count.
func checkLimits(t *testing.T, p Payload) (shown, more int) {
	t.Helper()
	if len(p.Blocks) > MaxBlocks {
		t.Errorf("%d blocks, want at most %d", len(p.Blocks), MaxBlocks)
	}
	total := 0
	for i, b := range p.Blocks {
		n := b.Chars()
		total += n
		switch b.Type {
		case BlockHeader:
			if n > MaxHeaderChars {
				t.Errorf("block %d: header of %d characters", i, n)
			}
		case BlockSection:
			for _, line := range strings.Split(b.Text.Text, "\n") {
				for _, mark := range []string{"🔴 ", "🟠 ", "🔵 ", "✅ "} {
					if strings.HasPrefix(line, mark) {
						shown++
					}
				}
			}
			if n > MaxSectionChars || n == 0 {
				t.Errorf("block %d: section of %d characters, want 1..%d", i, n, MaxSectionChars)
			}
		}
		if b.Type == BlockContext {
			if m := moreRE.FindStringSubmatch(b.Elements[0].Text); m != nil {
				fmt.Sscan(m[1], &more)
			}
		}
	}
	if total >= MaxTotalChars {
		t.Errorf("%d characters in all, want fewer than %d", total, MaxTotalChars)
	}
	if textLen(p.Text) > MaxFallbackChars || p.Text == "" {
		t.Errorf("fallback of %d characters, want 1..%d", textLen(p.Text), MaxFallbackChars)
	}
	return shown, more
}

// TestRenderStaysWithinLimits renders groups of every size and shape and
// checks that each message is within Slack's limits and accounts for
// every alert: shown + "+N more" = all, firing before resolved.
func TestRenderStaysWithinLimits(t *testing.T) {
	huge := fpsLow()
	huge.Summary = strings.Repeat("S", 10000)
	huge.Reason = strings.Repeat("R<&>", 5000)
	huge.Observed, huge.Expected = strings.Repeat("o", 5000), strings.Repeat("e", 5000)
	huge.Name, huge.Target = strings.Repeat("n", 1000), strings.Repeat("t", 1000)
	huge.RunbookURL = "https://example.com/" + strings.Repeat("u", 10000)
	mixed := storm(120)
	for i := 0; i < 60; i++ {
		mixed.Alerts = append(mixed.Alerts, resolved(memoryHigh(), now))
	}
	tests := []struct {
		name string
		m    alert.Message
		// wantFirstResolved is the index of the first resolved section, -1 for none shown.
		firing int
	}{
		{"one alert", group(fpsLow()), 1},
		{"47 alerts", storm(47), 47},
		{"48 alerts", storm(48), 48},
		{"200 alerts", storm(200), 200},
		{"1000 alerts", storm(1000), 1000},
		{"huge fields", group(huge, huge, huge, huge, huge), 5},
		{"120 firing, 60 resolved", mixed, 120},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Render(tc.m, RenderOptions{AlertsURL: "http://127.0.0.1:9321/api/v1/alerts"})
			if err != nil {
				t.Fatal(err)
			}
			shown, more := checkLimits(t, p)
			if shown+more != len(tc.m.Alerts) {
				t.Errorf("%d shown + %d more = %d, want all %d alerts accounted for", shown, more, shown+more, len(tc.m.Alerts))
			}
			if more > 0 && !strings.Contains(p.Blocks[len(p.Blocks)-1].Elements[0].Text, "full list at <http://127.0.0.1:9321/api/v1/alerts|/api/v1/alerts>") {
				t.Errorf("the more line does not link the full list: %q", p.Blocks[len(p.Blocks)-1].Elements[0].Text)
			}
			// Firing first: no resolved section before the last firing one.
			seenResolved := false
			for _, b := range p.Blocks {
				if b.Type != BlockSection {
					continue
				}
				isResolved := strings.HasPrefix(b.Text.Text, resolvedEmoji)
				if seenResolved && !isResolved {
					t.Fatal("a firing alert is shown after a resolved one")
				}
				seenResolved = seenResolved || isResolved
			}
			if !strings.Contains(p.Blocks[0].Text.Text, fmt.Sprintf("FIRING %d", tc.firing)) {
				t.Errorf("header %q does not count %d firing", p.Blocks[0].Text.Text, tc.firing)
			}
		})
	}
}

func TestRenderStormSays200(t *testing.T) {
	p, err := Render(storm(200), RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	shown, more := checkLimits(t, p)
	last := p.Blocks[len(p.Blocks)-1].Elements[0].Text
	want := fmt.Sprintf("*… %d more alerts* (%d firing, 0 resolved) — full list at `/api/v1/alerts`", 200-shown, 200-shown)
	if last != want || more != 200-shown {
		t.Errorf("last block = %q, want %q", last, want)
	}
	// The storm shows its most severe alerts in full, then one line each:
	// far more of them than full sections alone would fit.
	if shown < 40 {
		t.Errorf("a 200-alert message shows %d alerts, want at least 40", shown)
	}
	for i := 2; i < 2+detailedInStorm; i++ {
		if !strings.Contains(p.Blocks[i].Text.Text, "*Deployment:*") {
			t.Errorf("block %d is not an alert in full: %q", i, p.Blocks[i].Text.Text)
		}
	}
	if !strings.HasPrefix(p.Text, "🔴 FIRING 200 — main\n") || !strings.Contains(p.Text, "more") {
		t.Errorf("fallback = %q, want the count and a … N more alerts line", p.Text)
	}
}

func TestRenderEscapes(t *testing.T) {
	a := fpsLow()
	a.Reason = "<!channel> & <https://evil.example|click>"
	a.Target = "ma`in <@U123>"
	a.RunbookURL = "https://runbooks.example.com/a|b>c"
	p, err := Render(group(a), RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	text := p.Blocks[2].Text.Text
	if strings.Contains(text, "<!channel>") || strings.Contains(text, "<https://evil") {
		t.Errorf("section lets mrkdwn control sequences through: %q", text)
	}
	if !strings.Contains(text, "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;") {
		t.Errorf("section = %q, want the reason escaped", text)
	}
	if !strings.Contains(text, "on `ma'in &lt;@U123&gt;`") {
		t.Errorf("section = %q, want the target escaped, its backtick unable to end the code span", text)
	}
	if !strings.Contains(text, "<https://runbooks.example.com/a%7Cb%3Ec|Runbook>") {
		t.Errorf("section = %q, want the runbook URL's | and > encoded", text)
	}
}

func TestRenderText(t *testing.T) {
	long := strings.Repeat(strings.Repeat("x", 99)+"\n", 200) // 20,000 characters
	tests := []struct {
		name string
		m    alert.Message
		want string // in the first section
	}{
		{"review", alert.Message{Kind: alert.KindText, Title: "Review +1h: v2.4.1 on main", Text: "FPS p5 88, memory 2.1 GiB: healthy"}, "FPS p5 88"},
		{"long", alert.Message{Kind: alert.KindText, Text: long}, "xxx"},
		{"test with text", alert.Message{Kind: alert.KindTest, Text: "hello <b>"}, "hello &lt;b&gt;"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Render(tc.m, RenderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkLimits(t, p)
			found := false
			for _, b := range p.Blocks {
				if b.Type == BlockSection && strings.Contains(b.Text.Text, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no section contains %q: %+v", tc.want, p.Blocks)
			}
		})
	}
	p, _ := Render(alert.Message{Kind: alert.KindText, Text: long}, RenderOptions{})
	if last := p.Blocks[len(p.Blocks)-1]; last.Type != BlockContext || !strings.Contains(last.Elements[0].Text, "more characters not shown") {
		t.Errorf("a cut text does not say so: last block %+v", last)
	}
}

func TestRenderRefuses(t *testing.T) {
	tests := []struct {
		name string
		m    alert.Message
	}{
		{"alerts without alerts", alert.Message{ID: "x", Kind: alert.KindAlerts}},
		{"text without text", alert.Message{ID: "x", Kind: alert.KindText, Text: "  "}},
		{"unknown kind", alert.Message{ID: "x", Kind: "poem"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Render(tc.m, RenderOptions{}); err == nil {
				t.Error("no error")
			}
		})
	}
	if _, err := Render(alert.Message{Kind: alert.KindAlerts}, RenderOptions{}); !errors.Is(err, ErrEmptyMessage) {
		t.Errorf("empty alerts: %v, want ErrEmptyMessage", err)
	}
}

func TestChunks(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want []string
	}{
		{"fits", "a\nb", 10, []string{"a\nb"}},
		{"splits at lines", "aaaa\nbbbb\ncccc", 10, []string{"aaaa\nbbbb", "cccc"}},
		{"cuts a long line", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"counts runes", "ééééé", 2, []string{"éé", "éé", "é"}},
		{"drops blank chunks", "a\n\n\n\n\n\nb", 2, []string{"a", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := chunks(tc.in, tc.n)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("chunks(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 45 * time.Second: "45s", 12 * time.Minute: "12m",
		2*time.Hour + 5*time.Minute: "2h05m", 76 * time.Hour: "3d04h",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
