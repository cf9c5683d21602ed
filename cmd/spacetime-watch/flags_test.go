package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestHelp: --help on every command exits 0, gives an example, and
// states each flag's default: kingpin shows it as --flag=value; a flag
// without one (a placeholder such as --token-file=TOKEN-FILE) says in its
// text what happens when it is not given ("default: ...", "required").
func TestHelp(t *testing.T) {
	t.Parallel()
	commands := [][]string{
		{}, {"run"}, {"verify"}, {"check-config"}, {"deployment"},
		{"deployment", "start"}, {"deployment", "list"}, {"silence", "add"}, {"silence", "list"}, {"silence", "expire"},
		{"demo"}, {"version"},
	}
	for _, cmd := range commands {
		name := strings.Join(cmd, " ")
		if name == "" {
			name = "root"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := invoke(context.Background(), append(cmd, "--help")...)
			if r.code != 0 {
				t.Fatalf("--help: %s", r)
			}
			if !strings.Contains(r.stdout, "Example") {
				t.Errorf("--help gives no example:\n%s", r.stdout)
			}
			flags := helpFlags(r.stdout)
			if len(flags) == 0 {
				t.Fatalf("no flags found in:\n%s", r.stdout)
			}
			for _, f := range flags {
				if !f.statesDefault() {
					t.Errorf("--%s: neither a default value nor a word on what happens without it: %q", f.name, f.line)
				}
			}
		})
	}

	// kingpin's help command ends the same way. (--help-long and
	// --help-man exit 0 too, but kingpin writes them to os.Stdout.)
	if r := invoke(context.Background(), "help", "verify"); r.code != 0 || !strings.Contains(r.stdout, "usage: spacetime-watch verify") {
		t.Errorf("help verify: %s", r)
	}

	// Spot checks of defaults the issue fixes.
	for _, tc := range []struct {
		cmd  []string
		want []string
	}{
		{[]string{"run"}, []string{`--config.file="/etc/spacetime-watch/config.yaml"`, `--state.dir="/var/lib/spacetime-watch"`, `--web.listen-address=:9850`, "--web.config.file=", "--log.level=info", "--log.format=json"}},
		{[]string{"verify"}, []string{"--threshold-window=15s", "--output=table", `--api-url="http://127.0.0.1:8080"`, "--telemetry-url=ws://127.0.0.1:8081/", `--expected-environment="production"`, `--expected-scene="res://vr_main.tscn"`}},
		{[]string{"deployment", "list"}, []string{`--daemon.url="http://127.0.0.1:9850"`}},
		{[]string{"demo"}, []string{"--duration=0s"}},
	} {
		r := invoke(context.Background(), append(tc.cmd, "--help")...)
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%s --help lacks %s", strings.Join(tc.cmd, " "), w)
			}
		}
	}
}

// helpFlag is one flag as the usage text shows it.
type helpFlag struct {
	name, value string
	bool        bool
	line        string // the flag's whole entry, help text included
}

// flagLine is a flag's first line: two spaces, then "-h, " or four more
// spaces, then the flag. (Wrapped help text is indented deeper.)
var flagLine = regexp.MustCompile(`^  (?:-\w, |    )--(\[no-\])?([\w.-]+)(?:=(\S+))?`)

// helpFlags parses the Flags: section of kingpin's usage text.
func helpFlags(usage string) []helpFlag {
	var out []helpFlag
	in := false
	for _, line := range strings.Split(usage, "\n") {
		switch {
		case strings.HasPrefix(line, "Flags:"):
			in = true
			continue
		case !in:
			continue
		case line != "" && !strings.HasPrefix(line, " "):
			in = false // the next section (Commands:, Subcommands:, Args:)
			continue
		}
		if m := flagLine.FindStringSubmatch(line); m != nil {
			out = append(out, helpFlag{name: m[2], bool: m[1] != "", value: m[3], line: strings.TrimSpace(line)})
		} else if len(out) > 0 {
			out[len(out)-1].line += " " + strings.TrimSpace(line)
		}
	}
	return out
}

func (f helpFlag) statesDefault() bool {
	if f.bool {
		return true // kingpin's booleans are off unless given
	}
	if f.value != "" && f.value != strings.ToUpper(f.name) {
		return true
	}
	text := strings.ToLower(f.line)
	return strings.Contains(text, "default") || strings.Contains(text, "required")
}

// TestBadFlags: kingpin's own parse errors exit 3 and name the problem.
func TestBadFlags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--bogus"}, "--bogus"},
		{"unknown command", []string{"frobnicate"}, "frobnicate"},
		{"bad log level", []string{"--log.level=verbose", "version"}, "verbose"},
		{"bad log format", []string{"--log.format=xml", "version"}, "xml"},
		{"bad duration", []string{"verify", "--threshold-window=soon"}, "soon"},
		{"bad output", []string{"verify", "--output=yaml"}, "yaml"},
		{"missing required target", []string{"deployment", "start", "--version=1.2.4"}, "--target"},
		{"missing required version", []string{"deployment", "start", "--target=main"}, "--version"},
		{"bad started-at", []string{"deployment", "start", "--target=main", "--version=1", "--started-at=yesterday"}, "RFC 3339"},
		{"bad starts-at", []string{"silence", "add", "alert=fps_low", "--for=1h", "--comment=x", "--starts-at=tomorrow"}, "--starts-at"},
		{"missing required for", []string{"silence", "add", "alert=fps_low", "--comment=x"}, "--for"},
		{"unexpected argument", []string{"check-config", "extra.yaml"}, "extra.yaml"},
		{"bad daemon url", []string{"deployment", "list", "--daemon.url=127.0.0.1:9850"}, "--daemon.url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := invoke(context.Background(), tc.args...)
			if r.code != 3 {
				t.Fatalf("%v: want exit 3\n%s", tc.args, r)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%v: stderr does not name %q\n%s", tc.args, tc.want, r)
			}
		})
	}
}

// TestVersion: --version at the top level and the version command print
// the same Prometheus-format report.
func TestVersion(t *testing.T) {
	t.Parallel()
	flag := invoke(context.Background(), "--version")
	cmd := invoke(context.Background(), "version")
	if flag.code != 0 || cmd.code != 0 || flag.stderr != "" {
		t.Fatalf("--version: %s\nversion: %s", flag, cmd)
	}
	if flag.stdout != cmd.stdout {
		t.Errorf("--version and version differ:\n%s\n%s", flag.stdout, cmd.stdout)
	}
	lines := strings.Split(strings.TrimSpace(flag.stdout), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "spacetime-watch, version ") || !strings.Contains(lines[0], "(branch: ") ||
		!strings.HasPrefix(lines[3], "  go version:") || !strings.HasPrefix(lines[4], "  platform:") {
		t.Errorf("--version is not in the Prometheus format:\n%s", flag.stdout)
	}
	// deployment start keeps its own --version, the version being deployed.
	if r := invoke(context.Background(), "deployment", "start", "--target=main", "--help"); r.code != 0 || !strings.Contains(r.stdout, "--version=VERSION") {
		t.Errorf("deployment start --help: %s", r)
	}
}
