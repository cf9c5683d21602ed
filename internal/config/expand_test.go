package config

import "testing"

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
