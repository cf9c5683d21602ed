// Package logging builds the daemon's zap logger from the Prometheus-style
// --log.level and --log.format flags, and the *slog.Logger bridge that
// exporter-toolkit wants.
package logging

import (
	"fmt"
	"io"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/buffer"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"

	"github.com/spacetime-vr/spacetime-watch/internal/secret"
)

// Levels and formats accepted by New, for flag help and validation.
var (
	Levels  = []string{"debug", "info", "warn", "error"}
	Formats = []string{"json", "console"}
)

// New returns a logger writing to w at level ("debug", "info", "warn",
// "error") in format ("json" or "console"). Keys are snake_case, times
// RFC 3339. Every line passes through the secret redactor (package
// secret): no field, error or message prints a secret the daemon has read.
func New(w io.Writer, level, format string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log.level: %q is not one of debug, info, warn, error", level)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "ts"
	encCfg.EncodeTime = zapcore.RFC3339TimeEncoder
	encCfg.EncodeDuration = zapcore.StringDurationEncoder
	var enc zapcore.Encoder
	switch format {
	case "json":
		enc = zapcore.NewJSONEncoder(encCfg)
	case "console":
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	default:
		return nil, fmt.Errorf("--log.format: %q is not one of json, console", format)
	}
	core := zapcore.NewCore(redacting{enc}, zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(core), nil
}

// Slog bridges logger to the *slog.Logger exporter-toolkit logs through.
func Slog(logger *zap.Logger) *slog.Logger {
	return slog.New(zapslog.NewHandler(logger.Core()))
}

// redacting is the encoder every log line goes through: it removes every
// secret the process has read from the encoded line, whatever field (an
// error, a sink's answer, a URL) carried it.
type redacting struct{ zapcore.Encoder }

func (e redacting) Clone() zapcore.Encoder { return redacting{e.Encoder.Clone()} }

func (e redacting) EncodeEntry(ent zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	buf, err := e.Encoder.EncodeEntry(ent, fields)
	if err != nil {
		return buf, err
	}
	// CleanBytes returns its argument itself when there was nothing to remove.
	if b := buf.Bytes(); len(b) > 0 {
		if clean := secret.CleanBytes(b); &clean[0] != &b[0] {
			buf.Reset()
			_, _ = buf.Write(clean)
		}
	}
	return buf, nil
}
