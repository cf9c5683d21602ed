package console

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
)

// Render returns m as the console sink prints it, newline-terminated:
//
//   - an alert message with one alert is one line (plus one for the likely
//     cause and the next step of a firing alert, and one for its links);
//   - a group of several alerts is a header line ("ALERTS target=demo: 2
//     firing, 1 resolved") followed by one indented line per alert;
//   - a test message is "TEST via <sink>: <title>", with its text;
//   - a text message is "NOTE on <target>: <title>", with its text indented.
//
// Times print in their own location (the daemon's local time), as clock
// times when they fall on the message's day.
func Render(m alert.Message, sink string) string {
	var b strings.Builder
	switch m.Kind {
	case alert.KindAlerts:
		renderAlerts(&b, m)
	case alert.KindTest:
		renderTest(&b, m, sink)
	case alert.KindText:
		renderText(&b, m)
	default:
		header := "MESSAGE " + oneLine(string(m.Kind))
		writeText(&b, header, m.Title, m.Text)
	}
	return b.String()
}

func renderAlerts(b *strings.Builder, m alert.Message) {
	switch len(m.Alerts) {
	case 0:
		fmt.Fprintf(b, "ALERTS %s: none\n", groupName(m))
	case 1:
		renderAlert(b, "ALERT ", "  ", m.Alerts[0], m.CreatedAt)
	default:
		var counts []string
		if n := len(m.Firing()); n > 0 {
			counts = append(counts, fmt.Sprintf("%d firing", n))
		}
		if n := len(m.Resolved()); n > 0 {
			counts = append(counts, fmt.Sprintf("%d resolved", n))
		}
		if other := len(m.Alerts) - len(m.Firing()) - len(m.Resolved()); other > 0 {
			counts = append(counts, fmt.Sprintf("%d other", other))
		}
		fmt.Fprintf(b, "ALERTS %s: %s\n", groupName(m), strings.Join(counts, ", "))
		for _, a := range m.Alerts {
			renderAlert(b, "  ", "    ", a, m.CreatedAt)
		}
	}
}

// groupName names a group by its labels (target=demo), else its key, else
// its target.
func groupName(m alert.Message) string {
	if len(m.GroupLabels) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(m.GroupLabels)) {
			parts = append(parts, oneLine(k)+"="+oneLine(m.GroupLabels[k]))
		}
		return strings.Join(parts, ", ")
	}
	if m.GroupKey != "" {
		return oneLine(m.GroupKey)
	}
	if m.Target != "" {
		return "on " + oneLine(m.Target)
	}
	return "(no group)"
}

// renderAlert writes "FIRING fps_low [warning] on demo: <reason> (<facts>)",
// then indented, for a firing alert, the likely cause and the next step,
// and the alert's links. Plain text: no markup of any medium.
func renderAlert(b *strings.Builder, prefix, linkIndent string, a alert.Alert, now time.Time) {
	what := a.Reason
	if what == "" {
		what = a.Summary
	}
	if what == "" {
		what = "no reason given"
	}
	fmt.Fprintf(b, "%s%s %s [%s]", prefix, strings.ToUpper(oneLine(string(a.State))), oneLine(a.Name), oneLine(string(a.Severity)))
	if a.Target != "" {
		fmt.Fprintf(b, " on %s", oneLine(a.Target))
	}
	fmt.Fprintf(b, ": %s", oneLine(what))
	if facts := alertFacts(a, now); facts != "" {
		fmt.Fprintf(b, " (%s)", facts)
	}
	b.WriteByte('\n')
	if a.Hint != "" && a.State != alert.StateResolved {
		fmt.Fprintf(b, "%slikely cause, next step: %s\n", linkIndent, oneLine(a.Hint))
	}
	var links []string
	if a.RunbookURL != "" {
		links = append(links, "runbook "+oneLine(a.RunbookURL))
	}
	if a.DashboardURL != "" {
		links = append(links, "dashboard "+oneLine(a.DashboardURL))
	}
	if len(links) > 0 {
		fmt.Fprintf(b, "%s%s\n", linkIndent, strings.Join(links, "  "))
	}
}

// alertFacts is "observed 60.3, expected ≥ 85; since 10:35:23, deployment
// 1.0.0 started 3m ago": the values, then the when.
func alertFacts(a alert.Alert, now time.Time) string {
	var values, when []string
	if a.Observed != "" {
		values = append(values, "observed "+oneLine(a.Observed))
	}
	if a.Expected != "" {
		values = append(values, "expected "+oneLine(a.Expected))
	}
	switch {
	case a.StartsAt.IsZero():
	case a.State == alert.StateResolved && !a.EndsAt.IsZero():
		when = append(when, fmt.Sprintf("fired %s–%s for %s",
			clock(a.StartsAt, now), clock(a.EndsAt, now), human(a.EndsAt.Sub(a.StartsAt))))
	default:
		when = append(when, "since "+clock(a.StartsAt, now))
	}
	if d := a.Deployment; d != nil {
		name := d.Version
		if name == "" {
			name = d.ID
		}
		dep := "deployment " + oneLine(name)
		if age := now.Sub(d.StartedAt); !d.StartedAt.IsZero() && !now.IsZero() && age >= 0 {
			dep += " started " + human(age) + " ago"
		}
		when = append(when, dep)
	}
	var groups []string
	if len(values) > 0 {
		groups = append(groups, strings.Join(values, ", "))
	}
	if len(when) > 0 {
		groups = append(groups, strings.Join(when, ", "))
	}
	return strings.Join(groups, "; ")
}

func renderTest(b *strings.Builder, m alert.Message, sink string) {
	header := "TEST via " + oneLine(sink)
	if m.Target != "" {
		header += " for " + oneLine(m.Target)
	}
	title := m.Title
	if title == "" {
		title = "spacetime-watch test notification"
	}
	writeText(b, header, title, m.Text)
}

func renderText(b *strings.Builder, m alert.Message) {
	header := "NOTE"
	if m.Target != "" {
		header += " on " + oneLine(m.Target)
	}
	if d := m.Deployment; d != nil {
		name := d.Version
		if name == "" {
			name = d.ID
		}
		header += " (deployment " + oneLine(name) + ")"
	}
	writeText(b, header, m.Title, m.Text)
}

// writeText writes "header: title" and then text: on the same line when it
// is one short line and there is no title, indented below otherwise.
func writeText(b *strings.Builder, header, title, text string) {
	text = strings.TrimSpace(text)
	lines := strings.Split(text, "\n")
	switch {
	case title != "":
		fmt.Fprintf(b, "%s: %s\n", header, oneLine(title))
	case text != "" && len(lines) == 1:
		fmt.Fprintf(b, "%s: %s\n", header, oneLine(text))
		return
	default:
		fmt.Fprintf(b, "%s\n", header)
	}
	if text == "" {
		return
	}
	for _, l := range lines {
		fmt.Fprintf(b, "  %s\n", strings.TrimRight(l, " \t\r"))
	}
}

// oneLine keeps a field on its line: newlines and runs of spaces become
// one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// clock prints t as a clock time when it falls on now's day, with its date
// otherwise.
func clock(t, now time.Time) string {
	if now.IsZero() || sameDay(t, now.In(t.Location())) {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

// human prints a duration the way people say it: 45s, 3m, 3m20s, 1h5m, 2d3h.
func human(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s)
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		if h == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, h)
	}
}
