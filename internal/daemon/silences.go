package daemon

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/labels"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
)

// This file checks silences against what the daemon knows: the alert
// manager checks a silence's shape, the daemon that its matchers name
// targets and alerts that exist, so that `--target=nosuch` or
// `--alert=fps_lwo` is an error with a suggestion, not a silence that
// never mutes anything.

// silenceNames are the values matchers are checked against, per label.
type silenceNames map[string][]string

// silenceNames returns the targets a silence may name (the configured ones
// and the daemon's own) and the alerts (every condition the monitor
// raises, the daemon's own alerts, and any alert tracked now).
func (a *api) silenceNames() silenceNames {
	targets := append(a.mon.TargetNames(), alert.InternalTarget)
	alerts := append(monitor.ConditionNames(), alert.InternalAlertNames()...)
	for _, al := range a.alerting.manager.Alerts() {
		targets, alerts = append(targets, al.Target), append(alerts, al.Name)
	}
	severities := make([]string, 0, 3)
	for _, s := range alert.Severities() {
		severities = append(severities, string(s))
	}
	sortUnique := func(s []string) []string { slices.Sort(s); return slices.Compact(s) }
	return silenceNames{
		alert.LabelTarget:   sortUnique(targets),
		alert.LabelAlert:    sortUnique(alerts),
		alert.LabelSeverity: severities,
	}
}

// check reports every matcher that names nothing the daemon knows: an
// equality or inequality whose value is not a known name (with the closest
// one when it looks like a typo), a regex (=~ or !~) that matches no known
// name. With
// force, unknown targets and alerts are accepted (one not configured yet);
// severities never are.
func (known silenceNames) check(ms labels.Matchers, force bool) error {
	var errs []error
	for _, m := range ms {
		names := known[m.Name]
		if force && m.Name != alert.LabelSeverity {
			continue
		}
		var problem string
		if m.IsRegexp() {
			// For !~ too: a regex that excludes nothing is as likely a typo.
			reMatches := func(v string) bool { return m.Matches(v) == (m.Type == labels.MatchRegexp) }
			if slices.ContainsFunc(names, reMatches) {
				continue
			}
			problem = "the regex matches no " + labelWords[m.Name].noun
		} else {
			if slices.Contains(names, m.Value) {
				continue
			}
			problem = fmt.Sprintf("%q is not a %s%s", m.Value, labelWords[m.Name].noun, config.DidYouMean(m.Value, names))
		}
		hint := ""
		if m.Name != alert.LabelSeverity {
			hint = "; add --force to keep it"
		}
		errs = append(errs, fmt.Errorf("matcher `%s`: %s; %s: %s%s", m, problem, labelWords[m.Name].plural, strings.Join(names, ", "), hint))
	}
	if len(errs) > 0 {
		return fmt.Errorf("silence: %w", errors.Join(errs...))
	}
	return nil
}

// labelWords name a label's values in errors.
var labelWords = map[string]struct{ noun, plural string }{
	alert.LabelTarget:   {"configured target", "targets"},
	alert.LabelAlert:    {"known alert", "alerts"},
	alert.LabelSeverity: {"severity", "severities"},
}
