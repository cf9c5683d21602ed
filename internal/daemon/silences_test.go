package daemon

import (
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/labels"
)

// Matchers are checked against the names the daemon knows: a typo gets
// the closest name, --force lets an unknown target or alert through, and
// never a severity that does not exist.
func TestSilenceNamesCheck(t *testing.T) {
	known := silenceNames{
		alert.LabelTarget:   {"main", "spacetime-watch", "vr-2"},
		alert.LabelAlert:    {"NotificationsFailing", "check_health", "fps_critical", "fps_low", "memory_high"},
		alert.LabelSeverity: {"critical", "warning", "info"},
	}
	const alerts = "alerts: NotificationsFailing, check_health, fps_critical, fps_low, memory_high"
	cases := []struct {
		matchers []string
		force    bool
		want     string // "" when accepted
	}{
		{[]string{"target=main", "alert=fps_low", "severity=warning"}, false, ""},
		{[]string{"target!=vr-2", `alert=~"fps_.*"`, `severity!~"info"`}, false, ""},
		{[]string{"target=mian"}, false, "silence: matcher `target=mian`: \"mian\" is not a configured target (did you mean main?); targets: main, spacetime-watch, vr-2; add --force to keep it"},
		{[]string{"target=mian"}, true, ""},
		{[]string{"target!=canary"}, false, "silence: matcher `target!=canary`: \"canary\" is not a configured target; targets: main, spacetime-watch, vr-2; add --force to keep it"},
		{[]string{"alert=fps_lwo"}, false, "silence: matcher `alert=fps_lwo`: \"fps_lwo\" is not a known alert (did you mean fps_low?); " + alerts + "; add --force to keep it"},
		{[]string{"alert=fps_lwo"}, true, ""},
		{[]string{`alert=~"fsp_.*"`}, false, "silence: matcher `alert=~\"fsp_.*\"`: the regex matches no known alert; " + alerts + "; add --force to keep it"},
		{[]string{`alert=~"fsp_.*"`}, true, ""},
		{[]string{`alert!~"fsp_.*"`}, false, "silence: matcher `alert!~\"fsp_.*\"`: the regex matches no known alert; " + alerts + "; add --force to keep it"},
		{[]string{"severity=warnign"}, true, "silence: matcher `severity=warnign`: \"warnign\" is not a severity (did you mean warning?); severities: critical, warning, info"},
		{[]string{`severity=~"crit"`}, true, "silence: matcher `severity=~crit`: the regex matches no severity; severities: critical, warning, info"},
		{[]string{"target=mian", "alert=fps_lwo"}, false, "silence: matcher `target=mian`: \"mian\" is not a configured target (did you mean main?); targets: main, spacetime-watch, vr-2; add --force to keep it\n" +
			"matcher `alert=fps_lwo`: \"fps_lwo\" is not a known alert (did you mean fps_low?); " + alerts + "; add --force to keep it"},
	}
	for _, tc := range cases {
		var ms labels.Matchers
		for _, s := range tc.matchers {
			m, err := labels.ParseMatcher(s)
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		err := known.check(ms, tc.force)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("check(%s, force %v):\n got %s\nwant %s", ms, tc.force, got, tc.want)
		}
	}
}
