package config

// TokenRef says where a token lives: a file or an environment variable. It
// never holds the token itself, so a Config can be printed, logged and
// compared freely. Reading the token is the client's job
// (internal/spacetime's FileToken and EnvToken), which keeps it in a type
// that never prints and re-reads a rotated file.
type TokenRef struct {
	// File is the expanded, absolute (or BaseDir-relative) path of a file
	// holding the token. Default: "".
	File string
	// Env is the name of an environment variable holding the token. Default: "".
	Env string
}

// IsZero reports whether the reference names no source.
func (r TokenRef) IsZero() bool { return r.File == "" && r.Env == "" }

// Describe names the source for logs and check-config, never the value:
// "file /run/credentials/spacetime-watch.service/api-token", "env
// SPACETIME_TOKEN" or "none".
func (r TokenRef) Describe() string {
	switch {
	case r.File != "":
		return "file " + r.File
	case r.Env != "":
		return "env " + r.Env
	default:
		return "none"
	}
}
