package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// ruleFile is the part of Prometheus' rule file format that
// deploy/prometheus/rules.yml uses, decoded strictly: a field this test
// does not know is an error, so that the file stays a plain rule file the
// k8s generator can wrap in a PrometheusRule.
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval"`
	Rules    []rule `yaml:"rules"`
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// ruleTests is the part of promtool's test file format this test reads.
type ruleTests struct {
	Tests []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			Alertname string      `yaml:"alertname"`
			ExpAlerts []yaml.Node `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// repoRoot is the repository's root: tests run in their package's
// directory, internal/e2e.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	return root
}

// decodeYAMLStrict decodes one YAML document into v, unknown fields being
// errors.
func decodeYAMLStrict(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func loadRules(t *testing.T, root string) ruleFile {
	t.Helper()
	var rf ruleFile
	decodeYAMLStrict(t, filepath.Join(root, "deploy", "prometheus", "rules.yml"), &rf)
	if len(rf.Groups) == 0 {
		t.Fatal("rules.yml: no groups")
	}
	return rf
}

// TestPromtool runs promtool over deploy/prometheus: the rules are valid,
// their unit tests (a case just below and just above every alert's
// threshold, the SLIs from raw series) pass, and the example config with
// its rule file is valid.
func TestPromtool(t *testing.T) {
	promtool := testkit.Tool(t, "promtool")
	// Parallel: promtool's unit tests take seconds, which the end-to-end
	// test spends waiting for the demo's story anyway.
	t.Parallel()
	dir := filepath.Join(repoRoot(t), "deploy", "prometheus")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"check rules", []string{"check", "rules", "rules.yml"}},
		{"test rules", []string{"test", "rules", "rules_test.yml"}},
		{"check config", []string{"check", "config", "prometheus.yml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), promtool, tc.args...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			}
			t.Logf("promtool %s:\n%s", strings.Join(tc.args, " "), out)
		})
	}
}

// TestRulesConventions checks what promtool does not: every alert has a
// severity, a summary, a description and a runbook URL whose section exists
// in deploy/prometheus/runbook.md, and at least one promtool case where it
// fires; recording rules follow level:metric:operations.
func TestRulesConventions(t *testing.T) {
	root := repoRoot(t)
	rf := loadRules(t, root)
	runbook, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := markdownAnchors(string(runbook))
	var tests ruleTests
	b, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "rules_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &tests); err != nil {
		t.Fatalf("rules_test.yml: %v", err)
	}
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}

	const runbookURL = "https://github.com/spacetime-vr/spacetime-watch/blob/main/deploy/prometheus/runbook.md#"
	recordName := regexp.MustCompile(`^[a-z]+:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$`)
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			name := r.Alert + r.Record
			if (r.Alert == "") == (r.Record == "") {
				t.Errorf("group %s: a rule must have exactly one of alert and record (%q, %q)", g.Name, r.Alert, r.Record)
				continue
			}
			if seen[name] {
				t.Errorf("%s defined twice", name)
			}
			seen[name] = true
			if r.Record != "" {
				if !recordName.MatchString(r.Record) {
					t.Errorf("record %s: want level:metric:operations", r.Record)
				}
				if len(r.Labels)+len(r.Annotations) > 0 || r.For != "" {
					t.Errorf("record %s: labels, annotations or for on a recording rule", r.Record)
				}
				continue
			}
			sev := r.Labels["severity"]
			if !slices.Contains([]string{"critical", "warning", "info", "{{ $labels.severity }}"}, sev) {
				t.Errorf("alert %s: severity %q, want critical, warning or info", r.Alert, sev)
			}
			for _, k := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[k]) == "" {
					t.Errorf("alert %s: no %s annotation", r.Alert, k)
				}
			}
			if u := r.Annotations["runbook_url"]; !strings.HasPrefix(u, runbookURL) || !anchors[strings.TrimPrefix(u, runbookURL)] {
				t.Errorf("alert %s: runbook_url %q is not a section of deploy/prometheus/runbook.md", r.Alert, u)
			}
			if !fires[r.Alert] {
				t.Errorf("alert %s: rules_test.yml has no case where it fires", r.Alert)
			}
		}
	}
	for _, want := range []string{
		"SpacetimeAlertFiring", "SpacetimeCheckFailing", "SpacetimeReviewFailed",
		"SpacetimeTokenExpiringSoon", "SpacetimeTokenExpired",
		"SpacetimeWatchDown", "SpacetimeWatchAbsent", "SpacetimeWatchNotificationsFailing",
		"SpacetimeWatchConfigReloadFailed", "SpacetimeWatchStateErrors", "SpacetimeWatchOutboxBacklog",
		"SpacetimeAvailabilityBudgetBurnFast", "SpacetimeAvailabilityBudgetBurnSlow",
		"SpacetimeSmoothnessBudgetBurnFast", "SpacetimeSmoothnessBudgetBurnSlow", "SpacetimeCheckDegraded",
	} {
		if !seen[want] {
			t.Errorf("alert %s missing from rules.yml", want)
		}
	}
}

// markdownAnchors returns the anchors GitHub gives the headings of a
// Markdown document: lower case, punctuation dropped, spaces to hyphens.
func markdownAnchors(doc string) map[string]bool {
	anchors := map[string]bool{}
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(line, "#"))
		h = drop.ReplaceAllString(strings.ToLower(h), "")
		anchors[strings.ReplaceAll(h, " ", "-")] = true
	}
	return anchors
}

func TestMarkdownAnchors(t *testing.T) {
	got := markdownAnchors("# Title\n## SpacetimeWatchDown\ntext # not a heading\n### Paging paths: who pages?\n")
	for _, want := range []string{"title", "spacetimewatchdown", "paging-paths-who-pages"} {
		if !got[want] {
			t.Errorf("anchor %q missing from %v", want, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("got %d anchors, want 3: %v", len(got), got)
	}
}
