package alert

import (
	"slices"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/labels"
)

// Inhibition keeps one cause to one notification: while a source alert
// fires, the alerts it explains (its targets) stay tracked and visible in
// /api/v1/alerts, marked inhibited, but are not notified. When the source
// resolves and a target still fires, the target is notified then, once it
// has kept firing for InhibitRelease: the alerts a cause explained usually
// resolve within moments of it (telemetry needs a minute of data), and that
// is not news either.
//
// The rules have Alertmanager's shape: source matchers, target matchers
// and the labels both must share (always including target, since a cause
// on one instance explains nothing on another). An alert never inhibits
// itself, and inhibition does not chain: an inhibited source still
// inhibits (Alertmanager does the same).

// mustMatcher builds a matcher of the built-in rules, whose values are
// constants that parse.
func mustMatcher(name string, t labels.MatchType, value string) labels.Matcher {
	m, err := labels.NewMatcher(name, t, value)
	if err != nil {
		panic("alert: built-in matcher: " + err.Error())
	}
	return m
}

// InhibitRule mutes the alerts matching Target while an alert matching
// Source fires with the same values of the Equal labels.
type InhibitRule struct {
	// Name says which cause the rule stands for, in /api/v1/alerts
	// ("instance unreachable") and the logs.
	Name string
	// Source and Target select the two sides; Equal lists the labels they
	// must share (target is always added).
	Source, Target labels.Matchers
	Equal          []string
}

// Names of the daemon's own conditions and of the rules and checks the
// built-in inhibition refers to. The monitor raises them under these names;
// alert does not import monitor (internal/archtest), so a test in
// internal/daemon, which sees both, holds every name and cause of
// BuiltinInhibitRules to the monitor's.
const (
	alertInstanceUp     = "check_instance_up"
	alertTokenExpired   = "token_expired"
	alertTokenRejected  = "token_rejected"
	alertTelemetryDown  = "telemetry_down"
	alertTelemetrySilnt = "telemetry_silent"
	alertMemoryUnwatch  = "memory_unwatched"
	alertPerformance    = "check_performance"
	// causePerformanceToken is the cause of check_performance when
	// /performance refuses its own token.
	causePerformanceToken = "performance_token_rejected"
)

// BuiltinInhibitRules are the dependencies spacetime-watch knows among its
// own checks and rules:
//
//   - an unreachable instance explains every other check failing, the
//     telemetry stream being down (a stream that still flows is a signal of
//     its own, and so are FPS and memory alerts from it), and memory being
//     unwatched;
//   - a refused or expired token explains every check that failed because
//     of the token, and memory unwatched (the /performance fallback needs a
//     token);
//   - a stream that is down or silent explains the FPS rules, the
//     telemetry and thresholds checks, memory being unwatched, and the
//     memory rules unless memory came from /performance (source label).
func BuiltinInhibitRules() []InhibitRule {
	telemetryDown := mustMatcher(LabelAlert, labels.MatchRegexp, alertTelemetryDown+"|"+alertTelemetrySilnt)
	return []InhibitRule{
		{
			Name:   "instance unreachable",
			Source: labels.Matchers{mustMatcher(LabelAlert, labels.MatchEqual, alertInstanceUp)},
			Target: labels.Matchers{mustMatcher(LabelKind, labels.MatchEqual, string(event.KindCheck))},
		},
		{
			Name:   "instance unreachable",
			Source: labels.Matchers{mustMatcher(LabelAlert, labels.MatchEqual, alertInstanceUp)},
			Target: labels.Matchers{mustMatcher(LabelAlert, labels.MatchRegexp, alertTelemetryDown+"|"+alertTelemetrySilnt+"|"+alertMemoryUnwatch+"|"+alertTokenRejected+"|"+alertTokenExpired)},
		},
		{
			Name:   "token refused",
			Source: labels.Matchers{mustMatcher(LabelAlert, labels.MatchRegexp, alertTokenRejected+"|"+alertTokenExpired)},
			Target: labels.Matchers{mustMatcher(LabelCause, labels.MatchRegexp, "token_rejected|token_expired"), mustMatcher(LabelKind, labels.MatchEqual, string(event.KindCheck))},
		},
		{
			Name:   "token refused",
			Source: labels.Matchers{mustMatcher(LabelAlert, labels.MatchRegexp, alertTokenRejected+"|"+alertTokenExpired)},
			Target: labels.Matchers{mustMatcher(LabelAlert, labels.MatchEqual, alertMemoryUnwatch)},
		},
		{
			// /performance refusing its own token is why memory cannot
			// be polled: the check says so, memory_unwatched need not.
			Name:   "token refused",
			Source: labels.Matchers{mustMatcher(LabelAlert, labels.MatchEqual, alertPerformance), mustMatcher(LabelCause, labels.MatchEqual, causePerformanceToken)},
			Target: labels.Matchers{mustMatcher(LabelAlert, labels.MatchEqual, alertMemoryUnwatch)},
		},
		{
			Name:   "telemetry down",
			Source: labels.Matchers{telemetryDown},
			Target: labels.Matchers{mustMatcher(LabelAlert, labels.MatchRegexp, "fps_.*|check_telemetry|check_thresholds|"+alertMemoryUnwatch)},
		},
		{
			Name:   "telemetry down",
			Source: labels.Matchers{telemetryDown},
			Target: labels.Matchers{mustMatcher(LabelAlert, labels.MatchRegexp, "memory_high|memory_growth"), mustMatcher(LabelSource, labels.MatchNotEqual, "performance")},
		},
	}
}

