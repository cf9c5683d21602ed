package config

import (
	"errors"
	"strings"
	"testing"
)

// knownAlerts stand for the daemon's: the monitor's conditions and its own.
var knownAlerts = Known{
	Alerts:  []string{"check_instance_up", "check_scene", "fps_critical", "fps_high", "fps_low", "memory_high", "token_expired"},
	Targets: []string{"spacetime-watch"},
}

// TestInhibitRulesErrors: every way a user inhibit rule can be wrong is
// reported at its own path and line, with the fix.
func TestInhibitRulesErrors(t *testing.T) {
	const head = "targets: [{name: main, api_url: \"http://127.0.0.1:8080\"}]\nalerting:\n  inhibit_rules:\n"
	cases := []struct {
		name, rules string
		want        []string // whole problems, in file order
	}{
		{"bad regex", `    - source_matchers: ['alert=~"fps_(.*"']` + "\n      target_matchers: [alert=fps_low]\n",
			[]string{"line 4: alerting.inhibit_rules[0].source_matchers[0]: matcher `alert=~\"fps_(.*\"`: bad regex \"fps_(.*\": missing closing ): `fps_(.*`"}},
		{"no operator", "    - source_matchers: [check_instance_up]\n      target_matchers: [alert=fps_low]\n",
			[]string{"line 4: alerting.inhibit_rules[0].source_matchers[0]: matcher `check_instance_up`: no operator; want name=value, name!=value, name=~regex or name!~regex"}},
		{"unknown label", "    - source_matchers: [alertname=check_instance_up]\n      target_matchers: [alert=fps_low]\n",
			[]string{"line 4: alerting.inhibit_rules[0].source_matchers[0]: matcher `alertname=check_instance_up`: unknown label \"alertname\": matchers take alert, severity, target, kind, cause or source"}},
		{"unknown alert", "    - source_matchers: [alert=check_instance_up]\n      target_matchers: [alert=fps_lwo]\n",
			[]string{"line 5: alerting.inhibit_rules[0].target_matchers[0]: `alert=fps_lwo`: \"fps_lwo\" is not a known alert (did you mean fps_low?); alerts: check_instance_up, check_scene, fps_critical, fps_high, fps_low, memory_high, token_expired"}},
		{"regex matching no alert", "    - source_matchers: [alert=check_instance_up]\n      target_matchers: ['alert=~\"fsp_.*\"']\n",
			[]string{"line 5: alerting.inhibit_rules[0].target_matchers[0]: `alert=~\"fsp_.*\"`: the regex matches no known alert; alerts: check_instance_up, check_scene, fps_critical, fps_high, fps_low, memory_high, token_expired"}},
		{"unknown target and severity", "    - source_matchers: [target=mian]\n      target_matchers: [severity=warnign, kind=checks]\n",
			[]string{
				"line 4: alerting.inhibit_rules[0].source_matchers[0]: `target=mian`: \"mian\" is not a configured target (did you mean main?); targets: main, spacetime-watch",
				"line 5: alerting.inhibit_rules[0].target_matchers[0]: `severity=warnign`: \"warnign\" is not a severity (did you mean warning?); severities: critical, warning, info",
				"line 5: alerting.inhibit_rules[0].target_matchers[1]: `kind=checks`: \"checks\" is not a kind (did you mean check?); kinds: check, rule, condition",
			}},
		{"missing sides", "    - equal: [severity]\n",
			[]string{
				"line 4: alerting.inhibit_rules[0].source_matchers: required: list at least one matcher, e.g. ['alert=\"check_instance_up\"']; a rule without one would match nothing",
				"line 4: alerting.inhibit_rules[0].target_matchers: required: list at least one matcher, e.g. ['alert=~\"fps_.*\"']; a rule without one would match nothing",
			}},
		{"bad equal", "    - source_matchers: [alert=check_instance_up]\n      target_matchers: [kind=check]\n      equal: [severty, cause, cause]\n",
			[]string{
				"line 6: alerting.inhibit_rules[0].equal[0]: \"severty\" is not a label (did you mean severity?); equal takes alert, severity, target, kind, cause or source",
				"line 6: alerting.inhibit_rules[0].equal[2]: repeats equal[1]; list each label once",
			}},
		{"unknown key", "    - source_matchers: [alert=check_instance_up]\n      target_matchers: [kind=check]\n      equals: [target]\n",
			[]string{"line 6: alerting.inhibit_rules[0].equals: unknown field (did you mean equal?); known fields: source_matchers, target_matchers, equal"}},
		{"matchers not a list", "    - source_matchers: alert=check_instance_up\n      target_matchers: [{alert: fps_low}]\n",
			[]string{
				"line 4: alerting.inhibit_rules[0].source_matchers: must be a list (write [] for an empty one), not the string \"alert=check_instance_up\"",
				"line 5: alerting.inhibit_rules[0].target_matchers[0]: must be a matcher such as 'alert=\"check_instance_up\"', not a mapping",
			}},
		{"negative release", "    - source_matchers: [alert=check_instance_up]\n      target_matchers: [kind=check]\n  inhibit_release: -1m\n",
			[]string{"line 6: alerting.inhibit_release: must not be negative, got -1m; 0 notifies a released alert at once, e.g. 2m"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(head+tc.rules), ParseOptions{Getenv: getenv, Known: knownAlerts})
			var ve *ValidationError
			if cfg != nil || !errors.As(err, &ve) {
				t.Fatalf("Parse = %v, %v; want a *ValidationError", cfg, err)
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestInhibitRulesParse: a rule in Alertmanager's shape reads back as
// matchers that select what they say; without the daemon's alert names,
// alert names are not checked (the daemon always gives them).
func TestInhibitRulesParse(t *testing.T) {
	const file = `alerting:
  inhibit_rules:
    - source_matchers: ['alert="check_instance_up"']
      target_matchers: ['alert=~"fps_.*"', severity!=critical]
      equal: [target]
    - source_matchers: [alert=not_checked_here]
      target_matchers: [kind=check]
  inhibit_release: 90s
`
	for _, known := range []Known{knownAlerts, {}} {
		cfg, err := Parse([]byte(file), ParseOptions{Getenv: getenv, Known: known})
		if known.Alerts != nil {
			if err == nil || !strings.Contains(err.Error(), `"not_checked_here" is not a known alert`) {
				t.Errorf("with the daemon's alert names: err %v, want not_checked_here refused", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		a := cfg.Alerting
		if len(a.InhibitRules) != 2 || a.InhibitRelease.String() != "1m30s" {
			t.Fatalf("inhibit_rules %v, inhibit_release %s", a.InhibitRules, a.InhibitRelease)
		}
		r := a.InhibitRules[0]
		if got := r.SourceMatchers.String() + " | " + r.TargetMatchers.String(); got != `alert=check_instance_up | alert=~"fps_.*", severity!=critical` {
			t.Errorf("rule 0 = %s", got)
		}
		if !r.TargetMatchers.Matches(getter{"alert": "fps_low", "severity": "warning"}) || r.TargetMatchers.Matches(getter{"alert": "fps_critical", "severity": "critical"}) {
			t.Error("rule 0's target matchers select the wrong alerts")
		}
		if len(a.InhibitRules[1].Equal) != 0 || a.InhibitRules[1].Equal == nil {
			t.Errorf("rule 1 equal = %#v, want []", a.InhibitRules[1].Equal)
		}
	}
}

type getter map[string]string

func (g getter) Get(name string) string { return g[name] }
