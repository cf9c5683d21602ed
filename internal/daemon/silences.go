package daemon

import (
	"errors"
	"fmt"
	"slices"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/labels"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
)

// This file checks the names matchers give against what the daemon knows:
// the alert manager checks a silence's shape, the daemon that its matchers
// name targets and alerts that exist, so that `--target=nosuch` or
// `--alert=fps_lwo` is an error with a suggestion, not a silence that
// never mutes anything. The config's inhibit rules are checked against the
// same alert names (LoadConfig), by the same function
// (config.MatcherProblem).

// alertNames are every alert the daemon can raise: the monitor's
// conditions and the daemon's own.
func alertNames() []string {
	return append(monitor.ConditionNames(), alert.InternalAlertNames()...)
}

// LoadConfig loads the config file at path, checking the alert names its
// inhibit rules give against those the daemon raises. run, reload,
// check-config and verify all load through it.
func LoadConfig(path string) (*config.Config, error) {
	return config.Load(path, config.Known{Alerts: alertNames(), Targets: []string{alert.InternalTarget}})
}

// silenceNames are the values matchers are checked against, per label.
type silenceNames map[string][]string

// silenceNames returns the targets a silence may name (the configured ones
// and the daemon's own) and the alerts (every condition the monitor
// raises, the daemon's own alerts, and any alert tracked now).
func (a *api) silenceNames() silenceNames {
	targets := append(a.mon.TargetNames(), alert.InternalTarget)
	alerts := alertNames()
	for _, al := range a.alerting.manager.Alerts() {
		targets, alerts = append(targets, al.Target), append(alerts, al.Name)
	}
	sortUnique := func(s []string) []string { slices.Sort(s); return slices.Compact(s) }
	return silenceNames{
		labels.Target:   sortUnique(targets),
		labels.Alert:    sortUnique(alerts),
		labels.Severity: labels.Severities(),
	}
}

// check reports every matcher that names nothing the daemon knows
// (config.MatcherProblem). With force, unknown targets and alerts are
// accepted (one not configured yet); severities never are.
func (known silenceNames) check(ms labels.Matchers, force bool) error {
	var errs []error
	for _, m := range ms {
		names, ok := known[m.Name]
		if !ok || force && m.Name != labels.Severity {
			continue
		}
		problem := config.MatcherProblem(m, names)
		if problem == "" {
			continue
		}
		hint := ""
		if m.Name != labels.Severity {
			hint = "; add --force to keep it"
		}
		errs = append(errs, fmt.Errorf("matcher `%s`: %s%s", m, problem, hint))
	}
	if len(errs) > 0 {
		return fmt.Errorf("silence: %w", errors.Join(errs...))
	}
	return nil
}
