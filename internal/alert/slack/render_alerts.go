package slack

import (
	"fmt"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
)

func renderAlerts(m alert.Message, o RenderOptions) (Payload, error) {
	if len(m.Alerts) == 0 {
		return Payload{}, fmt.Errorf("alerts message %s: %w", m.ID, ErrEmptyMessage)
	}
	alerts := firingFirst(m.Alerts)
	nFiring := 0
	for _, a := range alerts {
		if a.State != alert.StateResolved {
			nFiring++
		}
	}
	title := headerText(alerts[0].Severity, nFiring, len(alerts)-nFiring, groupName(m))
	f := filler{
		blocks: []Block{Header(title), Context(summaryLine(alerts, m))},
		// Room kept for the "… N more alerts" line: its longest form.
		reserve: Context(moreLine(alerts, o.AlertsURL)).Chars(),
	}
	for _, b := range f.blocks {
		f.used += b.Chars()
	}

	// Every alert in full when they all fit; else the first few in full
	// and the others one line each, as many as fit.
	shown := f.addSections(alerts, func(a alert.Alert) string { return alertText(a, m) }, len(alerts))
	if shown < len(alerts) {
		f.blocks, f.used = f.blocks[:2], f.blocks[0].Chars()+f.blocks[1].Chars()
		shown = f.addSections(alerts, func(a alert.Alert) string { return alertText(a, m) }, detailedInStorm)
		shown += f.addLines(alerts[shown:], func(a alert.Alert) string { return alertLine(a, m) })
	}
	if rest := alerts[shown:]; len(rest) > 0 {
		f.blocks = append(f.blocks, Context(moreLine(rest, o.AlertsURL)))
	}
	return Payload{Text: fallbackText(title, alerts), Blocks: f.blocks}, nil
}

// detailedInStorm is how many alerts a message too small for all of them
// still shows in full (the most severe ones) before one line per alert.
const detailedInStorm = 3

// filler adds blocks to a message while they fit in MaxBlocks and
// MaxTotalChars, keeping room for the "… N more alerts" line while alerts remain.
type filler struct {
	blocks  []Block
	used    int
	reserve int
}

// fits reports whether a block of n characters fits; last is true when
// no alert would remain after it (no "… N more alerts" line needed).
func (f *filler) fits(n int, last bool) bool {
	blocks, chars := 1, n
	if !last {
		blocks, chars = 2, n+f.reserve
	}
	return len(f.blocks)+blocks <= MaxBlocks && f.used+chars < MaxTotalChars
}

// addSections adds one section per alert, for at most limit alerts, and
// returns how many it added.
func (f *filler) addSections(alerts []alert.Alert, text func(alert.Alert) string, limit int) int {
	added := 0
	for i, a := range alerts {
		s := Section(text(a))
		if added == limit || !f.fits(s.Chars(), i == len(alerts)-1) {
			break
		}
		f.blocks = append(f.blocks, s)
		f.used += s.Chars()
		added++
	}
	return added
}

// addLines packs one line per alert into as few sections as can hold
// them, and returns how many alerts it added.
func (f *filler) addLines(alerts []alert.Alert, line func(alert.Alert) string) int {
	var cur []string
	curLen := 0
	flush := func() {
		if len(cur) > 0 {
			s := Section(strings.Join(cur, "\n"))
			f.blocks = append(f.blocks, s)
			f.used += s.Chars()
			cur, curLen = nil, 0
		}
	}
	added := 0
	for i, a := range alerts {
		l := line(a)
		last := i == len(alerts)-1
		switch {
		case len(cur) > 0 && curLen+1+textLen(l) <= MaxSectionChars && f.fits(curLen+1+textLen(l), last):
			// Joins the open section (its block is already counted in fits).
		case len(cur) > 0 && f.fitsAfterFlush(curLen, textLen(l), last):
			flush()
		case len(cur) == 0 && f.fits(textLen(l), last):
		default:
			flush()
			return added
		}
		if len(cur) > 0 {
			curLen++
		}
		cur = append(cur, l)
		curLen += textLen(l)
		added++
	}
	flush()
	return added
}

// fitsAfterFlush reports whether, once the open section of open
// characters is added, a new section of n characters still fits.
func (f *filler) fitsAfterFlush(open, n int, last bool) bool {
	g := filler{blocks: f.blocks[:len(f.blocks):len(f.blocks)], used: f.used + open, reserve: f.reserve}
	g.blocks = append(g.blocks, Block{})
	return g.fits(n, last)
}

