package config

import (
	"errors"
	"strings"
	"testing"
)

func TestTargetFilesReplaceTheImplicitLocalTarget(t *testing.T) {
	cfg, err := Parse([]byte("target_files:\n  - targets/*.yaml\n  - ${CREDENTIALS_DIRECTORY}/more.json\n"), testOpts("c.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Targets) != 0 {
		t.Errorf("targets = %v, want none: with target_files the local default does not apply", cfg.Targets)
	}
	want := []string{"/etc/spacetime-watch/targets/*.yaml", "/run/credentials/spacetime-watch.service/more.json"}
	if strings.Join(cfg.TargetFiles, " ") != strings.Join(want, " ") {
		t.Errorf("target_files = %q, want %q (relative to the config's folder, variables expanded)", cfg.TargetFiles, want)
	}
	out, err := cfg.Effective()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out, testOpts("effective.yaml"))
	if err != nil {
		t.Fatalf("the effective config does not parse back: %v\n%s", err, out)
	}
	if strings.Join(back.TargetFiles, " ") != strings.Join(want, " ") {
		t.Errorf("target_files after a round trip = %q", back.TargetFiles)
	}
}

func TestTargetFilesBadPattern(t *testing.T) {
	_, err := Parse([]byte("target_files:\n  - /etc/t/[a-.yaml\n"), testOpts("c.yaml"))
	if err == nil || !strings.Contains(err.Error(), "line 2: target_files[0]: ") || !strings.Contains(err.Error(), "not a valid glob pattern") {
		t.Errorf("err = %v, want line 2, target_files[0] and the glob's problem", err)
	}
	_, err = Parse([]byte("target_files: /etc/t/*.yaml\n"), testOpts("c.yaml"))
	if err == nil || !strings.Contains(err.Error(), "target_files: must be a list") {
		t.Errorf("err = %v, want a list asked for", err)
	}
}

func TestParseTargetFile(t *testing.T) {
	defaults := defaultSettings()
	defaults.Schedule.Interval = 7e10
	yamlFile := `
- name: a
  api_url: http://10.0.0.1:8080
  telemetry_urls: [ws://10.0.0.1:8081/]
- name: b
  api_url: http://10.0.0.2:8080
  telemetry_urls: []
  schedule: {interval: 1m}
`
	jsonFile := `[{"name": "a", "api_url": "http://10.0.0.1:8080", "telemetry_urls": []},
 {"name": "b", "api_url": "http://10.0.0.2:8080", "telemetry_urls": [], "schedule": {"interval": "1m"}}]`
	for name, data := range map[string]string{"yaml": yamlFile, "json": jsonFile} {
		t.Run(name, func(t *testing.T) {
			f, err := ParseTargetFile([]byte(data), "t."+name, defaults, testOpts("t."+name))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Targets) != 2 || f.Targets[0].Name != "a" || f.Targets[1].Name != "b" {
				t.Fatalf("targets = %+v", f.Targets)
			}
			if f.Targets[0].Schedule.Interval != 7e10 || f.Targets[1].Schedule.Interval != 6e10 {
				t.Errorf("intervals = %v, %v: want the defaults section's, then the target's own", f.Targets[0].Schedule.Interval, f.Targets[1].Schedule.Interval)
			}
			if !f.Targets[0].TokenFromStatus {
				t.Error("token_from_status should default to true as under targets")
			}
		})
	}
	f, err := ParseTargetFile([]byte(yamlFile), "t.yaml", defaults, testOpts("t.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Place(1); got != "t.yaml:5" {
		t.Errorf("Place(1) = %q, want t.yaml:5", got)
	}
	empty, err := ParseTargetFile(nil, "e.yaml", defaults, testOpts("e.yaml"))
	if err != nil || len(empty.Targets) != 0 {
		t.Errorf("an empty file: %v, %v; want no targets and no error", empty, err)
	}
}

func TestParseTargetFileErrors(t *testing.T) {
	cases := []struct {
		name, data string
		want       []string
	}{
		{"unknown key", "- name: a\n  api_url: http://h:1\n  apiurl: x\n",
			[]string{"target file t.yaml: line 3: [0].apiurl: unknown field (did you mean api_url?)"}},
		{"missing api_url", "- name: a\n", []string{"line 1: [0].api_url: required"}},
		{"duplicate name", "- name: a\n  api_url: http://h:1\n- name: a\n  api_url: http://h:2\n",
			[]string{`line 3: [1].name: "a" is already used by [0]`}},
		{"bad value", "- name: a\n  api_url: http://h:1\n  thresholds: {fps: {min: fast}}\n",
			[]string{"line 3: [0].thresholds.fps.min:"}},
		{"not a list", "targets: []\n", []string{"line 1: a target file is a list of targets"}},
		{"syntax", "- name: a\n  api_url: [\n", []string{"target file t.yaml: line ", "YAML syntax"}},
		{"secret in a path", "- name: a\n  api_url: http://h:1\n  token_file: " + sentinelBotToken + "\n",
			[]string{"[0].token_file: holds a secret value"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTargetFile([]byte(c.data), "t.yaml", defaultSettings(), testOpts("t.yaml"))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), sentinelBotToken) {
				t.Errorf("the error repeats the secret: %v", err)
			}
		})
	}
}
