package config

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Validation runs on the decoded, typed values, so every rule sees the
// merged result (defaults, then the defaults section, then the target)
// exactly as the daemon will.

// relProblem is a problem whose path is relative to a target or to the
// defaults section: ".thresholds.fps.min". warn marks a warning: valid, but
// not used as written.
type relProblem struct {
	rel, msg string
	warn     bool
}

type checker struct{ ps []relProblem }

func (c *checker) addf(rel, format string, args ...any) {
	c.ps = append(c.ps, relProblem{rel: rel, msg: fmt.Sprintf(format, args...)})
}

// warnf records a warning: the value is accepted, and check-config and the
// daemon's log say what will be done instead.
func (c *checker) warnf(rel, format string, args ...any) {
	c.ps = append(c.ps, relProblem{rel: rel, msg: fmt.Sprintf(format, args...), warn: true})
}

// finding is a broken rule. inherited marks a target's problem that the
// defaults section has too (same relative path, same message): when the
// target does not set that value itself, the defaults problem already
// names the fix and the target's copy is noise.
type finding struct {
	Problem
	inherited bool
	warn      bool
}

// validate returns every rule broken by cfg, with paths but no positions.
func validate(cfg *Config, getenv func(string) string, known Known) []finding {
	var out []finding
	inDefaults := map[relProblem]bool{}
	for _, p := range validateSettings(&cfg.Defaults) {
		inDefaults[p] = true
		out = append(out, finding{Problem: Problem{Path: "defaults" + p.rel, Message: p.msg}, warn: p.warn})
	}
	out = append(out, validateTargets(cfg.Targets, "targets", inDefaults, getenv)...)
	for i, pattern := range cfg.TargetFiles {
		if _, err := filepath.Match(pattern, ""); err != nil {
			out = append(out, finding{Problem: Problem{Path: fmt.Sprintf("target_files[%d]", i),
				Message: fmt.Sprintf("%q is not a valid glob pattern (%v); use *, ? and [a-z] as filepath.Match does", pattern, err)}})
		}
	}
	var c checker
	validateAlerting(&c, &cfg.Alerting, getenv, knownValues(cfg, known))
	for _, p := range c.ps {
		out = append(out, finding{Problem: Problem{Path: "alerting" + p.rel, Message: p.msg}, warn: p.warn})
	}
	return out
}

// validateTargets checks the targets listed at path ("targets", or "" in a
// target file): each one's settings and its own fields, and that no two
// share a name, an api_url or a telemetry URL. inDefaults are the defaults
// section's problems, which a target that inherits them does not repeat.
func validateTargets(targets []Target, path string, inDefaults map[relProblem]bool, getenv func(string) string) []finding {
	var out []finding
	names := map[string]int{}
	apiURLs := map[string]int{}
	wsURLs := map[string]int{}
	for i := range targets {
		t := &targets[i]
		prefix := fmt.Sprintf("%s[%d]", path, i)
		for _, p := range validateSettings(&t.Settings) {
			out = append(out, finding{Problem{Path: prefix + p.rel, Message: p.msg}, inDefaults[p], p.warn})
		}
		var c checker
		validateTarget(&c, t, getenv)

		// One target per instance: two targets on one API would double
		// every alert, and the telemetry server caps connections.
		if j, dup := names[t.Name]; dup && t.Name != "" {
			c.addf(".name", "%q is already used by %s[%d]; names must be unique", t.Name, path, j)
		} else {
			names[t.Name] = i
		}
		if t.APIURL != nil {
			key := InstanceKey(t.APIURL)
			if j, dup := apiURLs[key]; dup {
				c.addf(".api_url", "%s is already watched by %s[%d] (%s); one target per instance", t.APIURL.Redacted(), path, j, targets[j].Name)
			} else {
				apiURLs[key] = i
			}
		}
		for k, u := range t.TelemetryURLs {
			if u == nil {
				continue
			}
			key := InstanceKey(u)
			if j, dup := wsURLs[key]; dup && j != i {
				c.addf(fmt.Sprintf(".telemetry_urls[%d]", k), "%s is already used by %s[%d] (%s); one target per instance", u.Redacted(), path, j, targets[j].Name)
			} else {
				wsURLs[key] = i
			}
		}
		for _, p := range c.ps {
			out = append(out, finding{Problem: Problem{Path: prefix + p.rel, Message: p.msg}, warn: p.warn})
		}
	}
	return out
}

