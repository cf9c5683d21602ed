package monitor

import (
	"slices"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// ConditionTokenExpired is the condition a failing auth check raises when
// the instance's token expired, instead of check_auth.
const ConditionTokenExpired = "token_expired"

// ConditionNames lists every condition the monitor raises as an alert,
// sorted: the threshold rules (RuleNames), one per check (check_health,
// ...), and token_expired. Silences are checked against it.
func ConditionNames() []string {
	names := RuleNames()
	for _, c := range config.AllChecks() {
		names = append(names, checkConditionName(c))
	}
	names = append(names, ConditionTokenExpired)
	slices.Sort(names)
	return names
}

// checkConditionName is the condition a failing check raises.
func checkConditionName(c config.CheckName) string { return "check_" + string(c) }
