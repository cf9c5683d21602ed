package k8stest

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
)

// The one source of the rules and the manifest generated from it.
const (
	rulesFile    = "../prometheus/rules.yml"
	ruleManifest = "../k8s/prometheusrule/prometheusrule.yaml"
)

// ruleMeta names the committed PrometheusRule. Its namespace is the
// sidecar's; the central overlay's namespace: replaces it.
var ruleMeta = RuleMeta{
	Name:       "spacetime-watch",
	Namespace:  "spacetime",
	Labels:     map[string]string{"app.kubernetes.io/name": "spacetime-watch"},
	Source:     "deploy/prometheus/rules.yml",
	Regenerate: "cd deploy/k8stest && go test -run TestPrometheusRuleUpToDate -update",
}

// TestPrometheusRuleUpToDate regenerates the PrometheusRule from
// deploy/prometheus/rules.yml and compares it with the committed one; with
// -update it rewrites the committed one.
func TestPrometheusRuleUpToDate(t *testing.T) {
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatalf("the PrometheusRule is generated from %s: %v", rulesFile, err)
	}
	want, err := GeneratePrometheusRule(rules, ruleMeta)
	if err != nil {
		t.Fatal(err)
	}
	compareGolden(t, ruleManifest, want)
}

// TestRenderedPrometheusRuleMatchesRules checks that each overlay ships the
// rules of deploy/prometheus/rules.yml, whatever kustomize did to the text.
func TestRenderedPrometheusRuleMatchesRules(t *testing.T) {
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ParseRuleFile(rules)
	if err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	for _, name := range []string{"example", "central"} {
		t.Run(name, func(t *testing.T) {
			objs := overlay(t, name)
			pr := only[*monitoringv1.PrometheusRule](t, objs)
			if !reflect.DeepEqual(pr.Spec, want) {
				t.Errorf("the rendered PrometheusRule's spec differs from %s; regenerate with: %s", rulesFile, ruleMeta.Regenerate)
			}
			// The operator loads rules from the namespace they are in;
			// they belong next to what they watch.
			dep := only[*appsv1.Deployment](t, objs)
			if pr.Namespace != dep.Namespace {
				t.Errorf("PrometheusRule in %q, daemon in %q", pr.Namespace, dep.Namespace)
			}
		})
	}
}

func TestGeneratePrometheusRule(t *testing.T) {
	rules, err := os.ReadFile("testdata/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	meta := ruleMeta
	meta.Source = "testdata/rules.yml"
	got, err := GeneratePrometheusRule(rules, meta)
	if err != nil {
		t.Fatal(err)
	}
	compareGolden(t, "testdata/prometheusrule.golden.yaml", got)

	obj, err := Decode(got)
	if err != nil {
		t.Fatal(err)
	}
	pr := obj.Value.(*monitoringv1.PrometheusRule)
	if len(pr.Spec.Groups) != 1 || len(pr.Spec.Groups[0].Rules) != 2 {
		t.Fatalf("groups = %+v, want one group of two rules", pr.Spec.Groups)
	}
	alert := pr.Spec.Groups[0].Rules[1]
	wantExpr := "absent(up{job=\"spacetime-watch\"})\n  or up{job=\"spacetime-watch\"} == 0\n"
	if alert.Alert != "SpacetimeWatchDown" || alert.Expr.String() != wantExpr || alert.For == nil || *alert.For != "5m" {
		t.Errorf("alert = %+v (expr %q), want SpacetimeWatchDown, the block scalar kept, for 5m", alert, alert.Expr.String())
	}
	if got := alert.Annotations["description"]; !strings.HasPrefix(got, "Prometheus has not scraped") || strings.Contains(got, "\n") {
		t.Errorf("folded description = %q, want one line", got)
	}
	// Comments survive: the manifest reads like the rules file.
	if !bytes.Contains(got, []byte("\n        # A recording rule.\n")) {
		t.Errorf("the rules file's comments were not kept under spec:\n%s", got)
	}
}

func TestGeneratePrometheusRuleRefuses(t *testing.T) {
	tests := []struct {
		name    string
		rules   string
		wantErr string
	}{
		{"a field the operator does not know", "groups:\n  - name: a\n    rules:\n      - alert: A\n        expresion: up == 0\n", `unknown field "groups[0].rules[0].expresion"`},
		{"a field in the wrong case", "groups:\n  - name: a\n    rules:\n      - alert: A\n        Expr: up == 0\n", `unknown field "groups[0].rules[0].Expr"`},
		{"a duplicate key", "groups:\n  - name: a\n    name: b\n    rules: []\n", `key "name" already set`},
		{"no groups", "groups: []\n", "no rule groups"},
		{"not YAML", "groups: [\n", "not valid YAML"},
		{"two documents", "groups:\n  - name: a\n    rules: []\n---\ngroups: []\n", "one YAML document expected"},
		{"a directive", "%YAML 1.1\n---\ngroups:\n  - name: a\n    rules: []\n", "directives"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := GeneratePrometheusRule([]byte(tt.rules), ruleMeta)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// compareGolden compares got with the file at path, or rewrites the file
// with -update.
func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date (%s); regenerate it with -update. First difference:\n%s", path, ruleMeta.Source, firstDiff(want, got))
	}
}

// firstDiff shows the first line where two texts differ.
func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  committed: %s\n  generated: %s", i+1, wl, gl)
		}
	}
	return "(none)"
}
