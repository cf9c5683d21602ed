package alert

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestLinkTemplatesRender(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testSettings()
		s.RunbookURL = "https://runbooks.example.com/spacetime/{{.Alert}}{{if eq .Severity \"critical\"}}#page{{end}}"
		s.DashboardURL = "http://grafana.example.com/d/spacetime-watch?var-target={{urlquery .Target}}"
		h := startHarness(t, "", s, nil, nil)
		h.handle(fire("vr 2", "fps_low", SeverityCritical))
		sleep(time.Minute)
		a := h.rec.last(t).msg.Alerts[0]
		if want := "https://runbooks.example.com/spacetime/fps_low#page"; a.RunbookURL != want {
			t.Errorf("runbook = %q, want %q", a.RunbookURL, want)
		}
		if want := "http://grafana.example.com/d/spacetime-watch?var-target=vr+2"; a.DashboardURL != want {
			t.Errorf("dashboard = %q, want %q", a.DashboardURL, want)
		}

		// A reload changes the links of tracked alerts too.
		s.RunbookURL = "https://wiki.example.com/{{.Target}}/{{.Alert}}"
		if err := h.m.UpdateSettings(s); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if a, _ := alertNamed(h.m, "vr 2", "fps_low"); a.RunbookURL != "https://wiki.example.com/vr 2/fps_low" {
			t.Errorf("after reload, runbook = %q", a.RunbookURL)
		}
	})
}

func TestLinkTemplatesRefused(t *testing.T) {
	cases := []struct {
		name, runbook, want string
	}{
		{"parse error", "https://x.example/{{.Alert", "runbook_url: not a valid template: template: link:1: unclosed action"},
		{"unknown field", "https://x.example/{{.Rule}}", "runbook_url: template fails for target main, alert fps_low: template: link:1:20: executing \"link\" at <.Rule>: can't evaluate field Rule in type alert.LinkData (the fields are .Target, .Alert and .Severity)"},
		{"not a URL", "{{.Alert}}", "runbook_url: renders \"fps_low\" for target main, alert fps_low, which is not an http(s) URL; e.g. https://runbooks.example.com/{{.Alert}}"},
		{"too long", "https://x.example/{{.Alert}}" + strings.Repeat("a", 3000), "runbook_url: template fails for target main, alert fps_low: the link is longer than 2048 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			s.RunbookURL = tc.runbook
			_, err := NewManager(ManagerOptions{Out: &recorder{}, Settings: s})
			if want := "alert: alert settings: " + tc.want; err == nil || err.Error() != want {
				t.Errorf("NewManager error:\n got %v\nwant %s", err, want)
			}
		})
	}
}
