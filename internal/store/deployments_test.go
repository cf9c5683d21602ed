package store

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestStartDeploymentFillsIDAndStart(t *testing.T) {
	clk := testkit.NewClock(t)
	s := openT(t, t.TempDir(), Options{Now: clk.Now})
	inst := clk.Now().Add(-time.Minute)

	d, err := s.StartDeployment(Deployment{Target: "vr-1", Version: "1.0.0", Source: SourceNewTarget, InstanceStartedAt: inst})
	mustDo(t, err)
	stamp := clk.Now().UTC().Format("20060102T150405Z")
	if !regexp.MustCompile(`^vr-1-` + stamp + `-[0-9a-f]{4}$`).MatchString(d.ID) {
		t.Errorf("ID = %q, want vr-1-%s-<4 hex>", d.ID, stamp)
	}
	if !d.StartedAt.Equal(clk.Now()) || !d.InstanceStartedAt.Equal(inst) {
		t.Errorf("StartedAt = %v, InstanceStartedAt = %v", d.StartedAt, d.InstanceStartedAt)
	}
	// Same target, same second: the IDs still differ.
	d2, err := s.StartDeployment(Deployment{Target: "vr-1", Version: "1.0.1", Source: SourceRestart})
	mustDo(t, err)
	if d2.ID == d.ID {
		t.Errorf("two deployments got the same ID %q", d.ID)
	}
	if got, ok, err := s.DeploymentByID(d.ID); err != nil || !ok || !sameDeployment(got, d) {
		t.Errorf("DeploymentByID(%s) = %+v, %v, %v; want %+v", d.ID, got, ok, err, d)
	}
	if got, ok, err := s.CurrentDeployment("vr-1"); err != nil || !ok || got.ID != d2.ID {
		t.Errorf("CurrentDeployment = %+v, %v, %v; want %s", got, ok, err, d2.ID)
	}
	if _, ok, err := s.CurrentDeployment("unknown"); ok || err != nil {
		t.Errorf("CurrentDeployment(unknown) = %v, %v; want none", ok, err)
	}
	if _, ok, err := s.DeploymentByID("unknown"); ok || err != nil {
		t.Errorf("DeploymentByID(unknown) = %v, %v; want none", ok, err)
	}
}

func TestStartDeploymentRefusesBadInput(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	_, err := s.StartDeployment(Deployment{ID: "ci-42", Target: "vr", Source: SourceAPI})
	mustDo(t, err)

	tests := []struct {
		name string
		d    Deployment
		want string
	}{
		{"no target", Deployment{Source: SourceAPI}, "deployment target is empty"},
		{"no source", Deployment{Target: "vr"}, "source is empty"},
		{"long target", Deployment{Target: strings.Repeat("t", 600), Source: SourceAPI}, "more than 512"},
		{"long id", Deployment{ID: strings.Repeat("i", 600), Target: "vr", Source: SourceAPI}, "deployment id is 600 bytes"},
		{"duplicate id", Deployment{ID: "ci-42", Target: "other", Source: SourceAPI}, `deployment "ci-42": already exists`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.StartDeployment(tt.d)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("StartDeployment(%.40v) = %v, want an error containing %q", tt.d, err, tt.want)
			}
		})
	}
	if _, err := s.StartDeployment(Deployment{ID: "ci-42", Target: "vr", Source: SourceAPI}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate ID: %v, want ErrExists", err)
	}
	if ds, _ := s.Deployments(""); len(ds) != 1 {
		t.Errorf("refused deployments were recorded: %+v", ds)
	}
}

