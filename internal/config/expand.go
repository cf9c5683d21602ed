package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// expandPath expands ${NAME} and $NAME in a *_file path with getenv, and
// reads $$ as a literal $. Every unset or empty variable is an error: a path
// built from an empty CREDENTIALS_DIRECTORY would silently point at
// /api-token. A relative result is taken from baseDir (the config file's
// folder) when baseDir is set.
func expandPath(s string, getenv func(string) string, baseDir string) (string, error) {
	p, err := expandVars(s, getenv, "path")
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", fmt.Errorf("path is empty; set a file path or remove the key")
	}
	if baseDir != "" && !filepath.IsAbs(p) {
		p = filepath.Join(baseDir, p)
	}
	return filepath.Clean(p), nil
}

// expandVars expands ${NAME} and $NAME in s with getenv, and reads $$ as a
// literal $. Every unset or empty variable is an error naming it; what
// ("path", "name") is the kind of value the fix says to write out instead.
func expandVars(s string, getenv func(string) string, what string) (string, error) {
	var b strings.Builder
	var missing []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		name, n, err := varAt(s[i+1:])
		if err != nil {
			return "", err
		}
		i += n
		if name == "$" {
			b.WriteByte('$')
			continue
		}
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		b.WriteString(v)
	}
	if len(missing) > 0 {
		return "", missingVarsError(missing, what)
	}
	return b.String(), nil
}

// varAt reads the variable reference after a '$': "{NAME}", "NAME" or "$".
// It returns the name ("$" for a literal dollar) and the bytes consumed.
func varAt(s string) (name string, n int, err error) {
	const hint = "use ${NAME} or $NAME, and $$ for a literal $"
	switch {
	case s == "":
		return "", 0, fmt.Errorf("a lone $ at the end; %s", hint)
	case s[0] == '$':
		return "$", 1, nil
	case s[0] == '{':
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", 0, fmt.Errorf("unclosed ${; %s", hint)
		}
		name = s[1:end]
		if !isEnvName(name) {
			return "", 0, fmt.Errorf("${%s} is not a variable reference; %s", name, hint)
		}
		return name, end + 1, nil
	}
	end := 0
	for end < len(s) && isNameByte(s[end], end == 0) {
		end++
	}
	if end == 0 {
		return "", 0, fmt.Errorf("a lone $ before %q; %s", s[:1], hint)
	}
	return s[:end], end, nil
}

func missingVarsError(names []string, what string) error {
	refs := make([]string, len(names))
	for i, n := range names {
		refs[i] = "${" + n + "}"
	}
	verb, it := "is", "it"
	if len(names) > 1 {
		verb, it = "are", "them"
	}
	fix := "set " + it + " in the daemon's environment or write the " + what + " out"
	for _, n := range names {
		switch n {
		case "CREDENTIALS_DIRECTORY":
			fix = "run under systemd with LoadCredential= or set " + it
		case "POD_NAME":
			fix = "in Kubernetes, set " + it + " from the downward API (env valueFrom fieldRef metadata.name), or write the " + what + " out"
		}
	}
	return fmt.Errorf("%s %s not set; %s", strings.Join(refs, ", "), verb, fix)
}

// escapePath is the inverse of expandPath's $ handling, for the effective
// config: an expanded path that holds a $ prints as $$ so it reads back the same.
func escapePath(p string) string { return strings.ReplaceAll(p, "$", "$$") }

// isEnvName reports whether s is a portable environment variable name.
func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

func isNameByte(c byte, first bool) bool {
	switch {
	case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		return true
	case '0' <= c && c <= '9':
		return !first
	}
	return false
}
