package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
)

// VerifyOptions are the `verify` command's flags.
type VerifyOptions struct {
	// ConfigFile and Target take the target from a config file instead of
	// the flags below.
	ConfigFile, Target string

	APIURL               string
	TelemetryURLs        []string
	TokenFile, TokenEnv  string
	PerformanceTokenFile string
	PerformanceTokenEnv  string
	ExpectedEnvironment  string
	ExpectedScene        string
	// KnownGaps are "check=reason" pairs.
	KnownGaps       []string
	ThresholdWindow time.Duration
	NoIntrusive     bool
	// Output is "table" or "json".
	Output string
	// TargetFlags are the flags above that describe the target (--api-url,
	// --token-file, ...) which the command line set; with ConfigFile they
	// are refused, since the file describes the target.
	TargetFlags []string
	// Terminal is where the output is shown: the table fits its width,
	// and progress lines go to stderr only when it is a terminal.
	Terminal Terminal
}

// Verify runs the ten post-deployment checks once and prints the verdict.
// Exit status: 0 successful, 1 partial, 2 failed, 3 could not run.
func Verify(ctx context.Context, o VerifyOptions, stdout, stderr io.Writer) int {
	if o.ConfigFile != "" && len(o.TargetFlags) > 0 {
		fmt.Fprintf(stderr, "spacetime-watch verify: --config.file and %s conflict: the config file describes the target; drop %s, or drop --config.file to describe the target with flags\n",
			strings.Join(o.TargetFlags, ", "), strings.Join(o.TargetFlags, ", "))
		return ExitBadConfig
	}
	tc, err := verifyTarget(o)
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch verify: %v\n", err)
		return ExitBadConfig
	}
	ct, err := monitor.NewCheckTarget(tc, monitor.TargetOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch verify: %v\n", err)
		return ExitBadConfig
	}
	defer ct.Close()

	opts := monitor.VerifyOptions{NoIntrusive: o.NoIntrusive}
	if o.Output != "json" && o.Terminal.Progress {
		// For the person waiting (check 10 takes its window): one short
		// line per check, the table on stdout says the rest.
		fmt.Fprintf(stderr, "Verifying %s; check 10 watches telemetry for %s.\n", tc.Name, tc.Checks.ThresholdWindow)
		opts.Progress = func(r monitor.CheckResult) {
			fmt.Fprintf(stderr, "  %-2d %-12s %s\n", r.Check.Number(), r.Check, strings.ToUpper(string(r.Status)))
		}
	}
	report := monitor.RunVerify(ctx, ct, opts)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "spacetime-watch verify: interrupted")
		return ExitBadConfig
	}
	if o.Output == "json" {
		b, err := report.JSON()
		if err != nil {
			fmt.Fprintf(stderr, "spacetime-watch verify: %v\n", err)
			return ExitError
		}
		_, _ = stdout.Write(append(b, '\n'))
	} else if err := report.WriteTable(stdout, o.Terminal.width()); err != nil {
		return ExitError
	}
	return report.ExitCode()
}

// verifyTarget is the target to verify: from the config file, or built from
// the flags through the same parser (so that defaults and validation are
// the config's own).
func verifyTarget(o VerifyOptions) (config.Target, error) {
	if o.ConfigFile != "" {
		cfg, err := daemon.LoadConfig(o.ConfigFile)
		if err != nil {
			return config.Target{}, err
		}
		if o.Target == "" {
			if len(cfg.Targets) != 1 {
				return config.Target{}, fmt.Errorf("%s has %d targets (%s): choose one with --target", o.ConfigFile, len(cfg.Targets), targetNames(cfg))
			}
			return cfg.Targets[0], nil
		}
		t, ok := cfg.Target(o.Target)
		if !ok {
			return config.Target{}, fmt.Errorf("--target %q is not in %s (targets: %s)", o.Target, o.ConfigFile, targetNames(cfg))
		}
		return *t, nil
	}
	if o.Target != "" {
		return config.Target{}, fmt.Errorf("--target needs --config.file")
	}

	t := map[string]any{
		"name":           "cli",
		"api_url":        o.APIURL,
		"telemetry_urls": o.TelemetryURLs,
		"expected":       map[string]any{"environment": o.ExpectedEnvironment, "scene": o.ExpectedScene},
	}
	for key, v := range map[string]string{
		"token_file": o.TokenFile, "token_env": o.TokenEnv,
		"performance_token_file": o.PerformanceTokenFile, "performance_token_env": o.PerformanceTokenEnv,
	} {
		if v != "" {
			t[key] = v
		}
	}
	if o.ThresholdWindow > 0 {
		t["checks"] = map[string]any{"threshold_window": o.ThresholdWindow.String()}
	}
	var gaps []map[string]string
	for _, g := range o.KnownGaps {
		name, reason, _ := strings.Cut(g, "=")
		gap := map[string]string{"check": strings.TrimSpace(name)}
		if reason = strings.TrimSpace(reason); reason != "" {
			gap["reason"] = reason
		}
		gaps = append(gaps, gap)
	}
	if len(gaps) > 0 {
		t["known_gaps"] = gaps
	}
	doc, err := yaml.Marshal(map[string]any{"targets": []any{t}})
	if err != nil {
		return config.Target{}, err
	}
	cfg, err := config.Parse(doc, config.ParseOptions{Filename: "command-line flags"})
	if err != nil {
		return config.Target{}, err
	}
	return cfg.Targets[0], nil
}

func targetNames(cfg *config.Config) string {
	names := make([]string, 0, len(cfg.Targets))
	for _, t := range cfg.Targets {
		names = append(names, t.Name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
