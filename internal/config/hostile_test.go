package config

import (
	"errors"
	"strings"
	"testing"
)

// TestHostileInput: documents built to make a YAML walker loop or explode
// end with a problem, quickly, instead of a hang or a panic.
func TestHostileInput(t *testing.T) {
	// 2000 targets, each an alias of one target listing 1000 known gaps:
	// two million values to visit from a 20 KB file.
	var b strings.Builder
	b.WriteString("defaults:\n  known_gaps: &gaps [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("health")
	}
	b.WriteString("]\ntargets:\n")
	b.WriteString("  - &t {name: a, known_gaps: *gaps}\n")
	for range 2000 {
		b.WriteString("  - *t\n")
	}
	tests := []struct {
		name, doc, want string
	}{
		{"alias fan-out", b.String(), "the document is too large: more than 100000 values, aliases included"},
		{"merge cycle", "targets: [&a {name: x, <<: *a}]", "merge key refers to a mapping that contains it"},
		{"alias cycle", "targets: &a [*a]", "targets[0]: must be a mapping of keys to values, not a list"},
		{"deep nesting", strings.Repeat("[", 5000) + strings.Repeat("]", 5000), "the file must be a mapping"},
		{"deeper nesting", "targets: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "YAML syntax"},
		{"cron that panics robfig/cron", `defaults: {schedule: {cron: "TZ=UTC"}}`, "malformed spec"},
		{"link template that loops", `alerting: {runbook_url: "{{range 1000000000}}{{end}}https://r.example/"}`, "range is not supported"},
		{"link template that recurses", `alerting: {runbook_url: '{{define "a"}}{{template "a"}}{{end}}{{template "a"}}'}`, "define and block are not supported"},
		{"link template that grows", `alerting: {runbook_url: 'https://r.example/{{printf "%0999999d" 0}}'}`, "longer than 2048 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), testOpts(""))
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.want) {
				msg := ""
				if err != nil {
					msg = truncate(err.Error(), 2000)
				}
				t.Errorf("want a problem containing %q, got %T %s", tt.want, err, msg)
			}
		})
	}
}
