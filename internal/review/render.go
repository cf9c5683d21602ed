package review

import (
	"fmt"
	"strings"
	"time"
)

// Renderings of a review for people: Markdown for the report file, Text
// in plain text for every sink and the CLI (no markup: the console and
// the CLI print it as it is, the Slack sinks escape it for mrkdwn). Both
// read the same fields in the same order.

// verdictEmoji marks a verdict at a glance.
func verdictEmoji(v Verdict) string {
	switch v {
	case Pass:
		return "✅"
	case Warn:
		return "⚠️"
	}
	return "❌"
}

// stamp formats an instant for the reports (UTC, to the minute).
func stamp(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// Title is the review's one-line headline, plain text (a Slack header):
// "⚠️ Review hour-4 of vr-1 (v2.4.1): WARN · delivered 20m late".
func Title(r Review) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s Review %s of %s", verdictEmoji(r.Verdict), r.Name, r.Target)
	if r.Version != "" {
		fmt.Fprintf(&b, " (%s)", r.Version)
	}
	fmt.Fprintf(&b, ": %s", strings.ToUpper(string(r.Verdict)))
	for _, m := range markers(r) {
		b.WriteString(" · " + m)
	}
	return b.String()
}

// markers are the review's LATE and PARTIAL notices.
func markers(r Review) []string {
	var out []string
	if r.Late {
		out = append(out, "LATE: delivered "+shortDuration(r.LateBy)+" late")
	}
	if r.Partial {
		out = append(out, fmt.Sprintf("PARTIAL: %s of the window", pct(r.Coverage)))
	}
	return out
}

// placeLine is the line that places the review in time.
func placeLine(r Review) string {
	s := fmt.Sprintf("Deployment %s started %s; review due %s, computed %s.",
		r.DeploymentID, stamp(r.StartedAt), stamp(r.DueAt), stamp(r.ComputedAt))
	if r.Partial && r.ComputedAt.Before(r.DueAt) {
		s += " Computed before its due time: the window is not over."
	}
	return s
}

// Body is the review below its title, in plain text: the context line, one
// line per item (verdict emoji, title: figure — note) and the sparklines.
func Body(r Review) string {
	var b strings.Builder
	b.WriteString(placeLine(r) + "\n")
	for _, it := range r.Items {
		fmt.Fprintf(&b, "%s %s: %s", verdictEmoji(it.Verdict), it.Title, it.Figure)
		if it.Note != "" {
			b.WriteString(" — " + it.Note)
		}
		b.WriteByte('\n')
	}
	if r.FPSSparkline != "" {
		fmt.Fprintf(&b, "FPS     %s\n", r.FPSSparkline)
	}
	if r.MemorySparkline != "" {
		fmt.Fprintf(&b, "Memory  %s\n", r.MemorySparkline)
	}
	return b.String()
}

// Text is the whole review as text: Title, then Body.
func Text(r Review) string {
	return Title(r) + "\n" + Body(r)
}

// Markdown is the review's report file.
func Markdown(r Review) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", Title(r))
	fmt.Fprintf(&b, "- Target: %s\n", mdCell(r.Target))
	fmt.Fprintf(&b, "- Deployment: `%s`, version %s, started %s\n", r.DeploymentID, mdCell(orDash(r.Version)), stamp(r.StartedAt))
	fmt.Fprintf(&b, "- Review: %s, due %s (+%s), computed %s\n", r.Name, stamp(r.DueAt), shortDuration(r.Offset), stamp(r.ComputedAt))
	fmt.Fprintf(&b, "- Coverage: %s of the window's minutes\n", pct(r.Coverage))
	for _, m := range markers(r) {
		fmt.Fprintf(&b, "- **%s**\n", m)
	}
	if r.Partial && r.ComputedAt.Before(r.DueAt) {
		b.WriteString("- Computed before its due time: the window is not over.\n")
	}
	b.WriteString("\n| Item | Verdict | Figure | Note |\n| --- | --- | --- | --- |\n")
	for _, it := range r.Items {
		fmt.Fprintf(&b, "| %s | %s %s | %s | %s |\n", mdCell(it.Title), verdictEmoji(it.Verdict), it.Verdict, mdCell(it.Figure), mdCell(it.Note))
	}
	if r.FPSSparkline != "" || r.MemorySparkline != "" {
		b.WriteString("\n")
		if r.FPSSparkline != "" {
			fmt.Fprintf(&b, "- FPS (mean): `%s`\n", r.FPSSparkline)
		}
		if r.MemorySparkline != "" {
			fmt.Fprintf(&b, "- Memory (max): `%s`\n", r.MemorySparkline)
		}
	}
	return b.String()
}

// mdCell keeps a value on one table line: a | would end the cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
