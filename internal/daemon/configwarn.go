package daemon

import (
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// logConfigWarnings logs each warning of a config the daemon runs with (at
// start and after a reload): what check-config prints, the journal shows,
// so that a value the daemon does not use as written is never silent.
func logConfigWarnings(log *zap.Logger, path string, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		log.Warn("config warning: "+w.String(), zap.String("config_file", path), zap.String("field", w.Path), zap.Int("line", w.Line))
	}
}