// firingFirst orders alerts firing (in the manager's order: most severe
// first) before resolved, so that a cut message never hides a firing alert
// behind a resolved one.
func firingFirst(in []alert.Alert) []alert.Alert {
	out := make([]alert.Alert, 0, len(in))
	for _, a := range in {
		if a.State != alert.StateResolved {
			out = append(out, a)
		}
	}
	for _, a := range in {
		if a.State == alert.StateResolved {
			out = append(out, a)
		}
	}
	return out
}

// headerText is "🔴 FIRING 3 · ✅ RESOLVED 1 — main", marked with the
// severity of the most severe firing alert (worst).
func headerText(worst alert.Severity, firing, resolved int, group string) string {
	var parts []string
	if firing > 0 {
		parts = append(parts, fmt.Sprintf("%s FIRING %d", severityEmoji(worst), firing))
	}
	if resolved > 0 {
		parts = append(parts, fmt.Sprintf("%s RESOLVED %d", resolvedEmoji, resolved))
	}
	h := strings.Join(parts, " · ")
	if group != "" {
		h += " — " + oneLine(group, capName)
	}
	return h
}

// summaryLine counts the firing alerts per severity and the resolved ones.
func summaryLine(alerts []alert.Alert, m alert.Message) string {
	bySev := map[alert.Severity]int{}
	resolved := 0
	for _, a := range alerts {
		if a.State == alert.StateResolved {
			resolved++
		} else {
			bySev[a.Severity]++
		}
	}
	var parts []string
	var firing []string
	for _, s := range []alert.Severity{alert.SeverityCritical, alert.SeverityWarning, alert.SeverityInfo} {
		if n := bySev[s]; n > 0 {
			firing = append(firing, fmt.Sprintf("%d %s", n, s))
		}
	}
	other := 0
	for s, n := range bySev {
		if s != alert.SeverityCritical && s != alert.SeverityWarning && s != alert.SeverityInfo {
			other += n
		}
	}
	if other > 0 {
		firing = append(firing, fmt.Sprintf("%d other", other))
	}
	if len(firing) > 0 {
		parts = append(parts, "*Firing:* "+strings.Join(firing, ", "))
	}
	if resolved > 0 {
		parts = append(parts, fmt.Sprintf("*Resolved:* %d", resolved))
	}
	if !m.CreatedAt.IsZero() {
		parts = append(parts, "spacetime-watch, "+Date(m.CreatedAt))
	}
	return strings.Join(parts, " · ")
}

// alertText is one alert's section: what (its name and what happened),
// where, observed against expected, since when, which deployment, the
// likely cause and the next step, and where to look. A resolved alert's
// section says what recovered, in its own words.
func alertText(a alert.Alert, m alert.Message) string {
	now := m.CreatedAt
	name := "*" + Escape(oneLine(a.Name, capName)) + "*"
	target := Code(a.Target, capName)
	severity := Escape(oneLine(string(a.Severity), capName))

	var lines []string
	resolved := a.State == alert.StateResolved
	if resolved {
		lines = append(lines, fmt.Sprintf("%s *RESOLVED* · %s on %s (%s)", resolvedEmoji, name, target, severity))
	} else {
		lines = append(lines, fmt.Sprintf("%s *%s* · %s on %s", severityEmoji(a.Severity), strings.ToUpper(severity), name, target))
	}
	if what := what(a); what != "" {
		lines = append(lines, Escape(oneLine(what, capSummary)))
	}
	if v := valuesLine(a); v != "" {
		lines = append(lines, v)
	}
	if t := timeLine(a, now); t != "" {
		lines = append(lines, t)
	}
	d := a.Deployment
	if d == nil {
		d = m.Deployment
	}
	if d != nil && d.Version != "" {
		dep := "*Deployment:* " + Code(d.Version, capValue)
		if !d.StartedAt.IsZero() && !now.IsZero() {
			dep += ", started " + humanDuration(now.Sub(d.StartedAt)) + " ago"
		}
		lines = append(lines, dep)
	}
	if a.Hint != "" && !resolved {
		lines = append(lines, "*Likely cause, next step:* "+Escape(oneLine(a.Hint, capSummary)))
	}
	var links []string
	if l := link(a.RunbookURL, "Runbook"); l != "" {
		links = append(links, l)
	}
	if l := link(a.DashboardURL, "Dashboard"); l != "" {
		links = append(links, l)
	}
	if len(links) > 0 {
		lines = append(lines, strings.Join(links, " · "))
	}
	return strings.Join(lines, "\n")
}

