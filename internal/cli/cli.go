// Package cli implements spacetime-watch's commands: each takes its parsed
// options and writers and returns the process's exit status, so that main
// stays a flag parser and every command is testable in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/discovery"
	"github.com/spacetime-vr/spacetime-watch/internal/logging"
	"github.com/spacetime-vr/spacetime-watch/internal/shard"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// Exit statuses, for every command.
const (
	ExitOK = 0
	// ExitPartial: verify found 1–2 failed checks.
	ExitPartial = 1
	// ExitFailed: verify found 3 or more failed checks.
	ExitFailed = 2
	// ExitBadConfig: bad flags or bad config (verify: could not run).
	ExitBadConfig = 3
	// ExitLocked: another daemon holds the state dir.
	ExitLocked = 4
	// ExitCannotRun: the daemon cannot run and a restart will not help
	// until an operator acts: the state dir is not writable (permissions,
	// a read-only file system, a file where the dir should be), or the
	// listen address is refused for want of privilege, or it is a vsock
	// address on a host without vsock. systemd's unit does
	// not restart it (RestartPreventExitStatus). A listen address in use is
	// not one of these: the holder may go away, so that stays ExitError.
	ExitCannotRun = 5
	// ExitError: anything else went wrong (the daemon's API unreachable, ...).
	ExitError = 1
)

// LogOptions are the --log.* flags.
type LogOptions struct {
	Level, Format string
}

func (o LogOptions) logger(w io.Writer) (*zap.Logger, error) {
	return logging.New(w, o.Level, o.Format)
}

// RunOptions are the `run` command's flags.
type RunOptions struct {
	Log        LogOptions
	ConfigFile string
	StateDir   string
	Web        *web.FlagConfig
	// ExternalHosts are the --web.external-host names.
	ExternalHosts []string
	Reload        <-chan struct{}
	// EnableLifecycle is --web.enable-lifecycle: serve /-/reload.
	EnableLifecycle bool
	// EnablePprof is --web.enable-pprof: serve /debug/pprof/.
	EnablePprof bool
	// AutoReload is --config.auto-reload: reload on a changed file.
	AutoReload bool
	// Shard is --shard=K/N: watch only shard K of N of the targets.
	Shard string
	// ShardFromHostname is --shard.from-hostname: K is the ordinal the
	// hostname ends with (a StatefulSet pod), N is ShardCount.
	ShardFromHostname bool
	// ShardCount is --shard.count, N with ShardFromHostname.
	ShardCount int
}

// shardSpec resolves the shard flags, refusing combinations that conflict.
func (o RunOptions) shardSpec(hostname func() (string, error)) (shard.Spec, error) {
	switch {
	case o.ShardFromHostname && o.Shard != "":
		return shard.Spec{}, errors.New("--shard and --shard.from-hostname conflict: give K/N with --shard, or N with --shard.count and K from the hostname")
	case o.ShardFromHostname:
		host, err := hostname()
		if err != nil {
			return shard.Spec{}, fmt.Errorf("--shard.from-hostname: %w", err)
		}
		return shard.FromHostname(host, o.ShardCount)
	case o.ShardCount != 0:
		return shard.Spec{}, errors.New("--shard.count goes with --shard.from-hostname; with --shard, write K/N")
	default:
		s, err := shard.Parse(o.Shard)
		if err != nil {
			return shard.Spec{}, fmt.Errorf("--%w", err)
		}
		return s, nil
	}
}

// Run runs the daemon until ctx is done (SIGINT, SIGTERM).
func Run(ctx context.Context, o RunOptions, stderr io.Writer) int {
	log, err := o.Log.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitBadConfig
	}
	defer func() { _ = log.Sync() }()
	sh, err := o.shardSpec(os.Hostname)
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitBadConfig
	}
	if sh.Sharded() {
		log.Info("watching one shard of the targets", zap.String("shard", sh.String()))
	}
	tuneGC(os.Getenv, log)
	err = daemon.Run(ctx, daemon.Options{ConfigFile: o.ConfigFile, StateDir: o.StateDir, Web: o.Web, ExternalHosts: o.ExternalHosts, Logger: log, Reload: o.Reload,
		EnableLifecycle: o.EnableLifecycle, EnablePprof: o.EnablePprof, AutoReload: o.AutoReload, Shard: sh})
	return exitFor(err, log)
}

