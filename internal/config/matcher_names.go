package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spacetime-vr/spacetime-watch/internal/labels"
)

// Known are the values alert labels may take, which the matchers of
// alerting.inhibit_rules are checked against. The alert names come from
// the monitor's rule table and checks, which config cannot import, so the
// daemon gives them (daemon.LoadConfig); the configured targets, the
// severities and the kinds are known here.
type Known struct {
	// Alerts are the alert names: every condition the monitor raises and
	// the daemon's own. Default: nil, which leaves alert names unchecked.
	Alerts []string
	// Targets are targets besides the configured ones (the target of the
	// daemon's own alerts). Default: none.
	Targets []string
}

// MatcherProblem says what is wrong with m given known, the values its
// label may take: an equality or inequality whose value is not one of them
// (with the closest one when it looks like a typo), or a regex (=~ or !~)
// that matches none of them. It returns "" when m names a known value.
// Silences (the daemon's API) and inhibit rules (this package) both check
// their matchers with it.
func MatcherProblem(m labels.Matcher, known []string) string {
	w := labelWords[m.Name]
	if m.IsRegexp() {
		// For !~ too: a regex that excludes nothing is as likely a typo.
		if slices.ContainsFunc(known, func(v string) bool { return m.Matches(v) == (m.Type == labels.MatchRegexp) }) {
			return ""
		}
		return fmt.Sprintf("the regex matches no %s; %s: %s", w.noun, w.plural, strings.Join(known, ", "))
	}
	if slices.Contains(known, m.Value) {
		return ""
	}
	return fmt.Sprintf("%q is not a %s%s; %s: %s", truncate(m.Value, 40), w.noun, DidYouMean(m.Value, known), w.plural, strings.Join(known, ", "))
}

// labelWords name a label's values in MatcherProblem's messages.
var labelWords = map[string]struct{ noun, plural string }{
	labels.Target:   {"configured target", "targets"},
	labels.Alert:    {"known alert", "alerts"},
	labels.Severity: {"severity", "severities"},
	labels.Kind:     {"kind", "kinds"},
}

// knownValues returns, per label, the values inhibit rule matchers are
// checked against; a label without a list (cause, source) is not checked.
func knownValues(cfg *Config, known Known) map[string][]string {
	targets := slices.Clone(known.Targets)
	for _, t := range cfg.Targets {
		targets = append(targets, t.Name)
	}
	slices.Sort(targets)
	out := map[string][]string{
		labels.Target:   slices.Compact(targets),
		labels.Severity: labels.Severities(),
		labels.Kind:     labels.Kinds(),
	}
	if known.Alerts != nil {
		alerts := slices.Clone(known.Alerts)
		slices.Sort(alerts)
		out[labels.Alert] = slices.Compact(alerts)
	}
	return out
}
