package alert

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// groupByLabels are the labels an alert has, in the order group keys list them.
var groupByLabels = []string{LabelAlert, LabelSeverity, LabelTarget}

// Settings are the alert lifecycle's knobs: the config's `alerting:`
// section minus the sinks. Build them with SettingsFrom; the defaults
// live in internal/config, and the doc comments below repeat them. The
// zero value is not valid (GroupInterval and RepeatInterval must be
// positive), and no field is defaulted here.
type Settings struct {
	// GroupBy are the labels alerts are grouped by into one notification:
	// any of target, alert and severity, each at most once. An empty list
	// puts every alert into one group, as in Alertmanager. Default: [target].
	GroupBy []string
	// GroupWait is how long a change waits for more changes before it is
	// notified, so that a burst lands in one message; 0 sends at once.
	// Default: 30s.
	GroupWait time.Duration
	// GroupInterval is the least time between two notifications of a
	// group. Default: 5m.
	GroupInterval time.Duration
	// StormFoldGroups is how many groups may notify on their own within
	// one GroupWait; when more would, they are folded into one summary
	// message (see Manager). 0 never folds. Default: 3.
	StormFoldGroups int
	// RepeatInterval is how long a group whose alerts still fire waits
	// before re-notifying them. Never effectively below MinRenotify.
	// Default: 4h.
	RepeatInterval time.Duration
	// SendResolved notifies alerts that resolve. Default: true.
	SendResolved bool
	// GracePeriod holds warning and info alerts for this long after the
	// target's deployment started: they are tracked and notified only if
	// still firing when it ends. Critical alerts are never held. 0 turns
	// the grace off. Default: 5m.
	GracePeriod time.Duration
	// MinRenotify is the least time between two notifications of the same
	// still-firing alert, whatever GroupInterval and RepeatInterval say;
	// state changes (firing, resolved) are not bound by it. Default: 5m
	// (config.MinRepeatInterval).
	MinRenotify time.Duration
	// RunbookURL and DashboardURL are text/template links rendered per
	// alert with .Target, .Alert and .Severity (urlquery escapes a value).
	// Empty: no link. Default: "".
	RunbookURL, DashboardURL string
	// InhibitRules mute the alerts a firing cause explains (see
	// BuiltinInhibitRules). Default: the built-in rules, then the config's
	// alerting.inhibit_rules.
	InhibitRules []InhibitRule
	// InhibitRelease is how long an alert released by its resolved cause
	// must keep firing before it is notified on its own. Default: 2m.
	InhibitRelease time.Duration
}

// SettingsFrom builds the settings of the config's alerting section: its
// grouping, grace and links, the re-notification floor
// (config.MinRepeatInterval), and the built-in inhibit rules followed by
// the user's, each named by its place in the file ("inhibit_rules[0]"),
// which /api/v1/alerts shows as inhibit_rule. Every default comes from the
// config; config.Default().Alerting gives the defaults.
func SettingsFrom(cfg config.Alerting) Settings {
	rules := BuiltinInhibitRules()
	for i, r := range cfg.InhibitRules {
		rules = append(rules, InhibitRule{
			Name: fmt.Sprintf("inhibit_rules[%d]", i), Source: r.SourceMatchers, Target: r.TargetMatchers, Equal: r.Equal,
		})
	}
	return Settings{
		GroupBy:         slices.Clone(cfg.GroupBy),
		GroupWait:       cfg.GroupWait,
		GroupInterval:   cfg.GroupInterval,
		StormFoldGroups: cfg.StormFoldGroups,
		RepeatInterval:  cfg.RepeatInterval,
		SendResolved:    cfg.SendResolved,
		GracePeriod:     cfg.GracePeriod,
		MinRenotify:     config.MinRepeatInterval,
		RunbookURL:      cfg.RunbookURL,
		DashboardURL:    cfg.DashboardURL,
		InhibitRules:    rules,
		InhibitRelease:  cfg.InhibitRelease,
	}
}

// Validate reports every problem of s at once, naming the config key.
func (s Settings) Validate() error {
	_, err := compileSettings(s)
	return err
}

// compiled are Settings checked and ready for the manager's goroutine.
type compiled struct {
	Settings
	links links
}

// repeatEvery is the effective repeat interval: never below MinRenotify.
func (c *compiled) repeatEvery() time.Duration {
	return max(c.RepeatInterval, c.MinRenotify)
}

func compileSettings(s Settings) (*compiled, error) {
	var errs []error
	seen := map[string]bool{}
	for i, l := range s.GroupBy {
		switch {
		case !slices.Contains(groupByLabels, l):
			errs = append(errs, fmt.Errorf("group_by[%d]: %q is not a label; use target, alert or severity", i, l))
		case seen[l]:
			errs = append(errs, fmt.Errorf("group_by[%d]: %q is listed twice", i, l))
		}
		seen[l] = true
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, not %s", key, d))
		}
	}
	nonNegative := func(key string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative, not %s", key, d))
		}
	}
	nonNegative("group_wait", s.GroupWait)
	positive("group_interval", s.GroupInterval)
	if s.StormFoldGroups < 0 {
		errs = append(errs, fmt.Errorf("storm_fold_groups: must not be negative, not %d", s.StormFoldGroups))
	}
	positive("repeat_interval", s.RepeatInterval)
	nonNegative("grace_period", s.GracePeriod)
	nonNegative("min_renotify", s.MinRenotify)
	nonNegative("inhibit_release", s.InhibitRelease)
	ls, err := compileLinks(s.RunbookURL, s.DashboardURL)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("alert settings: %w", errors.Join(errs...))
	}
	s.GroupBy = slices.Clone(s.GroupBy)
	s.InhibitRules = slices.Clone(s.InhibitRules)
	return &compiled{Settings: s, links: ls}, nil
}
