package config

import (
	"fmt"
	"testing"
)

func TestExpandPath(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"CREDENTIALS_DIRECTORY": "/run/credentials/sw.service", "A": "a", "EMPTY": ""}[k]
	}
	noCreds := func(k string) string { return map[string]string{"A": "a"}[k] }
	tests := []struct {
		name, in, base, want, wantErr string
		env                           func(string) string // default env
	}{
		{name: "braces", in: "${CREDENTIALS_DIRECTORY}/api-token", want: "/run/credentials/sw.service/api-token"},
		{name: "bare name", in: "$CREDENTIALS_DIRECTORY/api-token", want: "/run/credentials/sw.service/api-token"},
		{name: "name ends at a non-name byte", in: "/x/$A-b", want: "/x/a-b"},
		{name: "literal dollar", in: "/x/$$A", want: "/x/$A"},
		{name: "relative joined to base", in: "tokens/${A}", base: "/etc/sw", want: "/etc/sw/tokens/a"},
		{name: "relative kept without base", in: "./tokens/a", want: "tokens/a"},
		{name: "absolute ignores base", in: "/run/a", base: "/etc/sw", want: "/run/a"},
		{name: "unset credentials dir", in: "${CREDENTIALS_DIRECTORY}/x", env: noCreds, wantErr: "${CREDENTIALS_DIRECTORY} is not set; run under systemd with LoadCredential= or set it"},
		{name: "several unset", in: "$NOPE/${EMPTY}", wantErr: "${NOPE}, ${EMPTY} are not set; set them in the daemon's environment or write the path out"},
		{name: "unclosed", in: "${A", wantErr: "unclosed ${; use ${NAME} or $NAME, and $$ for a literal $"},
		{name: "not a name", in: "${A:-x}", wantErr: "${A:-x} is not a variable reference; use ${NAME} or $NAME, and $$ for a literal $"},
		{name: "lone dollar", in: "/a/$/b", wantErr: `a lone $ before "/"; use ${NAME} or $NAME, and $$ for a literal $`},
		{name: "trailing dollar", in: "/a/$", wantErr: "a lone $ at the end; use ${NAME} or $NAME, and $$ for a literal $"},
		{name: "empty", in: "", wantErr: "path is empty; set a file path or remove the key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := env
			if tt.env != nil {
				getenv = tt.env
			}
			got, err := expandPath(tt.in, getenv, tt.base)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("expandPath(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("expandPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if back, err := expandPath(escapePath(got), env, tt.base); err != nil || back != got {
				t.Errorf("escapePath does not round-trip: %q → %q, %v", got, back, err)
			}
		})
	}
}

// TestTargetNameFromEnv: a sidecar's config names its target ${POD_NAME},
// so alerts name the pod; the expanded name is validated like any other,
// and an unset variable is an error naming the field, its line and the fix.
func TestTargetNameFromEnv(t *testing.T) {
	const doc = "targets:\n  - name: %s\n    api_url: http://127.0.0.1:8080\n"
	tests := []struct {
		name, in string
		env      map[string]string
		want     string // the target's name, or
		wantErr  string // the whole error
	}{
		{name: "pod name", in: "${POD_NAME}", env: map[string]string{"POD_NAME": "spacetime-godot-7d9c8b6f5-x2k4q"}, want: "spacetime-godot-7d9c8b6f5-x2k4q"},
		{name: "prefix and bare name", in: "eu-$POD_NAME", env: map[string]string{"POD_NAME": "g-1"}, want: "eu-g-1"},
		{name: "no reference is kept as written", in: "main", want: "main"},
		{name: "unset", in: "${POD_NAME}",
			wantErr: "config file config.yaml: line 2: targets[0].name: ${POD_NAME} is not set; in Kubernetes, set it from the downward API (env valueFrom fieldRef metadata.name), or write the name out"},
		{name: "expands to an invalid name", in: "${POD_NAME}", env: map[string]string{"POD_NAME": "Godot Pod"},
			wantErr: `config file config.yaml: line 2: targets[0].name: "Godot Pod" is not a valid name; use 1 to 63 of a-z, 0-9, _, . and -, starting with a letter or digit`},
		{name: "a literal dollar is no name", in: "a$$b",
			wantErr: `config file config.yaml: line 2: targets[0].name: "a$b" is not a valid name; use 1 to 63 of a-z, 0-9, _, . and -, starting with a letter or digit`},
		{name: "bad reference", in: "${POD-NAME}",
			wantErr: "config file config.yaml: line 2: targets[0].name: ${POD-NAME} is not a variable reference; use ${NAME} or $NAME, and $$ for a literal $"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := ParseOptions{Getenv: func(k string) string { return tt.env[k] }, Filename: "config.yaml"}
			cfg, err := Parse([]byte(fmt.Sprintf(doc, tt.in)), opts)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Parse(name: %s) error = %v\nwant %s", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Targets[0].Name; got != tt.want {
				t.Errorf("name = %q, want %q", got, tt.want)
			}
		})
	}
}