// InstanceKey is what makes two URLs the same endpoint: scheme, host and
// port case-folded, path without its trailing slash. Two targets with the
// same api_url key watch one instance.
func InstanceKey(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + strings.TrimSuffix(u.Path, "/")
}

func validateSettings(s *Settings) []relProblem {
	var c checker
	validateExpected(&c, &s.Expected)
	validateKnownGaps(&c, s.KnownGaps)
	validateSchedule(&c, &s.Schedule)
	validateChecks(&c, &s.Checks, s)
	validateFPS(&c, &s.Thresholds.FPS)
	validateMemory(&c, &s.Thresholds.Memory)
	validateTelemetry(&c, &s.Telemetry)
	validateReviews(&c, &s.Reviews)
	validateTLS(&c, &s.TLS)
	return c.ps
}

func validateExpected(c *checker, e *Expected) {
	if strings.TrimSpace(e.Environment) == "" {
		c.addf(".expected.environment", "must not be empty; e.g. production")
	}
	if !validScene(e.Scene) {
		c.addf(".expected.scene", "%q is not a scene path; write res://….tscn, e.g. res://vr_main.tscn", e.Scene)
	}
}

func validateKnownGaps(c *checker, gaps []KnownGap) {
	first := map[CheckName]int{}
	for i, g := range gaps {
		rel := fmt.Sprintf(".known_gaps[%d]", i)
		switch {
		case g.Check == "":
			c.addf(rel+".check", "required; name one of: %s", checkList())
		case !g.Check.Valid():
			// Reported by the decoder, with the valid names.
		case g.Check == CheckInstanceUp:
			c.addf(rel+".check", "instance_up cannot be a known gap: every other check depends on it")
		default:
			if j, dup := first[g.Check]; dup {
				c.addf(rel+".check", "%s is already listed at known_gaps[%d]; list each check once", g.Check, j)
			} else {
				first[g.Check] = i
			}
		}
		if strings.TrimSpace(g.Reason) == "" {
			c.addf(rel+".reason", "must not be empty; say why this build cannot pass the check")
		}
	}
}

func validateSchedule(c *checker, s *Schedule) {
	if s.Cron != "" {
		if err := checkCron(s.Cron); err != nil {
			c.addf(".schedule.cron", "%q is not a cron spec: %v; e.g. \"*/5 * * * *\" or \"@every 5m\"", s.Cron, err)
		}
	} else {
		switch {
		case s.Interval <= 0:
			c.addf(".schedule.interval", "must be positive, got %s; e.g. 5m", formatDuration(s.Interval))
		case s.Interval < time.Second:
			c.addf(".schedule.interval", "must be at least 1s, got %s", formatDuration(s.Interval))
		}
	}
	positive(c, ".schedule.timeout", s.Timeout, "60s")
	if s.Cron == "" && s.Interval > 0 && s.Timeout > s.Interval {
		c.addf(".schedule.timeout", "must not exceed schedule.interval (%s), got %s; runs would overlap",
			formatDuration(s.Interval), formatDuration(s.Timeout))
	}
}

// checkCron parses spec as the daemon's scheduler will (robfig/cron's
// standard parser). robfig/cron v3.0.1 panics on some malformed specs
// ("CRON_TZ=UTC" with no fields), and bad input must never panic.
func checkCron(spec string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed spec")
		}
	}()
	_, err = cron.ParseStandard(spec)
	return err
}

