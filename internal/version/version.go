// Package version names this build the way the Prometheus projects do. The
// facts live in github.com/prometheus/common/version's variables, which the
// Makefile sets at link time (-ldflags -X): the version from the VERSION
// file, the revision and branch from git, the build user and date. This
// package reads them for `spacetime-watch --version` and `version`, the
// User-Agent of the sinks, and the spacetime_watch_build_info metric.
package version

import (
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	common "github.com/prometheus/common/version"
)

// metricsNamespace prefixes build_info: spacetime_watch_build_info.
const metricsNamespace = "spacetime_watch"

func init() {
	// A plain `go build` sets nothing; the go command's own stamp (a
	// pseudo-version such as v0.0.0-20261207080813-b241497abcde+dirty in a
	// git checkout) says more than an empty string.
	if common.Version == "" {
		common.Version = fallback(debug.ReadBuildInfo())
	}
}

// fallback is the version of a build the Makefile did not stamp: the main
// module's version as the go command recorded it, or "dev".
func fallback(info *debug.BuildInfo, ok bool) string {
	if ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

// Version returns the build's version, e.g. "0.1.0".
func Version() string { return common.Version }

// Print returns the multi-line version report of program, in the format of
// every Prometheus project's --version:
//
//	spacetime-watch, version 0.1.0 (branch: main, revision: 1f2e…)
//	  build user:       root@build
//	  build date:       20261207-08:08:13
//	  go version:       go1.26.8
//	  platform:         linux/amd64
//	  tags:             unknown
func Print(program string) string { return common.Print(program) }

// NewCollector returns the spacetime_watch_build_info gauge: always 1,
// labelled version, revision, branch, goversion, goos, goarch and tags, as
// the Prometheus projects' <program>_build_info.
func NewCollector() prometheus.Collector {
	return versioncollector.NewCollector(metricsNamespace)
}
