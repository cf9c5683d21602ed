package labels

import (
	"encoding/json"
	"testing"
)

func TestParseMatcher(t *testing.T) {
	good := []struct {
		in         string
		name       string
		typ        MatchType
		value, out string // out: String()
	}{
		{"alert=fps_low", Alert, MatchEqual, "fps_low", "alert=fps_low"},
		{`alert=~"fps_.*"`, Alert, MatchRegexp, "fps_.*", `alert=~"fps_.*"`},
		{"alert=~fps_.*", Alert, MatchRegexp, "fps_.*", `alert=~"fps_.*"`}, // the shell ate the quotes
		{"target!=canary", Target, MatchNotEqual, "canary", "target!=canary"},
		{`severity!~"info|warning"`, Severity, MatchNotRegexp, "info|warning", `severity!~"info|warning"`},
		{"severity=warning", Severity, MatchEqual, "warning", "severity=warning"},
		{` target = "main" `, Target, MatchEqual, "main", "target=main"},
		{"target=vr-2.eu:1", Target, MatchEqual, "vr-2.eu:1", "target=vr-2.eu:1"},
		{`target="a \"quoted\" name"`, Target, MatchEqual, `a "quoted" name`, `target="a \"quoted\" name"`},
		{`alert=""`, Alert, MatchEqual, "", `alert=""`},
	}
	for _, tc := range good {
		m, err := ParseMatcher(tc.in)
		if err != nil {
			t.Errorf("ParseMatcher(%s): %v", tc.in, err)
			continue
		}
		if m.Name != tc.name || m.Type != tc.typ || m.Value != tc.value || m.String() != tc.out {
			t.Errorf("ParseMatcher(%s) = %s %s %q (%s), want %s %s %q (%s)", tc.in, m.Name, m.Type, m.Value, m, tc.name, tc.typ, tc.value, tc.out)
		}
		// String is what ParseMatcher reads, and the JSON form.
		back, err := ParseMatcher(m.String())
		if err != nil || back.Name != m.Name || back.Type != m.Type || back.Value != m.Value {
			t.Errorf("ParseMatcher(%s) = %+v, %v; want it back", m, back, err)
		}
		var fromJSON Matchers
		b, _ := json.Marshal(Matchers{m})
		if err := json.Unmarshal(b, &fromJSON); err != nil || len(fromJSON) != 1 || fromJSON[0].String() != m.String() {
			t.Errorf("JSON %s read back as %v, %v", b, fromJSON, err)
		}
	}

	bad := []struct{ in, err string }{
		{"", `matcher "": empty; want name=value, name!=value, name=~regex or name!~regex`},
		{"fps_low", "matcher `fps_low`: no operator; want name=value, name!=value, name=~regex or name!~regex"},
		{"=fps_low", "matcher `=fps_low`: no label name before \"=fps_low\"; matchers take alert, severity, target, kind, cause or source"},
		{"alertname=fps_low", "matcher `alertname=fps_low`: unknown label \"alertname\": matchers take alert, severity, target, kind, cause or source"},
		{"alert~fps", "matcher `alert~fps`: no operator after \"alert\"; want =, !=, =~ or !~"},
		{"alert==fps_low", "matcher `alert==fps_low`: unquoted value \"=fps_low\" starts with '=': the operators are =, !=, =~ and !~; quote a value that starts so"},
		{`alert=~"fps_(.*"`, "matcher `alert=~\"fps_(.*\"`: bad regex \"fps_(.*\": missing closing ): `fps_(.*`"},
		{`alert=~\Qfps`, "matcher `alert=~\\Qfps`: bad regex \"\\\\Qfps\": it cannot be anchored; close \\Q with \\E"},
		{`alert="fps_low`, "matcher `alert=\"fps_low`: value \"fps_low: the quote is not closed, or an escape is invalid"},
		{`alert="fps" x`, "matcher `alert=\"fps\" x`: \" x\" after the quoted value \"fps\""},
		{"alert=fps_low,target=main", "matcher `alert=fps_low,target=main`: unquoted value \"fps_low,target=main\" holds ',': give one matcher per argument, and quote a value that holds , \" { or }"},
		{`{alert="x"}`, "matcher `{alert=\"x\"}`: the {...} form is not read; give one matcher per argument, e.g. alert=fps_low target=main"},
		{"al\nert=x", `matcher "al\nert=x": no operator after "al"; want =, !=, =~ or !~`},
	}
	for _, tc := range bad {
		m, err := ParseMatcher(tc.in)
		if err == nil || err.Error() != tc.err {
			t.Errorf("ParseMatcher(%q) = %v, %v\n want error %s", tc.in, m, err, tc.err)
		}
	}
}

func TestMatcherMatches(t *testing.T) {
	main := set{Target: "main", Alert: "fps_low", Severity: "warning"}
	cases := []struct {
		matchers []string
		labels   set
		want     bool
	}{
		{[]string{"alert=fps_low"}, main, true},
		{[]string{"alert=fps_lo"}, main, false},
		{[]string{"alert!=fps_low"}, main, false},
		{[]string{"alert!=memory_high"}, main, true},
		{[]string{`alert=~"fps_.*"`}, main, true},
		{[]string{`alert=~"fps"`}, main, false},        // anchored at the end
		{[]string{`alert=~"ps_low"`}, main, false},     // and at the start
		{[]string{`alert=~"low|fps_low"`}, main, true}, // alternation inside the anchors
		{[]string{`alert=~"FPS_.*"`}, main, false},
		{[]string{`alert=~"(?i)FPS_.*"`}, main, true},
		{[]string{`alert!~"fps_.*"`}, main, false},
		{[]string{`alert!~"memory_.*"`}, main, true},
		{[]string{"severity=warning"}, main, true},
		{[]string{"severity=critical"}, main, false},
		{[]string{`target=~"vr-[0-9]+"`}, set{Target: "vr-12", Alert: "fps_low", Severity: "info"}, true},
		{[]string{`target=~"vr-[0-9]+"`}, set{Target: "vr-x", Alert: "fps_low", Severity: "info"}, false},
		{[]string{`alert=~"fps_.*"`, "target!=canary"}, main, true},
		{[]string{`alert=~"fps_.*"`, "target!=canary"}, set{Target: "canary", Alert: "fps_low", Severity: "warning"}, false},
		{[]string{`alert=~"fps_.*"`, "target!=canary"}, set{Target: "main", Alert: "memory_high", Severity: "warning"}, false},
		{nil, main, false}, // no matcher selects nothing
	}
	for _, tc := range cases {
		var ms Matchers
		for _, s := range tc.matchers {
			m, err := ParseMatcher(s)
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		if got := ms.Matches(tc.labels); got != tc.want {
			t.Errorf("[%s] matches %+v = %v, want %v", ms, tc.labels, got, tc.want)
		}
	}
}

// set is an alert's labels as a map.
type set map[string]string

func (s set) Get(name string) string { return s[name] }