func validateChecks(c *checker, k *Checks, s *Settings) {
	atLeastOne(c, ".checks.failure_threshold", k.FailureThreshold)
	atLeastOne(c, ".checks.success_threshold", k.SuccessThreshold)
	if positive(c, ".checks.request_timeout", k.RequestTimeout, "5s") {
		belowTimeout(c, ".checks.request_timeout", k.RequestTimeout, s.Schedule.Timeout)
	}
	if positive(c, ".checks.telemetry_timeout", k.TelemetryTimeout, "10s") {
		belowTimeout(c, ".checks.telemetry_timeout", k.TelemetryTimeout, s.Schedule.Timeout)
	}
	apiPath(c, ".checks.auth_path", k.AuthPath, "/scene/history")
	apiPath(c, ".checks.rate_limit_path", k.RateLimitPath, "/scenes")
	atLeastOne(c, ".checks.rate_limit_per_minute", k.RateLimitPerMinute)
	switch {
	case !validScene(k.WhitelistProbeScene):
		c.addf(".checks.whitelist_probe_scene", "%q is not a scene path; write res://….tscn outside every whitelist", k.WhitelistProbeScene)
	case k.WhitelistProbeScene == s.Expected.Scene:
		c.addf(".checks.whitelist_probe_scene", "must differ from expected.scene (%s): check 8 expects the probe scene to be refused", s.Expected.Scene)
	}
	positive(c, ".checks.threshold_window", k.ThresholdWindow, "15s")
	if !(k.ThresholdInBandRatio > 0 && k.ThresholdInBandRatio <= 1) {
		c.addf(".checks.threshold_in_band_ratio", "must be above 0 and at most 1, got %g; e.g. 0.95", k.ThresholdInBandRatio)
	}
}

func validateFPS(c *checker, f *FPSThresholds) {
	const p = ".thresholds.fps"
	switch {
	case f.Min <= 0:
		c.addf(p+".min", "must be positive, got %g; e.g. 85", f.Min)
	case f.Min >= f.Max:
		c.addf(p+".min", "must be below max (%g), got %g; set min < max", f.Max, f.Min)
	}
	switch {
	case f.CriticalMin <= 0:
		c.addf(p+".critical_min", "must be positive, got %g; e.g. 45", f.CriticalMin)
	case f.CriticalMin >= f.Min:
		c.addf(p+".critical_min", "must be below min (%g), got %g; set critical_min < min", f.Min, f.CriticalMin)
	}
	notNegative(c, p+".for", f.For)
	switch half := (f.Max - f.Min) / 2; {
	case f.Hysteresis < 0:
		c.addf(p+".hysteresis", "must not be negative, got %g; 0 turns hysteresis off", f.Hysteresis)
	case f.Min < f.Max && f.Hysteresis >= half:
		c.addf(p+".hysteresis", "must be below half of max−min (%g), got %g; otherwise a recovered value would sit past the other edge", half, f.Hysteresis)
	}
}

func validateMemory(c *checker, m *MemoryThresholds) {
	const p = ".thresholds.memory"
	if m.MaxMB <= 0 {
		c.addf(p+".max_mb", "must be positive, got %g; e.g. 400", m.MaxMB)
	}
	switch {
	case m.HysteresisMB < 0:
		c.addf(p+".hysteresis_mb", "must not be negative, got %g; 0 turns hysteresis off", m.HysteresisMB)
	case m.MaxMB > 0 && m.HysteresisMB >= m.MaxMB:
		c.addf(p+".hysteresis_mb", "must be below max_mb (%g), got %g", m.MaxMB, m.HysteresisMB)
	}
	notNegative(c, p+".for", m.For)
	if m.GrowthMBPerMin <= 0 {
		c.addf(p+".growth_mb_per_min", "must be positive, got %g; e.g. 10", m.GrowthMBPerMin)
	}
	if m.GrowthWindow < time.Minute {
		c.addf(p+".growth_window", "must be at least 1m, got %s; e.g. 15m", formatDuration(m.GrowthWindow))
	}
}

