package config

import (
	"strings"
	"testing"
)

func TestRenderLink(t *testing.T) {
	d := LinkData{Target: "vr-2", Alert: "fps_low", Severity: "critical"}
	tests := []struct {
		name, tmpl, want, wantErr string
	}{
		{name: "empty is no link", tmpl: "", want: ""},
		{name: "fields", tmpl: "https://r.example/{{.Target}}/{{.Alert}}?s={{.Severity}}", want: "https://r.example/vr-2/fps_low?s=critical"},
		{name: "urlquery", tmpl: `https://r.example/?q={{printf "%s %s" .Target .Alert | urlquery}}`, want: "https://r.example/?q=vr-2+fps_low"},
		{name: "if on severity", tmpl: `https://r.example/{{if eq .Severity "critical"}}page{{else}}ticket{{end}}`, want: "https://r.example/page"},
		{name: "with and variables", tmpl: "https://r.example/{{with $a := .Alert}}{{$a}}-{{$.Target}}{{end}}", want: "https://r.example/fps_low-vr-2"},
		{name: "parse error", tmpl: "https://r.example/{{.Alert", wantErr: "unclosed action"},
		{name: "unknown field in an untaken branch", tmpl: `{{if false}}{{.Instance}}{{end}}`, wantErr: ".Instance is not a field; the fields are .Target, .Alert and .Severity"},
		{name: "unknown field through $", tmpl: `{{$.Alret}}`, wantErr: ".Alret is not a field (did you mean .Alert?)"},
		{name: "field of a string", tmpl: `{{.Target.Host}}`, wantErr: ".Target.Host: .Target is a string, which has no fields"},
		{name: "field of a variable", tmpl: `{{$t := .Target}}{{$t.Host}}`, wantErr: "the fields are strings, which have no fields"},
		{name: "field of a chain", tmpl: `{{(.Target).Host}}`, wantErr: "the fields are strings, which have no fields"},
		{name: "range refused", tmpl: `{{range 1000000000}}{{end}}`, wantErr: "range is not supported"},
		{name: "template refused", tmpl: `{{template "x"}}`, wantErr: "template is not supported"},
		{name: "define refused", tmpl: `{{define "x"}}a{{end}}https://r.example/`, wantErr: "define and block are not supported"},
		{name: "block refused", tmpl: `{{block "x" .}}a{{end}}`, wantErr: "define and block are not supported"},
		{name: "output bounded", tmpl: `{{printf "%0999999d" 1}}`, wantErr: "the link is longer than 2048 bytes"},
		{name: "function fails", tmpl: `{{slice .Target 9}}`, wantErr: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderLink(tt.tmpl, d)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("RenderLink(%q) = %q, %v; want an error containing %q", tt.tmpl, got, err, tt.wantErr)
				}
				if strings.HasPrefix(err.Error(), "template:") {
					t.Errorf("error keeps text/template's prefix: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("RenderLink(%q) = %q, %v; want %q", tt.tmpl, got, err, tt.want)
			}
		})
	}
}

// TestCheckLinkTemplate: Load accepts a template only when every sample
// alert renders an http(s) URL.
func TestCheckLinkTemplate(t *testing.T) {
	tests := []struct{ name, tmpl, wantErr string }{
		{name: "empty", tmpl: ""},
		{name: "url", tmpl: "https://runbooks.example.com/spacetime/{{.Alert}}"},
		{name: "not a url for one severity", tmpl: `{{if eq .Severity "info"}}none{{else}}https://r.example/{{end}}`,
			wantErr: `renders "none" for target vr-2, alert deployment_review, severity info, which is not an http(s) URL`},
		{name: "relative", tmpl: "/runbooks/{{.Alert}}", wantErr: "which is not an http(s) URL"},
		{name: "fails for one sample", tmpl: `https://r.example/{{slice .Severity 6}}`, wantErr: "template fails for target vr-2, alert deployment_review, severity info"},
		{name: "bad template", tmpl: "{{.Nope}}", wantErr: "not a valid template: .Nope is not a field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkLinkTemplate(tt.tmpl)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
