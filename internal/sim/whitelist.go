package sim

import (
	"path"
	"slices"
	"strings"
	"time"
)

// sceneFile is one .tscn file of the simulated project.
type sceneFile struct {
	Path      string
	RootName  string // the root node's name, what GET /scene reports as scene_name
	SizeBytes int
	NodeCount int
}

// sceneFiles are the project's scene files, sorted by path. Only
// res://vr_main.tscn is on the production whitelist; the others exist so
// that a broken whitelist (whitelist_disabled) shows up as a 200, and the
// addon scene so that the blacklist has something to refuse.
var sceneFiles = []sceneFile{
	{Path: "res://addons/gdUnit4/x.tscn", RootName: "X", SizeBytes: 412, NodeCount: 3},
	{Path: "res://node_3d.tscn", RootName: "Node3D", SizeBytes: 233, NodeCount: 1},
	{Path: "res://scenes/celestial/solar_system.tscn", RootName: "SolarSystem", SizeBytes: 18342, NodeCount: 212},
	{Path: "res://test_scene.tscn", RootName: "TestScene", SizeBytes: 1207, NodeCount: 9},
	{Path: "res://tests/debug.tscn", RootName: "Debug", SizeBytes: 866, NodeCount: 6},
	{Path: "res://vr_main.tscn", RootName: "VRMain", SizeBytes: 5223, NodeCount: 57},
}

// sceneFilesModified is the mtime every simulated scene file reports.
var sceneFilesModified = time.Date(2025, 12, 10, 14, 2, 11, 0, time.UTC)

// productionWhitelist is the documented production section of
// config/scene_whitelist.json: only the main scene.
var productionWhitelist = []string{DefaultScene}

func findScene(p string) (sceneFile, bool) {
	i := slices.IndexFunc(sceneFiles, func(f sceneFile) bool { return f.Path == p })
	if i < 0 {
		return sceneFile{}, false
	}
	return sceneFiles[i], true
}

// sceneName is the root node name of the scene at p, or its base name for a
// scene the project does not know (set through the scene fault).
func sceneName(p string) string {
	if f, ok := findScene(p); ok {
		return f.RootName
	}
	return strings.TrimSuffix(path.Base(p), ".tscn")
}

// checkScenePath applies the validator of security_config.gd in its order:
// length, res:// prefix, .tscn suffix, no "..", blacklist (which wins), then
// the whitelist. It returns the 403 reason, or "" when the path may load.
// With whitelistDisabled (a broken validator) only the format checks apply.
// envInMessage is the environment the refusal names; the shipped server
// always says "development" there (docs/instance.md, "Error bodies").
func checkScenePath(p string, whitelistDisabled bool, envInMessage string) string {
	switch {
	case len(p) > 256:
		return "Scene path exceeds maximum length (256 chars)"
	case !strings.HasPrefix(p, "res://"):
		return "Scene path must start with res://"
	case !strings.HasSuffix(p, ".tscn"):
		return "Scene path must end with .tscn"
	case strings.Contains(p, ".."):
		return "Path traversal (..) not allowed"
	case whitelistDisabled:
		return ""
	case blacklisted(p):
		return "Scene is in blacklist (addon/system scene)"
	case !slices.Contains(productionWhitelist, p):
		return "Scene not in whitelist for environment: " + envInMessage
	}
	return ""
}

// blacklisted matches the documented blacklist patterns
// res://addons/**/*.tscn, **/.godot/**/*.tscn and **/gdUnit4/**/*.tscn.
func blacklisted(p string) bool {
	return strings.HasPrefix(p, "res://addons/") ||
		strings.Contains(p, "/.godot/") ||
		strings.Contains(p, "/gdUnit4/")
}