func TestDeploymentHistoryKeepsTheNewestPerTarget(t *testing.T) {
	clk := testkit.NewClock(t)
	s := openT(t, t.TempDir(), Options{Now: clk.Now}) // default history: 50
	for i := range 60 {
		clk.Advance(time.Minute)
		_, err := s.StartDeployment(Deployment{ID: fmt.Sprintf("a-%d", i), Target: "a", Source: SourceAPI})
		mustDo(t, err)
		if i%20 == 0 {
			_, err := s.StartDeployment(Deployment{ID: fmt.Sprintf("b-%d", i), Target: "b", Source: SourceAPI})
			mustDo(t, err)
		}
	}

	a, err := s.Deployments("a")
	mustDo(t, err)
	if len(a) != 50 || a[0].ID != "a-59" || a[49].ID != "a-10" {
		t.Errorf("history of a: %d records, %s..%s; want 50, a-59..a-10", len(a), a[0].ID, a[len(a)-1].ID)
	}
	if _, ok, _ := s.DeploymentByID("a-9"); ok {
		t.Errorf("trimmed deployment a-9 is still found by ID")
	}
	if b, _ := s.Deployments("b"); len(b) != 3 || b[0].ID != "b-40" {
		t.Errorf("history of b: %+v, want b-40, b-20, b-0", b)
	}
	all, err := s.Deployments("")
	mustDo(t, err)
	if len(all) != 53 || all[0].ID != "a-59" || all[len(all)-1].ID != "b-0" {
		t.Errorf("all deployments: %d, %s..%s; want 53, a-59..b-0", len(all), all[0].ID, all[len(all)-1].ID)
	}
	for i := 1; i < len(all); i++ {
		if all[i].StartedAt.After(all[i-1].StartedAt) {
			t.Errorf("Deployments(\"\") not newest first at %d: %s after %s", i, all[i].ID, all[i-1].ID)
		}
	}
	checkInvariants(t, s)
}

func TestDeleteTarget(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	for _, target := range []string{"gone", "kept"} {
		_, err := s.StartDeployment(Deployment{ID: target + "-1", Target: target, Source: SourceAPI})
		mustDo(t, err)
		mustDo(t, s.RecordCheck(target, CheckRecord{Check: "health", Result: ResultPass}))
		mustDo(t, s.PutRuleState(target, "fps", []byte("x")))
	}
	mustDo(t, s.DeleteTarget("gone"))
	mustDo(t, s.DeleteTarget("never-there"))

	if ds, _ := s.Deployments(""); len(ds) != 1 || ds[0].Target != "kept" {
		t.Errorf("deployments after DeleteTarget: %+v", ds)
	}
	if _, ok, _ := s.DeploymentByID("gone-1"); ok {
		t.Errorf("deleted target's deployment still found by ID")
	}
	if h, _ := s.CheckHistory("gone", time.Time{}); len(h) != 0 {
		t.Errorf("deleted target's checks: %+v", h)
	}
	if rs, _ := s.RuleStates("gone"); len(rs) != 0 {
		t.Errorf("deleted target's rule state: %q", rs)
	}
	if h, _ := s.CheckHistory("kept", time.Time{}); len(h) != 1 {
		t.Errorf("kept target lost its checks: %+v", h)
	}
	checkInvariants(t, s)
}

// TestDeploymentsVersion: the version moves after each write that changes
// deployments, even a refused one, and after no other call.
func TestDeploymentsVersion(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	changes := []struct {
		name string
		call func() error
		want bool // the version moves
	}{
		{"StartDeployment", func() error {
			_, err := s.StartDeployment(Deployment{ID: "vr-1", Target: "vr", Source: SourceAPI})
			return err
		}, true},
		{"StartDeployment refused", func() error {
			_, err := s.StartDeployment(Deployment{ID: "vr-1", Target: "vr", Source: SourceAPI})
			if !errors.Is(err, ErrExists) {
				return fmt.Errorf("the same ID again: %v, want ErrExists", err)
			}
			return nil
		}, true},
		{"Deployments", func() error { _, err := s.Deployments("vr"); return err }, false},
		{"CurrentDeployment", func() error { _, _, err := s.CurrentDeployment("vr"); return err }, false},
		{"RecordCheck", func() error { return s.RecordCheck("vr", CheckRecord{Check: "health", Result: ResultPass}) }, false},
		{"PutRollups", func() error { return s.PutRollups("vr", RollupRecord{At: time.Now(), Value: []byte("r")}) }, false},
		{"PutReviewMarker", func() error { return s.PutReviewMarker("vr-1", "hour-1", []byte("m")) }, false},
		{"DeleteTarget", func() error { return s.DeleteTarget("vr") }, true},
	}
	for _, c := range changes {
		before := s.DeploymentsVersion()
		mustDo(t, c.call())
		if moved := s.DeploymentsVersion() != before; moved != c.want {
			t.Errorf("%s: version moved %v, want %v", c.name, moved, c.want)
		}
	}
}