func validateTelemetry(c *checker, t *Telemetry) {
	positive(c, ".telemetry.silence_timeout", t.SilenceTimeout, "90s")
	if d := t.DownFor; d != 0 && d < time.Second {
		c.addf(".telemetry.down_for", "must be 0 (off) or at least 1s, got %s; e.g. 2m", formatDuration(d))
	}
	if positive(c, ".telemetry.backoff_initial", t.BackoffInitial, "1s") && t.BackoffMax < t.BackoffInitial {
		c.addf(".telemetry.backoff_max", "must be at least backoff_initial (%s), got %s",
			formatDuration(t.BackoffInitial), formatDuration(t.BackoffMax))
	}
	if t.ReadLimitBytes < 1024 {
		c.addf(".telemetry.read_limit_bytes", "must be at least 1024, got %d; e.g. 1048576", t.ReadLimitBytes)
	}
	if p := t.PerformancePollInterval; p != 0 && p < time.Second {
		c.addf(".telemetry.performance_poll_interval", "must be 0 (off) or at least 1s, got %s; e.g. 30s", formatDuration(p))
	}
}

func validateReviews(c *checker, r *Reviews) {
	for i, off := range r.Offsets {
		rel := fmt.Sprintf(".reviews.offsets[%d]", i)
		switch {
		case off <= 0:
			c.addf(rel, "must be positive, got %s; e.g. 1h", formatDuration(off))
		case i > 0 && off <= r.Offsets[i-1]:
			c.addf(rel, "must come after offsets[%d] (%s), got %s; list offsets in ascending order without repeats",
				i-1, formatDuration(r.Offsets[i-1]), formatDuration(off))
		}
	}
}

func validateTLS(c *checker, t *TLS) {
	if positive(c, ".tls.expiry_critical", t.ExpiryCritical, "72h") &&
		positive(c, ".tls.expiry_warning", t.ExpiryWarning, "336h") && t.ExpiryCritical >= t.ExpiryWarning {
		c.addf(".tls.expiry_critical", "must be below expiry_warning (%s), got %s; e.g. 72h",
			formatDuration(t.ExpiryWarning), formatDuration(t.ExpiryCritical))
	}
	if t.CAFile == "" {
		return
	}
	pem, err := os.ReadFile(t.CAFile)
	switch {
	case err != nil:
		c.addf(".tls.ca_file", "cannot read it: %v; give the PEM file of the CA that signs the instance's certificate", err)
	case !x509.NewCertPool().AppendCertsFromPEM(pem):
		c.addf(".tls.ca_file", "%s holds no PEM certificate; give the CA's certificate (-----BEGIN CERTIFICATE-----)", t.CAFile)
	}
}

// targetNameRE: names become metric label values, store keys and parts of
// alert titles, so they stay short and plain.
var targetNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

func validateTarget(c *checker, t *Target, getenv func(string) string) {
	switch {
	case t.Name == "":
		c.addf(".name", "required; give each target a unique name such as main")
	case !targetNameRE.MatchString(t.Name):
		c.addf(".name", "%q is not a valid name; use 1 to 63 of a-z, 0-9, _, . and -, starting with a letter or digit", truncate(t.Name, 70))
	}
	if t.APIURL == nil {
		// Only the implicit target of a file without targets defaults to
		// the local instance: a listed target watching 127.0.0.1:8080
		// because its api_url was forgotten would watch the wrong one.
		c.addf(".api_url", "required for each listed target: the base URL of its instance's API, e.g. http://127.0.0.1:8080")
	} else {
		checkURL(c, ".api_url", t.APIURL, []string{"http", "https"}, "http://127.0.0.1:8080")
	}
	for i, u := range t.TelemetryURLs {
		rel := fmt.Sprintf(".telemetry_urls[%d]", i)
		checkURL(c, rel, u, []string{"ws", "wss"}, "ws://127.0.0.1:8081/")
		for j := range i {
			if u != nil && t.TelemetryURLs[j] != nil && InstanceKey(u) == InstanceKey(t.TelemetryURLs[j]) {
				c.addf(rel, "repeats telemetry_urls[%d]; list each URL once", j)
				break
			}
		}
	}
	tokenSource(c, "", "token", t.TokenFile, t.TokenEnv, getenv, "SPACETIME_TOKEN")
	tokenSource(c, "", "performance_token", t.PerformanceTokenFile, t.PerformanceTokenEnv, getenv, "SPACETIME_PERF_TOKEN")
	if !t.TokenFromStatus && t.TokenFile == "" && t.TokenEnv == "" {
		c.addf(".token_from_status", "false leaves no API token; set token_file, token_env or token_from_status: true")
	}
}

