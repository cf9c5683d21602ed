package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// deploymentsDaemon runs a daemon watching one checklist instance "main"
// and waits for its first round.
func deploymentsDaemon(t *testing.T) (*runningDaemon, *sim.Sim) {
	t.Helper()
	s := simtest.Start(t, sim.Options{})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"main", s}))
	d := startDaemon(t, cfg, daemonSetup{})
	waitValue(t, d.reg, 10*time.Second, "spacetime_up", map[string]string{"target": "main"}, 1)
	return d, s
}

func newClient(t *testing.T, d *runningDaemon) *daemon.Client {
	t.Helper()
	c, err := daemon.NewClient(d.url, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// deploymentsOf lists main's deployments, newest first.
func deploymentsOf(t *testing.T, c *daemon.Client) []daemon.Deployment {
	t.Helper()
	ds, err := c.Deployments(context.Background(), "main")
	if err != nil {
		t.Fatalf("Deployments: %v", err)
	}
	return ds
}

// TestDeploymentByAPI: an operator's deployment, declared through the
// client (POST /api/v1/deployments), is created (201) and listed first;
// the daemon's first sight of the target had started one already.
func TestDeploymentByAPI(t *testing.T) {
	t.Parallel()
	d, _ := deploymentsDaemon(t)
	c := newClient(t, d)

	// The first sight is the first round whose /status answered within
	// the 300 ms request timeout: on a loaded machine, maybe not the first.
	var ds []daemon.Deployment
	testkit.Eventually(t, 10*time.Second, "the first sight's deployment", func() (bool, string) {
		ds = deploymentsOf(t, c)
		return len(ds) > 0, "no deployment yet"
	})
	if len(ds) != 1 || ds[0].Source != store.SourceNewTarget || ds[0].Version != sim.DefaultAppVersion {
		t.Fatalf("deployments after the first sight: %+v; want one auto-new-target of version %s", ds, sim.DefaultAppVersion)
	}

	at := testkit.BaseTime(t)
	got, err := c.StartDeployment(context.Background(), daemon.StartDeploymentRequest{Target: "main", Version: "1.2.4", StartedAt: at})
	if err != nil {
		t.Fatalf("StartDeployment: %v", err)
	}
	if got.ID == "" || got.Target != "main" || got.Version != "1.2.4" || got.Source != store.SourceAPI || !got.StartedAt.Equal(at) {
		t.Errorf("StartDeployment returned %+v", got)
	}
	ds = deploymentsOf(t, c)
	if len(ds) != 2 || ds[0].ID != got.ID {
		t.Errorf("deployments %+v; want 2, the API one (%s) first", ds, got.ID)
	}
	if st := d.status(); st.Targets[0].Deployment == nil || st.Targets[0].Deployment.ID != got.ID {
		t.Errorf("status deployment %+v, want %s", st.Targets[0].Deployment, got.ID)
	}
	waitValue(t, d.reg, 5*time.Second, "spacetime_deployment_start_timestamp_seconds", map[string]string{"target": "main"}, float64(at.Unix()))

	// The raw answer is a 201 with the deployment; no started_at means now.
	before := time.Now().Add(-time.Second)
	code, body := httpDo(t, http.MethodPost, d.url+"/api/v1/deployments", `{"target":"main","version":"1.2.5"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST: %d %s, want 201", code, body)
	}
	var raw daemon.Deployment
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Version != "1.2.5" || raw.StartedAt.Before(before) {
		t.Errorf("POST without started_at: %+v, want version 1.2.5 started now", raw)
	}

	// A note goes with the deployment, in the answer and in the list.
	noted, err := c.StartDeployment(context.Background(), daemon.StartDeploymentRequest{Target: "main", Version: "1.2.6", Note: "hotfix: lobby freeze (OPS-42)"})
	if err != nil || noted.Note != "hotfix: lobby freeze (OPS-42)" {
		t.Fatalf("StartDeployment with a note = %+v, %v", noted, err)
	}
	if ds := deploymentsOf(t, c); len(ds) == 0 || ds[0].ID != noted.ID || ds[0].Note != noted.Note {
		t.Errorf("deployments %+v; want the noted one first, with its note", ds)
	}
}

// TestDeploymentAPIErrors: a bad body is a 400 naming the field, an
// unknown target a 404 naming the configured ones; the client passes the
// reason on.
func TestDeploymentAPIErrors(t *testing.T) {
	t.Parallel()
	d, _ := deploymentsDaemon(t)
	cases := []struct {
		name string
		body string
		code int
		want []string
	}{
		{"missing version", `{"target":"main"}`, 400, []string{"version"}},
		{"missing both", `{}`, 400, []string{"target", "version"}},
		{"blank target", `{"target":"  ","version":"1"}`, 400, []string{"target"}},
		{"unknown field", `{"target":"main","version":"1","colour":"blue"}`, 400, []string{"colour"}},
		{"not JSON", `target=main`, 400, []string{"JSON"}},
		{"bad time", `{"target":"main","version":"1","started_at":"yesterday"}`, 400, []string{"started_at"}},
		{"unknown target", `{"target":"staging","version":"1"}`, 404, []string{"staging", "main"}},
		{"note too long", `{"target":"main","version":"1","note":"` + strings.Repeat("x", daemon.MaxNoteLength+1) + `"}`, 400, []string{"note", "at most 1024"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := httpDo(t, http.MethodPost, d.url+"/api/v1/deployments", tc.body)
			if code != tc.code {
				t.Fatalf("POST %s: %d %s, want %d", tc.body, code, body, tc.code)
			}
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
				t.Fatalf("error body %q is not {\"error\": ...}", body)
			}
			for _, w := range tc.want {
				if !strings.Contains(e.Error, w) {
					t.Errorf("error %q does not name %q", e.Error, w)
				}
			}
		})
	}

	t.Run("through the client", func(t *testing.T) {
		_, err := newClient(t, d).StartDeployment(context.Background(), daemon.StartDeploymentRequest{Target: "staging", Version: "1"})
		if err == nil || !strings.Contains(err.Error(), "unknown target") || !strings.Contains(err.Error(), "main") {
			t.Errorf("StartDeployment(staging): %v; want unknown target naming main", err)
		}
	})

	if ds := deploymentsOf(t, newClient(t, d)); len(ds) != 1 {
		t.Errorf("refused requests recorded deployments: %+v", ds)
	}
}

// TestDeploymentByRestart: the instance restarting with a new version
// starts a deployment (auto-restart) and counts the restart; a restart
// with the same version is counted only.
func TestDeploymentByRestart(t *testing.T) {
	t.Parallel()
	d, s := deploymentsDaemon(t)
	c := newClient(t, d)
	restarts := map[string]string{"target": "main"}

	s.Restart("1.2.4")
	waitValue(t, d.reg, 10*time.Second, "spacetime_restarts_total", restarts, 1)
	testkit.Eventually(t, 5*time.Second, "an auto-restart deployment of 1.2.4", func() (bool, string) {
		ds := deploymentsOf(t, c)
		return len(ds) == 2 && ds[0].Source == store.SourceRestart && ds[0].Version == "1.2.4", fmt.Sprintf("%+v", ds)
	})
	if ds := deploymentsOf(t, c); ds[1].Source != store.SourceNewTarget {
		t.Errorf("the first deployment is %+v, want auto-new-target", ds[1])
	}

	s.Restart("")
	waitValue(t, d.reg, 10*time.Second, "spacetime_restarts_total", restarts, 2)
	// One more round after the count, to be sure no deployment follows.
	counted := time.Now()
	testkit.Eventually(t, 5*time.Second, "a round after the second restart", func() (bool, string) {
		st := d.status()
		return st.Targets[0].LastRound.After(counted), st.Targets[0].LastRound.String()
	})
	if ds := deploymentsOf(t, c); len(ds) != 2 {
		t.Errorf("a restart with the same version started a deployment: %+v", ds)
	}
}

// TestDeploymentDeclaredAtStart: a deployment an operator declares while
// the daemon's first round of a new target is under way stays the current
// one: the round's auto-new-target decision and the operator's declaration
// are serialised, so the round either sees the declared deployment or
// records its own before it.
func TestDeploymentDeclaredAtStart(t *testing.T) {
	t.Parallel()
	for i := range 5 {
		t.Run(fmt.Sprint("attempt ", i), func(t *testing.T) {
			t.Parallel()
			s := simtest.Start(t, sim.Options{})
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config.yaml")
			testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"main", s}))
			d := startDaemon(t, cfg, daemonSetup{})
			c := newClient(t, d)
			got, err := c.StartDeployment(context.Background(), daemon.StartDeploymentRequest{Target: "main", Version: "9.9.9"})
			if err != nil {
				t.Fatal(err)
			}
			waitValue(t, d.reg, 10*time.Second, "spacetime_up", map[string]string{"target": "main"}, 1)
			if ds := deploymentsOf(t, c); ds[0].ID != got.ID {
				t.Errorf("declared %s, but the current deployment is %+v", got.ID, ds[0])
			}
		})
	}
}
