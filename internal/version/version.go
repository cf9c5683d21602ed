// Package version carries the build's identity, set at link time by the
// Makefile (-ldflags -X) and read by `spacetime-watch version` and the
// spacetime_watch_build_info metric.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version and Revision are set by the linker; "dev" and the VCS revision
// recorded by the go command are the fallbacks.
var (
	Version  = "dev"
	Revision = ""
)

// GetRevision returns Revision, or the VCS revision the go command stamped
// into the binary, or "unknown".
func GetRevision() string {
	if Revision != "" {
		return Revision
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				return s.Value[:7]
			}
		}
	}
	return "unknown"
}

// Print returns the one-line version string of program.
func Print(program string) string {
	return fmt.Sprintf("%s version %s (revision %s, %s %s/%s)", program, Version, GetRevision(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
