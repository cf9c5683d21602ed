package alert

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/template"
)

// LinkData is what the runbook and dashboard URL templates see.
type LinkData struct {
	// Target is the target's name, such as main.
	Target string
	// Alert is the alert's name, such as fps_low.
	Alert string
	// Severity is critical, warning or info.
	Severity string
}

// linkSamples are tried when a template is compiled, one per severity
// since a template may branch on it: a template that fails or renders no
// http(s) URL for them is refused at start-up or reload, not at 3 a.m.
var linkSamples = []LinkData{
	{Target: "main", Alert: "fps_low", Severity: string(SeverityWarning)},
	{Target: "main", Alert: "fps_critical", Severity: string(SeverityCritical)},
	{Target: "vr-2", Alert: "deployment_review", Severity: string(SeverityInfo)},
}

// maxLinkBytes bounds a rendered link: a URL, not a document.
const maxLinkBytes = 2048

// links are the compiled runbook and dashboard templates; nil renders "".
type links struct {
	runbook, dashboard *template.Template
}

func compileLinks(runbook, dashboard string) (links, error) {
	var ls links
	var errs []error
	var err error
	if ls.runbook, err = compileLink(runbook); err != nil {
		errs = append(errs, fmt.Errorf("runbook_url: %w", err))
	}
	if ls.dashboard, err = compileLink(dashboard); err != nil {
		errs = append(errs, fmt.Errorf("dashboard_url: %w", err))
	}
	return ls, errors.Join(errs...)
}

// compileLink parses a link template and tries it on the samples.
func compileLink(text string) (*template.Template, error) {
	if text == "" {
		return nil, nil
	}
	t, err := template.New("link").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("not a valid template: %w", err)
	}
	for _, d := range linkSamples {
		out, err := renderLink(t, d)
		if err != nil {
			hint := ""
			if strings.Contains(err.Error(), "can't evaluate field") {
				hint = " (the fields are .Target, .Alert and .Severity)"
			}
			return nil, fmt.Errorf("template fails for target %s, alert %s: %w%s", d.Target, d.Alert, err, hint)
		}
		u, err := url.Parse(out)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("renders %q for target %s, alert %s, which is not an http(s) URL; e.g. https://runbooks.example.com/{{.Alert}}", out, d.Target, d.Alert)
		}
	}
	return t, nil
}

// renderLink executes t, refusing output longer than maxLinkBytes.
func renderLink(t *template.Template, d LinkData) (string, error) {
	if t == nil {
		return "", nil
	}
	var b limitedBuilder
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// render fills the links of one alert. A template that passed the samples
// rarely fails; the link is then left out, which beats no notification.
func (ls links) render(d LinkData) (runbook, dashboard string, err error) {
	r, err1 := renderLink(ls.runbook, d)
	dash, err2 := renderLink(ls.dashboard, d)
	return r, dash, errors.Join(err1, err2)
}

type limitedBuilder struct{ strings.Builder }

func (b *limitedBuilder) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxLinkBytes {
		return 0, fmt.Errorf("the link is longer than %d bytes", maxLinkBytes)
	}
	return b.Builder.Write(p)
}
