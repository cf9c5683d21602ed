package config

// TokenRef says where a secret lives (an API token, a Slack webhook URL or
// bot token): a file or an environment variable. It never holds the secret
// itself, so a Config can be printed, logged and compared freely. Reading
// the secret is its user's job (internal/spacetime's FileToken and EnvToken
// for API tokens; each alert sink for its own), in a type that never prints,
// re-reading a rotated file.
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
