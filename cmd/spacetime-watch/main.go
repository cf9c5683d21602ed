// Command spacetime-watch watches SpaceTime VR deployments and tells on-call
// engineers, before users feel it, that something is wrong.
//
// main only parses flags and handles signals; every command is one call
// into internal/cli.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/spacetime-vr/spacetime-watch/internal/cli"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reload := make(chan struct{}, 1)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default: // a reload is already queued
			}
		}
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, reload))
}

// run parses args and runs the chosen command; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, reload <-chan struct{}) int {
	app := kingpin.New("spacetime-watch", `Watches SpaceTime VR deployments: the ten post-deployment checks, scheduled
health checks, telemetry thresholds (FPS 85-95, memory below 400 MB) and Prometheus
metrics.

Exit status: 0 success, 1 verify partial (other commands: an error a retry may
fix), 2 verify failed, 3 bad flags or bad config (or verify could not run), 4 the
state dir is locked by another daemon, 5 cannot run and a restart will not help
(the state dir is not writable).

spacetime-watch --version prints the version and build information.`)
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	app.HelpFlag.Short('h')
	// --version is a flag of run, the default command, so that
	// `spacetime-watch --version` works as in every Prometheus project: an
	// application-wide --version would clash with `deployment start
	// --version` (kingpin refuses a long flag twice in one command path).

	var logLevelSet bool
	logLevel := app.Flag("log.level", "Only log messages with the given severity or above: debug, info, warn, error.").Default("info").IsSetByUser(&logLevelSet).Enum("debug", "info", "warn", "error")
	logFormat := app.Flag("log.format", "Output format of log messages: json or console.").Default("json").Enum("json", "console")
	logOpts := func() cli.LogOptions { return cli.LogOptions{Level: *logLevel, Format: *logFormat} }

	// run: the daemon (the default command).
	runCmd := app.Command("run", `Run the daemon: scheduled checks, telemetry rules, /metrics and the API.

Example:
  spacetime-watch run --config.file=/etc/spacetime-watch/config.yaml --state.dir=/var/lib/spacetime-watch`).Default()
	runConfig := runCmd.Flag("config.file", "spacetime-watch configuration file (YAML).").Default("/etc/spacetime-watch/config.yaml").String()
	runState := runCmd.Flag("state.dir", "Directory of the state database (deployments, check history, rule state). One daemon per directory.").Default("/var/lib/spacetime-watch").String()
	runWeb := kingpinflag.AddFlags(runCmd, ":9850")
	runVersion := runCmd.Flag("version", "Print the version and build information, and exit.").Bool()
	runLifecycle := runCmd.Flag("web.enable-lifecycle", "Serve POST and PUT /-/reload, which reload the config as SIGHUP does (a write: from loopback, or authenticated by --web.config.file). Default: off (403).").Bool()
	runPprof := runCmd.Flag("web.enable-pprof", "Serve Go's runtime profiles (CPU, heap, goroutines) under /debug/pprof/ for go tool pprof; behind --web.config.file's authentication like every path. Default: off (404).").Bool()
	runAutoReload := runCmd.Flag("config.auto-reload", "Reload the config when the file's content changes (its directory is watched, so a Kubernetes ConfigMap update is seen). Default: off.").Bool()
	runShard := runCmd.Flag("shard", "Watch only shard K of N of the targets (K counted from 0): rendezvous hashing of the target names splits the fleet across N daemons, each started with its own K; changing N moves about 1/N of the targets. Default: every target.").PlaceHolder("K/N").String()
	runShardFromHost := runCmd.Flag("shard.from-hostname", "Take K from the ordinal the hostname ends with (a StatefulSet pod: spacetime-watch-2 is shard 2), of --shard.count shards.").Bool()
	runShardCount := runCmd.Flag("shard.count", "N, the number of shards, with --shard.from-hostname.").PlaceHolder("N").Int()
	runExternalHosts := runCmd.Flag("web.external-host", "A host name clients reach the daemon by (DNS, a proxy), which the API's writes may carry in their Host header; repeatable. Default: none (localhost, loopback addresses, the address connected to and the machine's hostname are always accepted).").PlaceHolder("HOST").Strings()

	// verify: the one-shot post-deployment verification.
	verifyCmd := app.Command("verify", `Run the ten post-deployment checks once and print the checklist's verdict:
SUCCESSFUL (none failed, exit 0), PARTIAL (1-2 failed, exit 1), FAILED (3 or more, exit 2);
exit 3 when it cannot run. Skipped checks are listed and not counted.

Examples:
  spacetime-watch verify --api-url=http://127.0.0.1:8080 --telemetry-url=ws://127.0.0.1:8081/ --token-file=/run/credentials/spacetime-watch.service/api-token
  spacetime-watch verify --config.file=/etc/spacetime-watch/config.yaml --target=main --output=json`)
	var vo cli.VerifyOptions
	// targetFlag marks a flag that describes the target, so that verify
	// can refuse it next to --config.file rather than ignore it.
	targetFlagSet := map[string]*bool{}
	targetFlag := func(name, help string) *kingpin.FlagClause {
		targetFlagSet[name] = new(bool)
		return verifyCmd.Flag(name, help).IsSetByUser(targetFlagSet[name])
	}
	verifyCmd.Flag("config.file", "Take the target from this config file (with --target) instead of the flags below, which are then refused. Default: none (the flags below describe the target).").StringVar(&vo.ConfigFile)
	verifyCmd.Flag("target", "Target name in --config.file (default: the only target).").StringVar(&vo.Target)
	targetFlag("api-url", "Base URL of the instance's HTTP API.").Default("http://127.0.0.1:8080").StringVar(&vo.APIURL)
	targetFlag("telemetry-url", "Telemetry WebSocket URL; repeat for the fallback ports tried in order.").Default("ws://127.0.0.1:8081/").StringsVar(&vo.TelemetryURLs)
	targetFlag("token-file", "File holding the API bearer token (re-read when it changes). Default: none; without --token-file or --token-env the token comes from GET /status (jwt_token), as the stock server hands it out.").StringVar(&vo.TokenFile)
	targetFlag("token-env", "Environment variable holding the API bearer token. Default: none (see --token-file).").StringVar(&vo.TokenEnv)
	targetFlag("performance-token-file", "File holding the /performance token (the stock server's 64-hex token). Default: none; /performance gets the API token.").StringVar(&vo.PerformanceTokenFile)
	targetFlag("performance-token-env", "Environment variable holding the /performance token. Default: none (see --performance-token-file).").StringVar(&vo.PerformanceTokenEnv)
	targetFlag("expected-environment", "Environment /status must report.").Default("production").StringVar(&vo.ExpectedEnvironment)
	targetFlag("expected-scene", "Scene that must be loaded.").Default("res://vr_main.tscn").StringVar(&vo.ExpectedScene)
	targetFlag("known-gap", "Check the build cannot pass, as name=reason (repeatable); still reported as failed, with the reason. Default: none.").StringsVar(&vo.KnownGaps)
	targetFlag("threshold-window", "How long check 10 watches FPS and memory.").Default("15s").DurationVar(&vo.ThresholdWindow)
	verifyCmd.Flag("no-intrusive", "Skip check 7 (rate_limit), which spends the instance's shared rate-limit bucket.").BoolVar(&vo.NoIntrusive)
	verifyCmd.Flag("output", "Output format: table or json.").Default("table").EnumVar(&vo.Output, "table", "json")

	// check-config
	checkCmd := app.Command("check-config", `Validate a config file and print the effective config (every default filled in, secrets as <secret>).

Example:
  spacetime-watch check-config --config.file=/etc/spacetime-watch/config.yaml`)
	checkConfig := checkCmd.Flag("config.file", "Configuration file to check.").Default("/etc/spacetime-watch/config.yaml").String()

	// deployment start|list, through the daemon's API.
	deployCmd := app.Command("deployment", `Mark and list deployments, through the running daemon's API.

Example:
  spacetime-watch deployment start --daemon.url=http://127.0.0.1:9850 --target=main --version=1.2.4`)
	var do cli.DaemonOptions
	// outputFlag is every list command's --output.
	outputFlag := func(c *kingpin.CmdClause) *string {
		return c.Flag("output", "Output format: table or json (the daemon's API objects, for scripts).").Default("table").Enum("table", "json")
	}
	daemonFlags := func(c *kingpin.CmdClause) {
		c.Flag("daemon.url", "URL of the running daemon.").Default("http://127.0.0.1:9850").StringVar(&do.URL)
		c.Flag("daemon.auth-file", "File with the basic-auth credentials the daemon's web config requires, as username:password. Default: none (no basic auth).").StringVar(&do.AuthFile)
	}
	daemonFlags(deployCmd)
	deployStart := deployCmd.Command("start", `Declare that a deployment started now (or at --started-at).

Example:
  spacetime-watch deployment start --target=main --version=1.2.4`)
	startTarget := deployStart.Flag("target", "Target name, as in the config. Required.").Required().String()
	startVersion := deployStart.Flag("version", "Version being deployed. Required.").Required().String()
	startAt := deployStart.Flag("started-at", "Start time, RFC 3339 (default: now).").String()
	startNote := deployStart.Flag("note", "A line about the deployment (a ticket, what changed), shown with it on the status page. Default: none.").String()
	deployList := deployCmd.Command("list", `List deployments, newest first.

Example:
  spacetime-watch deployment list --target=main`)
	listTarget := deployList.Flag("target", "Only this target's deployments. Default: every target's.").String()
	listOutput := outputFlag(deployList)

	// silence add|list|expire, outbox list, notify test: through the daemon's API.
	silenceCmd := app.Command("silence", `Silence alerts for a while, through the running daemon's API: a silenced alert is
tracked but not notified; when the silence ends and it still fires, it is notified.
Matchers select the alerts as Alertmanager's do, on the labels alert, target and
severity: name=value, name!=value, name=~regex, name!~regex (regexes anchored).

Example:
  spacetime-watch silence add alert=fps_low target=main --for=2h --comment="GPU driver rollout"`)
	daemonFlags(silenceCmd)
	var so cli.SilenceOptions
	silenceAdd := silenceCmd.Command("add", `Add a silence. An alert is silenced when every matcher matches it; give at
least one, as arguments or with --target and --alert. Targets and alert names are
checked against the daemon's (a typo gets a suggestion); --force accepts a target
not configured yet. Quote matchers with ! or * in an interactive shell.

Examples:
  spacetime-watch silence add --target=main --for=2h --comment="planned maintenance"
  spacetime-watch silence add 'alert=~"fps_.*"' 'target!=canary' --for=30m --comment="GPU driver rollout"`)
	silenceAdd.Arg("matchers", `Matchers: alert=fps_low, target!=canary, alert=~"fps_.*", severity=warning. Default: none (then --target or --alert is required).`).StringsVar(&so.Matchers)
	silenceAdd.Flag("target", "Short for the matcher target=TARGET. Default: none.").StringVar(&so.Target)
	silenceAdd.Flag("alert", "Short for the matcher alert=ALERT (e.g. fps_low, check_health). Default: none.").StringVar(&so.Alert)
	silenceAdd.Flag("for", "How long the silence lasts, from its start. Required.").Required().DurationVar(&so.For)
	silenceStartsAt := silenceAdd.Flag("starts-at", "When the silence starts, RFC 3339; until then it is pending. Default: now.").String()
	silenceAdd.Flag("comment", "Why, for the next person on call. Required.").Required().StringVar(&so.Comment)
	silenceAdd.Flag("created-by", "Who adds it. Default: $USER.").Default(os.Getenv("USER")).StringVar(&so.CreatedBy)
	silenceAdd.Flag("force", "Accept a target or alert the daemon does not know (a target not configured yet). Default: refused, with the closest known name.").BoolVar(&so.Force)
	silenceList := silenceCmd.Command("list", `List silences with their state: pending (starts later), active, expired.
Expired ones (kept for a day) are shown only with --all.

Example:
  spacetime-watch silence list --all`)
	silenceAll := silenceList.Flag("all", "Show expired silences too. Default: pending and active only.").Bool()
	silenceOutput := outputFlag(silenceList)
	silenceExpire := silenceCmd.Command("expire", `End a silence now.

Example:
  spacetime-watch silence expire QZ7M`)
	silenceID := silenceExpire.Arg("id", "The silence's ID, as silence list shows it, or enough of its start to name one silence (any case).").Required().String()

	outboxCmd := app.Command("outbox", "Inspect the notification outbox, through the running daemon's API.")
	daemonFlags(outboxCmd)
	outboxList := outboxCmd.Command("list", `Show the notifications waiting per sink and the dead letters (notifications a
sink refused for good, with the reason).

Example:
  spacetime-watch outbox list`)
	outboxOutput := outputFlag(outboxList)

	notifyCmd := app.Command("notify", "Exercise the notification sinks, through the running daemon's API.")
	daemonFlags(notifyCmd)
	notifyTest := notifyCmd.Command("test", `Send a clearly marked test message through each configured sink (or one) and
report, per sink, delivered or the exact reason it was not. Exit 1 when any sink failed.

Example:
  spacetime-watch notify test --sink=oncall`)
	notifySink := notifyTest.Flag("sink", "Only this sink. Default: every configured sink.").String()

	reviewCmd := app.Command("review", `Print a post-deployment review through the running daemon's API. Without --hour or
--review: the latest review that fell due, as the daemon delivered it (before the first falls
due, the first one computed now, partial). With them: that review computed now over the data
that exists (partial data marked as such). The scheduled reviews (hour 1, 4 and 24 by default)
are delivered by the daemon itself; this is for a look on demand.

Examples:
  spacetime-watch review --target=main
  spacetime-watch review --target=main --hour=4`)
	daemonFlags(reviewCmd)
	var ro cli.ReviewOptions
	reviewCmd.Flag("target", "Target name, as in the config. Required.").Required().StringVar(&ro.Target)
	reviewCmd.Flag("deployment", "Deployment ID (see deployment list). Default: the target's current deployment.").StringVar(&ro.Deployment)
	reviewHour := reviewCmd.Flag("hour", "Which review, computed now: the one at this many hours (1, 4, 24). Default: the latest that fell due, as delivered (or the first, computed now).").Int()
	reviewCmd.Flag("review", "Which review, by name (hour-1, hour-4, hour-24, or e.g. minute-2 for compressed offsets); overrides --hour.").StringVar(&ro.Name)
	reviewCmd.Flag("output", "Output format: text, markdown or json.").Default("text").EnumVar(&ro.Output, "text", "markdown", "json")

	// demo
	demoCmd := app.Command("demo", `Run the daemon against an embedded simulated SpaceTime VR instance, both on a
clock that runs --scale times as fast as yours, and tell the story of a deployment's first
four hours: an FPS drop, a memory leak, an expired token and an API outage, each alert as
the console sink shows it, the hour-1 and hour-4 reviews, and a summary. It prints the status
page and /metrics URLs first; the logs go to a file it names (unless --log.level is given:
then to stderr). 127.0.0.1:0 listeners, a temporary state dir; never prints tokens.

Example:
  spacetime-watch demo`)
	var demo cli.DemoOptions
	demoCmd.Flag("duration", "Stop by itself after this long (real time). Default: 0, the whole story (about 4 minutes at --scale=60).").Default("0s").DurationVar(&demo.Duration)
	demoCmd.Flag("scale", "How many times as fast as the wall clock the story runs: 60 is an hour a minute.").Default(strconv.Itoa(config.DefaultDemoScale)).Float64Var(&demo.Scale)

	versionCmd := app.Command("version", `Print the version and build information, and exit (as --version).

Example:
  spacetime-watch version`)

	if words, ok := completionWords(args); ok {
		complete(app, runCmd, words, stdout)
		return cli.ExitOK
	}
	cmd, code, err := parse(app, args)
	if code >= 0 {
		return code
	}
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v (try --help)\n", err)
		return cli.ExitBadConfig
	}

	switch cmd {
	case runCmd.FullCommand():
		if *runVersion {
			fmt.Fprintln(stdout, version.Print(app.Name))
			return cli.ExitOK
		}
		return cli.Run(ctx, cli.RunOptions{Log: logOpts(), ConfigFile: *runConfig, StateDir: *runState, Web: runWeb, ExternalHosts: *runExternalHosts, Reload: reload, EnableLifecycle: *runLifecycle, EnablePprof: *runPprof, AutoReload: *runAutoReload,
			Shard: *runShard, ShardFromHostname: *runShardFromHost, ShardCount: *runShardCount}, stderr)
	case verifyCmd.FullCommand():
		for name, set := range targetFlagSet {
			if *set {
				vo.TargetFlags = append(vo.TargetFlags, "--"+name)
			}
		}
		slices.Sort(vo.TargetFlags)
		vo.Terminal = cli.DetectTerminal(stdout, stderr)
		return cli.Verify(ctx, vo, stdout, stderr)
	case checkCmd.FullCommand():
		return cli.CheckConfig(*checkConfig, stdout, stderr)
	case deployStart.FullCommand():
		var at time.Time
		if *startAt != "" {
			if at, err = time.Parse(time.RFC3339, *startAt); err != nil {
				fmt.Fprintf(stderr, "spacetime-watch: --started-at %q: want RFC 3339, e.g. 2026-11-27T10:00:00Z\n", *startAt)
				return cli.ExitBadConfig
			}
		}
		return cli.DeploymentStart(ctx, do, *startTarget, *startVersion, *startNote, at, stdout, stderr)
	case deployList.FullCommand():
		return cli.DeploymentList(ctx, do, *listTarget, *listOutput, stdout, stderr)
	case silenceAdd.FullCommand():
		if *silenceStartsAt != "" {
			if so.StartsAt, err = time.Parse(time.RFC3339, *silenceStartsAt); err != nil {
				fmt.Fprintf(stderr, "spacetime-watch: --starts-at %q: want RFC 3339, e.g. 2026-11-27T10:00:00Z\n", *silenceStartsAt)
				return cli.ExitBadConfig
			}
		}
		return cli.SilenceAdd(ctx, do, so, stdout, stderr)
	case silenceList.FullCommand():
		return cli.SilenceList(ctx, do, *silenceAll, *silenceOutput, stdout, stderr)
	case silenceExpire.FullCommand():
		return cli.SilenceExpire(ctx, do, *silenceID, stdout, stderr)
	case outboxList.FullCommand():
		return cli.OutboxList(ctx, do, *outboxOutput, stdout, stderr)
	case notifyTest.FullCommand():
		return cli.NotifyTest(ctx, do, *notifySink, stdout, stderr)
	case reviewCmd.FullCommand():
		if ro.Name == "" && *reviewHour != 0 {
			ro.Name = fmt.Sprintf("hour-%d", *reviewHour)
		}
		return cli.Review(ctx, do, ro, stdout, stderr)
	case demoCmd.FullCommand():
		demo.Log, demo.LogToStderr = logOpts(), logLevelSet
		demo.Terminal = cli.DetectTerminal(stdout, stderr)
		return cli.Demo(ctx, demo, stdout, stderr)
	case versionCmd.FullCommand():
		fmt.Fprintln(stdout, version.Print(app.Name))
	}
	return cli.ExitOK
}

// terminated carries the exit status kingpin asks for after --help.
type terminated int

// parse runs app.Parse without letting kingpin exit the process: after
// --help or --version it returns the status kingpin asked for (code >= 0),
// so that run stays testable and main alone calls os.Exit.
func parse(app *kingpin.Application, args []string) (cmd string, code int, err error) {
	app.Terminate(func(c int) { panic(terminated(c)) })
	defer func() {
		if r := recover(); r != nil {
			t, ok := r.(terminated)
			if !ok {
				panic(r)
			}
			code = int(t)
		}
	}()
	cmd, err = app.Parse(args)
	return cmd, -1, err
}
