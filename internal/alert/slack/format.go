package slack

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
)

// Caps on the values an alert section shows, so that one alert's section
// stays far below MaxSectionChars whatever the monitor wrote.
const (
	capName    = 100
	capSummary = 300
	capValue   = 100
)

// Date is a mrkdwn date that each reader sees in their own time zone, with
// a UTC fallback for clients that cannot.
func Date(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), UTC(t))
}

// UTC formats t for plain text.
func UTC(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// humanDuration formats d for people: 45s, 12m, 2h05m, 3d04h.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}

// severityEmoji marks a firing alert's severity.
func severityEmoji(s alert.Severity) string {
	switch s {
	case alert.SeverityCritical:
		return "🔴"
	case alert.SeverityWarning:
		return "🟠"
	default:
		return "🔵"
	}
}

// resolvedEmoji marks a resolved alert.
const resolvedEmoji = "✅"

// groupName is what the message is about: the group label's value when
// there is one label (the target, by default), k=v pairs otherwise.
func groupName(m alert.Message) string {
	switch len(m.GroupLabels) {
	case 0:
		return m.Target
	case 1:
		for _, v := range m.GroupLabels {
			return v
		}
	}
	keys := make([]string, 0, len(m.GroupLabels))
	for k := range m.GroupLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m.GroupLabels[k]
	}
	return strings.Join(parts, ", ")
}