// tokenSource checks one <prefix>_file / <prefix>_env pair of the mapping
// at rel ("" for a target). The variable is read now because the daemon's
// environment cannot change after start: a missing one would otherwise fail
// every delivery or authenticated check. The value of a bad *_env is never
// echoed: it is most often the secret itself, pasted in the wrong field.
func tokenSource(c *checker, rel, prefix, file, env string, getenv func(string) string, example string) {
	if file != "" && env != "" {
		c.addf(rel+"."+prefix+"_env", "set either %s_file or %s_env, not both; remove one", prefix, prefix)
		return
	}
	if env == "" {
		return
	}
	switch {
	case !isEnvName(env):
		c.addf(rel+"."+prefix+"_env", "not an environment variable name (letters, digits and _, not starting with a digit); name the variable that holds the secret, e.g. %s", example)
	case getenv(env) == "" && !conventionalEnvName(env):
		c.addf(rel+"."+prefix+"_env", "the variable named here is not set; set it in the daemon's environment, or use %s_file (systemd: LoadCredential=)", prefix)
	case getenv(env) == "":
		c.addf(rel+"."+prefix+"_env", "$%s is not set; set it in the daemon's environment, or use %s_file (systemd: LoadCredential=)", env, prefix)
	}
}

// conventionalEnvName reports whether name looks like a variable name
// (SLACK_WEBHOOK_URL) rather than a lowercase hex token that happens to be
// a valid name, so that messages name only the former.
func conventionalEnvName(name string) bool {
	if len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if 'a' <= name[i] && name[i] <= 'z' {
			return false
		}
	}
	return true
}

func checkURL(c *checker, rel string, u *url.URL, schemes []string, example string) {
	checkURLSecrets(c, rel, u, schemes, example,
		"give the token with token_file or token_env", "tokens go in token_file or token_env")
}

// checkURLSecrets checks a URL that must not carry secrets; credHint and
// queryHint say where the secret goes instead.
func checkURLSecrets(c *checker, rel string, u *url.URL, schemes []string, example, credHint, queryHint string) {
	if u == nil {
		c.addf(rel, "required; e.g. %s", example)
		return
	}
	if u.User != nil {
		// Never echo the URL: the credentials in it are a secret.
		c.addf(rel, "must not contain credentials; %s", credHint)
		return
	}
	want := strings.Join(schemes, " or ")
	scheme := strings.ToLower(u.Scheme)
	switch {
	case !contains(schemes, scheme) || u.Opaque != "" || u.Host == "":
		c.addf(rel, "%q needs scheme %s and a host; e.g. %s", truncate(u.String(), 100), want, example)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		c.addf(rel, "must not have a query or fragment; %s", queryHint)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func positive(c *checker, rel string, d time.Duration, example string) bool {
	if d <= 0 {
		c.addf(rel, "must be positive, got %s; e.g. %s", formatDuration(d), example)
		return false
	}
	return true
}

func notNegative(c *checker, rel string, d time.Duration) {
	if d < 0 {
		c.addf(rel, "must not be negative, got %s; 0 fires at once", formatDuration(d))
	}
}

func belowTimeout(c *checker, rel string, d, timeout time.Duration) {
	if timeout > 0 && d >= timeout {
		c.addf(rel, "must be below schedule.timeout (%s), got %s", formatDuration(timeout), formatDuration(d))
	}
}

func atLeastOne(c *checker, rel string, n int) {
	if n < 1 {
		c.addf(rel, "must be at least 1, got %d", n)
	}
}

func apiPath(c *checker, rel, p, example string) {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " \t\r\n?#") {
		c.addf(rel, "%q is not an absolute API path; e.g. %s", truncate(p, 70), example)
	}
}

func validScene(s string) bool {
	return strings.HasPrefix(s, "res://") && strings.HasSuffix(s, ".tscn") &&
		len(s) > len("res://.tscn") && len(s) <= 256 && !strings.Contains(s, "..")
}