// exitFor maps the daemon's error to an exit status, after logging it.
func exitFor(err error, log *zap.Logger) int {
	var cfgErr *daemon.ConfigError
	var listenErr *daemon.ListenError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &cfgErr):
		log.Error("bad configuration; not starting", zap.Error(err))
		return ExitBadConfig
	case errors.Is(err, store.ErrLocked):
		log.Error("state dir is in use by another spacetime-watch; not starting", zap.Error(err))
		return ExitLocked
	case errors.Is(err, store.ErrNotWritable):
		log.Error("state dir is not writable; not running (a restart will not help: fix the dir or --state.dir)", zap.Error(err))
		return ExitCannotRun
	case errors.Is(err, syscall.EACCES) && errors.As(err, &listenErr):
		log.Error("not allowed to listen on the address; not running (a restart will not help: pick a port above 1023 or grant CAP_NET_BIND_SERVICE)", zap.Error(err))
		return ExitCannotRun
	case errors.Is(err, syscall.EAFNOSUPPORT) && errors.As(err, &listenErr):
		log.Error("this host cannot listen on the address's kind of socket; not running (a restart will not help: pick a TCP address, or run where vsock exists)", zap.Error(err))
		return ExitCannotRun
	default:
		log.Error("spacetime-watch stopped", zap.Error(err))
		return ExitError
	}
}

// CheckConfig validates path as run does and prints the effective config on
// stdout. Errors (every one, with field path and line) go to stderr with
// ExitBadConfig; warnings (values run will not use as written, which run
// logs too) go to stderr before the OK line, and the exit is ExitOK.
func CheckConfig(path string, stdout, stderr io.Writer) int {
	cfg, err := daemon.LoadConfig(path)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return ExitBadConfig
	}
	out, err := cfg.Effective()
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: cannot print the effective config: %v\n", err)
		return ExitError
	}
	// The config's own warnings, then the secret files that cannot be
	// read now (run starts anyway: the sink is unhealthy until they exist).
	warnings := append(slices.Clone(cfg.Warnings), cfg.SecretWarnings()...)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", path, w)
	}
	fileTargets, ok := listTargetFiles(cfg, stderr)
	if !ok {
		return ExitBadConfig
	}
	fmt.Fprintf(stderr, "%s: OK, %d target(s)%s\n", path, len(cfg.Targets)+fileTargets, warningCount(len(warnings)))
	_, _ = stdout.Write(out)
	return ExitOK
}

// listTargetFiles reads cfg's target files as the daemon would and prints
// each target they list ("path:line: target NAME at URL"), or their
// problems; it returns how many targets they list and false for a file
// the daemon would not use.
func listTargetFiles(cfg *config.Config, stderr io.Writer) (int, bool) {
	if len(cfg.TargetFiles) == 0 {
		return 0, true
	}
	files := discovery.New(discovery.Options{Registry: prometheus.NewRegistry()})
	if _, err := files.Targets(cfg); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 0, false
	}
	found := files.Found()
	for _, f := range found {
		fmt.Fprintf(stderr, "%s: target %s at %s\n", f.Place, f.Name, f.APIURL)
	}
	return len(found), true
}

// warningCount is check-config's ", 2 warning(s)" after OK; "" for none.
func warningCount(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d warning(s)", n)
}

// DaemonOptions are the flags of commands that talk to the daemon's API.
type DaemonOptions struct {
	URL      string
	AuthFile string
}

// DeploymentStart declares a deployment through the daemon's API.
func DeploymentStart(ctx context.Context, o DaemonOptions, target, version, note string, at time.Time, stdout, stderr io.Writer) int {
	c, err := daemon.NewClient(o.URL, o.AuthFile)
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitBadConfig
	}
	d, err := c.StartDeployment(ctx, daemon.StartDeploymentRequest{Target: target, Version: version, StartedAt: at, Note: note})
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	fmt.Fprintf(stdout, "deployment %s started: target %s, version %s, at %s\n", d.ID, d.Target, d.Version, d.StartedAt.Format(time.RFC3339))
	return ExitOK
}

// DeploymentList prints deployments, newest first; output is "table" or
// "json" (the API's deployments).
func DeploymentList(ctx context.Context, o DaemonOptions, target, output string, stdout, stderr io.Writer) int {
	c, err := daemon.NewClient(o.URL, o.AuthFile)
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitBadConfig
	}
	ds, err := c.Deployments(ctx, target)
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	if output == "json" {
		return writeJSON(stdout, stderr, ds) // [] from the daemon when there is none
	}
	tw := newTable(stdout)
	tw.row("ID", "TARGET", "VERSION", "STARTED", "SOURCE")
	for _, d := range ds {
		tw.row(d.ID, d.Target, d.Version, d.StartedAt.Format(time.RFC3339), d.Source)
	}
	return tw.flush()
}
