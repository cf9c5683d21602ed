package monitor

import (
	"slices"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// ConditionNames holds every name an event can carry, so that a silence
// on any of them is accepted: each rule, each check's failure, and the
// token conditions, and tls_cert_expiring.
func TestConditionNames(t *testing.T) {
	names := ConditionNames()
	raised := RuleNames()
	for _, c := range config.AllChecks() {
		raised = append(raised, checkEventRule(CheckResult{Check: c, Status: CheckFail}))
	}
	for _, c := range []string{ConditionTokenExpired, ConditionTokenRejected} {
		raised = append(raised, checkEventRule(CheckResult{Check: config.CheckName(c), Status: CheckFail}))
	}
	raised = append(raised, ConditionTLSCertExpiring) // the name applyCertLocked raises
	for _, n := range raised {
		if !slices.Contains(names, n) {
			t.Errorf("%s is raised but not in ConditionNames() %q", n, names)
		}
	}
	if len(names) != len(raised) || !slices.IsSorted(names) {
		t.Errorf("ConditionNames() = %q: want the %d raised names, sorted", names, len(raised))
	}
}
