package archtest

import (
	"go/ast"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// defaultsHome is the one package that may declare defaults: every
// default of the daemon lives in internal/config, which the packages take
// fully built (alert.SettingsFrom, alert.OutboxOptionsFrom,
// monitor.WatcherOptionsFrom) and only check.
const defaultsHome = "internal/config"

// defaultsExempt are the directories whose Default names are not the
// daemon's defaults.
var defaultsExempt = map[string]string{
	"internal/sim":      "the simulator stands in for an instance: its defaults are the instance's, not the daemon's",
	"cmd/spacetime-sim": "the simulator's binary",
}

// notConfigDefaults are the exported Default names outside internal/config
// that are not a default anyone tunes, by "dir.Name", each with why.
var notConfigDefaults = map[string]string{
	"internal/cli.DefaultWidth":                  "the width tables fit when stdout is not a terminal: a fact of the output, not a setting",
	"internal/alert/slack.DefaultAlertsURL":      "the daemon's own API path, shown when no external URL is known",
	"internal/alert/slackfake.DefaultLimits":     "Slack's documented limits, which the fake Slack enforces",
	"internal/spacetime.DefaultTimeout":          "the instance client's per-attempt bound (docs/instance.md, \"Transport\"); the daemon passes checks.request_timeout",
	"internal/spacetime.DefaultSilenceTimeout":   "the instance client's own default for its other users (the CLI, tests); the daemon passes telemetry.silence_timeout",
	"internal/spacetime.DefaultReadLimit":        "the instance client's bound on one frame; the daemon passes telemetry.read_limit_bytes",
	"internal/spacetime.DefaultMaxInflatedBytes": "the instance client's bound on a decompressed binary frame",
	"internal/spacetime.DefaultMaxBodyBytes":     "the instance client's bound on a response body",
	"internal/spacetime.DefaultUserAgent":        "the client's name on the wire",
	"internal/spacetime.DefaultDialTimeout":      "the instance client's bound on one dial; the daemon passes the checks' timeouts",
	"internal/spacetime.DefaultPongWait":         "the WebSocket keep-alive of the instance's protocol (the server pings every 30 s)",
	"internal/spacetime.DefaultPingPeriod":       "the WebSocket keep-alive of the instance's protocol (the server pings every 30 s)",
	"internal/spacetime.DefaultWriteTimeout":     "the instance client's bound on one control frame write",
	"internal/spacetime.DefaultBackoffMin":       "the instance client's reconnect backoff; the daemon passes telemetry.backoff_initial",
	"internal/spacetime.DefaultBackoffMax":       "the instance client's reconnect backoff; the daemon passes telemetry.backoff_max",
	"internal/spacetime.DefaultBackoffFactor":    "the shape of the instance client's reconnect backoff (doubling), no setting",
	"internal/spacetime.DefaultBackoffJitter":    "the shape of the instance client's reconnect backoff (up to 20 % early), no setting",
}

// TestDefaultsLiveInConfig: a default declared next to the code that uses
// it is a second description of a fact config already states (or should),
// and drifts from it; the daemon would then run with a value no doc
// comment of the config names. An exported const, var or func whose name
// starts with Default belongs in internal/config, unless
// notConfigDefaults says why it is no default of the daemon.
func TestDefaultsLiveInConfig(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range goFiles(t) {
		dir := filepath.ToSlash(filepath.Dir(f.rel))
		if strings.HasSuffix(f.path, "_test.go") || dir == defaultsHome || exempt(f.rel, defaultsExempt) {
			continue
		}
		for _, name := range exportedDefaults(f.file) {
			key := dir + "." + name.Name
			if _, ok := notConfigDefaults[key]; ok {
				seen[key] = true
				continue
			}
			t.Errorf("%s: %s declares a default outside internal/config: move the value to internal/config (the field's doc comment says it), build the package's options from the config, and refuse a zero where zero is invalid",
				f.fset.Position(name.Pos()), name.Name)
		}
	}
	for key := range notConfigDefaults {
		if !seen[key] {
			t.Errorf("notConfigDefaults lists %s, which no longer exists: remove it", key)
		}
	}
}

// exportedDefaults are file's top-level exported consts, vars and funcs
// (not methods) whose name starts with Default.
func exportedDefaults(file *ast.File) []*ast.Ident {
	var out []*ast.Ident
	isDefault := func(id *ast.Ident) bool { return id.IsExported() && strings.HasPrefix(id.Name, "Default") }
	for _, decl := range file.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil && isDefault(d.Name) {
				out = append(out, d.Name)
			}
		case *ast.GenDecl:
			if d.Tok != token.CONST && d.Tok != token.VAR {
				continue
			}
			for _, spec := range d.Specs {
				for _, id := range spec.(*ast.ValueSpec).Names {
					if isDefault(id) {
						out = append(out, id)
					}
				}
			}
		}
	}
	return out
}
