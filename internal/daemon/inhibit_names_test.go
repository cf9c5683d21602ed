package daemon_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/labels"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
)

// TestBuiltinInhibitRulesNameWhatTheMonitorRaises: the alert package
// cannot import the monitor (internal/archtest), so its built-in
// inhibition spells the monitor's alert, cause, kind and source names out
// again. Every value of every matcher, and every alternative of a regex
// (fps_.* included), must name something the monitor raises: a renamed
// rule, check or cause fails here instead of silently ending the
// inhibition.
func TestBuiltinInhibitRulesNameWhatTheMonitorRaises(t *testing.T) {
	known := map[string][]string{
		alert.LabelAlert: monitor.ConditionNames(),
		alert.LabelCause: {
			monitor.CauseConnectionRefused, monitor.CauseTimeout, monitor.CauseInstanceDown,
			monitor.CauseTokenExpired, monitor.CauseTokenRejected, monitor.CauseEndpointAbsent,
			monitor.CauseRateLimited, monitor.CauseKnownGap, monitor.CausePerformanceTokenRejected,
			monitor.CauseNoMemorySource, monitor.CauseTLSCertExpiring,
		},
		alert.LabelKind:   {string(event.KindCheck), string(event.KindRule), string(event.KindCondition)},
		alert.LabelSource: {monitor.MemoryFromTelemetry.String(), monitor.MemoryFromPerformance.String()},
	}
	rules := alert.BuiltinInhibitRules()
	if len(rules) == 0 {
		t.Fatal("no built-in inhibit rules")
	}
	for _, r := range rules {
		for _, m := range slices.Concat(r.Source, r.Target) {
			values, ok := known[m.Name]
			if !ok {
				t.Errorf("rule %q: matcher %s on label %q, which this test does not know the monitor's values of: add them", r.Name, m, m.Name)
				continue
			}
			for _, v := range matcherValues(m) {
				re := regexp.MustCompile(`^(?:` + v + `)$`)
				if !slices.ContainsFunc(values, re.MatchString) {
					t.Errorf("rule %q: matcher %s: %q matches no %s the monitor raises (%s)", r.Name, m, v, m.Name, strings.Join(values, ", "))
				}
			}
		}
	}
}

// matcherValues are what m names: its value, or each alternative of its
// regex as a regex (QuoteMeta'd when it is a plain value). The built-in
// regexes are alternations without groups, so a split on | finds them.
func matcherValues(m labels.Matcher) []string {
	if !m.IsRegexp() {
		return []string{regexp.QuoteMeta(m.Value)}
	}
	return strings.Split(m.Value, "|")
}
