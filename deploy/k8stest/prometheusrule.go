package k8stest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// RuleMeta names the PrometheusRule that GeneratePrometheusRule writes.
type RuleMeta struct {
	// Name is metadata.name. Required.
	Name string
	// Namespace is metadata.namespace; an overlay's namespace: replaces it.
	// Default: none (the namespace the manifest is applied to).
	Namespace string
	// Labels are metadata.labels, written sorted by key. Default: none.
	Labels map[string]string
	// Source is the rules file's path as the header comment names it.
	// Required.
	Source string
	// Regenerate is the command the header comment gives for regenerating
	// the file. Required.
	Regenerate string
}

// ParseRuleFile decodes a Prometheus rule file (the format of
// promtool check rules) strictly into the PrometheusRule spec, whose groups
// and rules carry the same field names. A field the Prometheus Operator
// does not know is an error, so a rules file never loses a field on its way
// into the cluster.
func ParseRuleFile(rules []byte) (monitoringv1.PrometheusRuleSpec, error) {
	var spec monitoringv1.PrometheusRuleSpec
	j, err := yaml.YAMLToJSONStrict(rules)
	if err != nil {
		return spec, fmt.Errorf("not valid YAML: %w", err)
	}
	strict, err := kjson.UnmarshalStrict(j, &spec)
	if err != nil {
		return spec, fmt.Errorf("not a Prometheus rule file: %w", err)
	}
	if len(strict) > 0 {
		return spec, fmt.Errorf("not a rule file the Prometheus Operator can hold: %w", errors.Join(strict...))
	}
	if len(spec.Groups) == 0 {
		return spec, fmt.Errorf("no rule groups: a rule file starts with groups:")
	}
	return spec, nil
}

// GeneratePrometheusRule returns a PrometheusRule manifest whose spec is the
// Prometheus rule file rules. The file's text is kept as written, comments
// included, two spaces deeper under spec:, so the generated manifest reads
// like rules.yml and a change to one shows as the same change in the other.
// The result is decoded back and compared with the rules file, so a text
// that would not embed faithfully is an error, never a different rule set.
func GeneratePrometheusRule(rules []byte, m RuleMeta) ([]byte, error) {
	if m.Name == "" || m.Source == "" || m.Regenerate == "" {
		return nil, fmt.Errorf("RuleMeta: Name, Source and Regenerate are required")
	}
	want, err := ParseRuleFile(rules)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Source, err)
	}
	body, err := ruleFileBody(rules)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Source, err)
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "# Code generated from %s; DO NOT EDIT.\n", m.Source)
	fmt.Fprintf(&b, "# Regenerate: %s\n", m.Regenerate)
	b.WriteString("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n")
	fmt.Fprintf(&b, "  name: %s\n", m.Name)
	if m.Namespace != "" {
		fmt.Fprintf(&b, "  namespace: %s\n", m.Namespace)
	}
	if len(m.Labels) > 0 {
		b.WriteString("  labels:\n")
		for _, k := range slices.Sorted(maps.Keys(m.Labels)) {
			fmt.Fprintf(&b, "    %s: %s\n", k, m.Labels[k])
		}
	}
	b.WriteString("spec:\n")
	for line := range strings.Lines(body) {
		if strings.TrimSpace(line) != "" {
			b.WriteString("  ")
		}
		b.WriteString(line)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
		b.WriteByte('\n')
	}

	obj, err := Decode(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: the generated PrometheusRule does not decode: %w", m.Source, err)
	}
	got := obj.Value.(*monitoringv1.PrometheusRule)
	if got.Name != m.Name || got.Namespace != m.Namespace || !reflect.DeepEqual(got.Labels, nilIfEmpty(m.Labels)) {
		return nil, fmt.Errorf("%s: the generated metadata does not decode as given; use plain YAML scalars for names and labels", m.Source)
	}
	if !reflect.DeepEqual(got.Spec, want) {
		return nil, fmt.Errorf("%s: indenting the file under spec: changed its rules; write it in block style, without tabs", m.Source)
	}
	return b.Bytes(), nil
}

// ruleFileBody returns the rule file's text with line endings normalised
// and a leading "---" removed. A second document, a document end marker or
// a directive would not survive being indented under spec:, so each is an
// error.
func ruleFileBody(rules []byte) (string, error) {
	text := strings.ReplaceAll(string(rules), "\r\n", "\n")
	var out strings.Builder
	seenContent := false
	for line := range strings.Lines(text) {
		bare := strings.TrimRight(line, " \t\n")
		switch {
		case strings.HasPrefix(line, "%"):
			return "", fmt.Errorf("YAML directives (%s) are not supported", bare)
		case bare == "---" && !seenContent:
			continue
		case bare == "---" || bare == "...":
			return "", fmt.Errorf("one YAML document expected, found %q after the first", bare)
		}
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			seenContent = true
		}
		out.WriteString(line)
	}
	return out.String(), nil
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
