package alertmanager

import "github.com/spacetime-vr/spacetime-watch/internal/alert"

// Labels are the labels an alert is known by in Alertmanager: alertname,
// target, severity, and job (Job). The webhook sink's payload, shaped like
// Alertmanager's own, carries the same ones.
func Labels(a alert.Alert) map[string]string {
	labels := map[string]string{"alertname": a.Name, "job": Job}
	put(labels, "target", a.Target)
	put(labels, "severity", string(a.Severity))
	return labels
}

// Annotations are an alert's annotations in Alertmanager: summary,
// description (the reason), observed, expected, hint (likely cause and
// next step), runbook_url,
// dashboard_url and deployment_version, each only when known.
func Annotations(a alert.Alert) map[string]string {
	ann := map[string]string{}
	put(ann, "summary", a.Summary)
	put(ann, "description", a.Reason)
	put(ann, "observed", a.Observed)
	put(ann, "expected", a.Expected)
	put(ann, "hint", a.Hint)
	put(ann, "runbook_url", a.RunbookURL)
	put(ann, "dashboard_url", a.DashboardURL)
	if a.Deployment != nil {
		put(ann, "deployment_version", a.Deployment.Version)
	}
	return ann
}