// inhibitor finds, for an alert, the firing alert and rule that inhibit it.
type inhibitor struct {
	rules  []InhibitRule
	firing []*alertState // every alert whose condition holds
	labels map[*alertState]Labels
}

func newInhibitor(rules []InhibitRule, alerts map[string]*alertState) *inhibitor {
	in := &inhibitor{rules: rules, labels: map[*alertState]Labels{}}
	for _, a := range sortedAlerts(alerts) {
		in.labels[a] = a.labels()
		if a.firing {
			in.firing = append(in.firing, a)
		}
	}
	return in
}

// inhibitedBy returns the alert inhibiting a and the rule's name, or nil.
func (in *inhibitor) inhibitedBy(a *alertState) (*alertState, string) {
	tl := in.labels[a]
	for _, r := range in.rules {
		if !r.Target.Matches(tl) {
			continue
		}
		targetIsSource := r.Source.Matches(tl)
		for _, src := range in.firing {
			if src == a {
				continue
			}
			sl := in.labels[src]
			if !r.Source.Matches(sl) || !sameLabels(r.Equal, sl, tl) {
				continue
			}
			// As in Alertmanager: an alert matching both sides is not
			// inhibited by another that also does (neither explains the other).
			if targetIsSource && r.Target.Matches(sl) {
				continue
			}
			return src, r.Name
		}
	}
	return nil, ""
}

// sameLabels reports whether a and b agree on target and every name in equal.
func sameLabels(equal []string, a, b Labels) bool {
	if a.Target != b.Target {
		return false
	}
	return !slices.ContainsFunc(equal, func(n string) bool { return a.Get(n) != b.Get(n) })
}

// refreshInhibition derives each alert's inhibited flag at now. A target
// released by its source keeps waiting, uninhibited in the API but not yet
// eligible, until it has fired on its own for release.
func (m *Manager) refreshInhibition(now time.Time) {
	in := newInhibitor(m.settings.InhibitRules, m.alerts)
	for _, a := range m.alerts {
		src, rule := (*alertState)(nil), ""
		if a.firing {
			src, rule = in.inhibitedBy(a)
		}
		was := a.inhibited
		a.inhibited = src != nil
		a.inhibitedBy, a.inhibitRule = "", ""
		if src != nil {
			a.inhibitedBy, a.inhibitRule = src.name, rule
			a.releasedAt = time.Time{}
		}
		if was && !a.inhibited && a.firing {
			a.releasedAt = now
		}
		if !a.releasedAt.IsZero() && (!a.firing || !now.Before(a.releasedAt.Add(m.settings.InhibitRelease))) {
			a.releasedAt = time.Time{}
			if a.firing && !a.notified {
				a.activeAt = now // its own group_wait starts now, not when the cause began
			}
		}
		if was != a.inhibited || !a.releasedAt.IsZero() {
			m.dirty = true
		}
	}
}

// releasing reports whether a was released by its source too recently to
// be notified.
func (a *alertState) releasing() bool { return !a.releasedAt.IsZero() }
