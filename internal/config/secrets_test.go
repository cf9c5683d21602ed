package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestSecretWarningsNameTheFileToCreate: a sink's webhook file that does
// not exist yet loads (run starts, the sink unhealthy) and gives one
// warning naming the field and the file; an existing one gives none.
func TestSecretWarningsNameTheFileToCreate(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "oncall-webhook")
	present := testkit.WriteFileIn(t, dir, "team-webhook", "https://hooks.slack.com/services/T0/B0/x\n")
	cfg, err := Parse([]byte(fmt.Sprintf(`alerting:
  sinks:
    - {name: oncall, type: slack_webhook, webhook_url_file: %s}
    - {name: team, type: slack_webhook, webhook_url_file: %s}
`, missing, present)), testOpts(""))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.SecretWarnings()
	if len(got) != 1 {
		t.Fatalf("warnings = %q, want one, for %s", got, missing)
	}
	for _, want := range []string{"alerting.sinks[0].webhook_url_file", "secret file " + missing + " does not exist: create it", "sink oncall is unhealthy"} {
		if !strings.Contains(got[0].String(), want) {
			t.Errorf("warning %q lacks %q", got[0], want)
		}
	}
	testkit.WriteFile(t, missing, "https://hooks.slack.com/services/T0/B0/y\n")
	if got := cfg.SecretWarnings(); len(got) != 0 {
		t.Errorf("warnings once the file exists = %q", got)
	}
}
