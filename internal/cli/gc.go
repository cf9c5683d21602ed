package cli

import (
	"runtime/debug"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// tuneGC sets the garbage collector's target to config.GCPercent, unless
// the GOGC environment variable (getenv's) chose one: the operator's word
// wins. It returns the percent the daemon runs with.
func tuneGC(getenv func(string) string, log *zap.Logger) int {
	if v := getenv("GOGC"); v != "" {
		percent := debug.SetGCPercent(-1) // read it back: Go parsed GOGC at start
		debug.SetGCPercent(percent)
		log.Info("garbage collector target from GOGC", zap.String("GOGC", v), zap.Int("gc_percent", percent))
		return percent
	}
	debug.SetGCPercent(config.GCPercent)
	log.Debug("garbage collector target", zap.Int("gc_percent", config.GCPercent))
	return config.GCPercent
}