// what is what happened, in the alert's own words: the monitor's reason
// (for a resolved alert, what recovered), else the summary.
func what(a alert.Alert) string {
	if a.Reason != "" {
		return a.Reason
	}
	return a.Summary
}

func valuesLine(a alert.Alert) string {
	var parts []string
	if a.Observed != "" {
		parts = append(parts, "*Observed:* "+Escape(oneLine(a.Observed, capValue)))
	}
	if a.Expected != "" {
		parts = append(parts, "*Expected:* "+Escape(oneLine(a.Expected, capValue)))
	}
	return strings.Join(parts, " · ")
}

// timeLine is "Since <date> (12m)" for a firing alert, "Lasted 12m
// (<start> → <end>)" for a resolved one.
func timeLine(a alert.Alert, now time.Time) string {
	if a.StartsAt.IsZero() {
		return ""
	}
	if a.State == alert.StateResolved {
		if a.EndsAt.IsZero() {
			return "*Since:* " + Date(a.StartsAt)
		}
		return fmt.Sprintf("*Lasted:* %s (%s → %s)", humanDuration(a.EndsAt.Sub(a.StartsAt)), Date(a.StartsAt), Date(a.EndsAt))
	}
	line := "*Since:* " + Date(a.StartsAt)
	if !now.IsZero() {
		line += " (" + humanDuration(now.Sub(a.StartsAt)) + ")"
	}
	return line
}

// moreLine accounts for the alerts a message could not show.
func moreLine(rest []alert.Alert, alertsURL string) string {
	firing := 0
	for _, a := range rest {
		if a.State != alert.StateResolved {
			firing++
		}
	}
	where := "`" + DefaultAlertsURL + "`"
	if l := link(alertsURL, DefaultAlertsURL); l != "" {
		where = l
	}
	return fmt.Sprintf("*%s* (%d firing, %d resolved) — full list at %s",
		moreAlerts(len(rest)), firing, len(rest)-firing, where)
}

// moreAlerts is "… 12 more alerts": what a cut message did not show.
func moreAlerts(n int) string {
	if n == 1 {
		return "… 1 more alert"
	}
	return fmt.Sprintf("… %d more alerts", n)
}

// fallbackText is the plain-text version: the header and one line per
// alert while they fit in MaxFallbackChars, then "… N more alerts".
func fallbackText(title string, alerts []alert.Alert) string {
	var b strings.Builder
	b.WriteString(Escape(title))
	for i, a := range alerts {
		mark := severityEmoji(a.Severity)
		if a.State == alert.StateResolved {
			mark = resolvedEmoji
		}
		line := fmt.Sprintf("\n%s %s on %s (%s)", mark, Escape(oneLine(a.Name, capName)), Escape(oneLine(a.Target, capName)), Escape(oneLine(string(a.Severity), capName)))
		if textLen(b.String())+textLen(line)+40 > MaxFallbackChars {
			b.WriteString("\n" + moreAlerts(len(alerts)-i))
			break
		}
		b.WriteString(line)
	}
	return b.String()
}

// capLineSummary bounds the summary in an alert's one-line form.
const capLineSummary = 100

// alertLine is an alert in one line, for groups too large to show each
// alert in full: "🔴 *fps_low* on `main` — FPS 61.2 below 85 · since 12m".
func alertLine(a alert.Alert, m alert.Message) string {
	name := Escape(oneLine(a.Name, capName))
	target := Code(a.Target, capName)
	summary := Escape(oneLine(what(a), capLineSummary))
	if a.State == alert.StateResolved {
		line := fmt.Sprintf("%s *%s* on %s resolved", resolvedEmoji, name, target)
		if summary != "" {
			line += " — " + summary
		}
		if !a.StartsAt.IsZero() && !a.EndsAt.IsZero() {
			line += " · lasted " + humanDuration(a.EndsAt.Sub(a.StartsAt))
		}
		return line
	}
	line := fmt.Sprintf("%s *%s* on %s", severityEmoji(a.Severity), name, target)
	if summary != "" {
		line += " — " + summary
	}
	if !a.StartsAt.IsZero() && !m.CreatedAt.IsZero() {
		line += " · since " + humanDuration(m.CreatedAt.Sub(a.StartsAt))
	}
	return line
}
