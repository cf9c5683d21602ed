package config

import (
	"fmt"
	"strings"
)

// CheckName names one of the ten post-deployment checks of the deployment
// checklist, against the endpoints the instance really serves
// (docs/instance.md, "HTTP API"). The names are stable: they appear in the
// config file (known_gaps), in metrics labels and in alerts.
type CheckName string

// The ten checks, in the order the runbook numbers them (1 to 10).
const (
	// CheckInstanceUp (1): GET /status answers at all.
	CheckInstanceUp CheckName = "instance_up"
	// CheckHealth (2): GET /health answers 200 (the stock build has no /health).
	CheckHealth CheckName = "health"
	// CheckStatus (3): /status reports the expected environment.
	CheckStatus CheckName = "status"
	// CheckTelemetry (4): a telemetry data frame arrives within checks.telemetry_timeout.
	CheckTelemetry CheckName = "telemetry"
	// CheckScene (5): the expected scene is loaded.
	CheckScene CheckName = "scene"
	// CheckAuth (6): checks.auth_path answers 401 without a token and 200 with it.
	CheckAuth CheckName = "auth"
	// CheckRateLimit (7): a burst on checks.rate_limit_path draws a 429. Intrusive.
	CheckRateLimit CheckName = "rate_limit"
	// CheckWhitelist (8): loading a scene outside the whitelist is refused with 403.
	CheckWhitelist CheckName = "whitelist"
	// CheckPerformance (9): GET /performance answers with engine and memory figures.
	CheckPerformance CheckName = "performance"
	// CheckThresholds (10): FPS and memory stay inside the checklist's band over a telemetry window.
	CheckThresholds CheckName = "thresholds"
)

var allChecks = [...]CheckName{
	CheckInstanceUp, CheckHealth, CheckStatus, CheckTelemetry, CheckScene,
	CheckAuth, CheckRateLimit, CheckWhitelist, CheckPerformance, CheckThresholds,
}

// AllChecks returns the ten checks in runbook order. The slice is a fresh
// copy the caller may keep or change.
func AllChecks() []CheckName {
	out := make([]CheckName, len(allChecks))
	copy(out, allChecks[:])
	return out
}

// Number returns the check's runbook number, 1 to 10, or 0 for an unknown name.
func (c CheckName) Number() int {
	for i, k := range allChecks {
		if k == c {
			return i + 1
		}
	}
	return 0
}

// Valid reports whether c is one of the ten checks.
func (c CheckName) Valid() bool { return c.Number() != 0 }

// String returns the name as written in the config file.
func (c CheckName) String() string { return string(c) }

// ParseCheckName returns the check named s, or an error listing the valid names.
func ParseCheckName(s string) (CheckName, error) {
	if c := CheckName(s); c.Valid() {
		return c, nil
	}
	return "", fmt.Errorf("%q is not a check%s; valid checks: %s",
		truncate(s, 40), DidYouMean(s, checkNames()), checkList())
}

func checkNames() []string {
	names := make([]string, len(allChecks))
	for i, c := range allChecks {
		names[i] = string(c)
	}
	return names
}

// checkList is the valid names for messages: "instance_up, health, …".
func checkList() string { return strings.Join(checkNames(), ", ") }
