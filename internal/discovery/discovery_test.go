package discovery

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/logging"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fileCfg is a config file's config with one target of its own, "main",
// and target_files dir/*.yaml.
func fileCfg(t *testing.T, dir string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte("targets:\n  - name: main\n    api_url: http://10.0.0.1:8080\n    telemetry_urls: []\ntarget_files: ['"+dir+"/*.yaml']\n"),
		config.ParseOptions{Filename: "config.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func names(cfg *config.Config) string {
	var out []string
	for _, t := range cfg.Targets {
		out = append(out, t.Name)
	}
	return strings.Join(out, ",")
}

func target(name, host string) string {
	return "- name: " + name + "\n  api_url: http://" + host + ":8080\n  telemetry_urls: []\n"
}

func TestTargets(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	f := New(Options{Registry: reg})
	cfg := fileCfg(t, dir)
	errorsTotal := func() float64 { return testutil.ToFloat64(f.readErrors) }

	testkit.WriteFileIn(t, dir, "b.yaml", target("b1", "10.0.1.1")+target("b2", "10.0.1.2"))
	testkit.WriteFileIn(t, dir, "a.yaml", target("a1", "10.0.2.1"))
	testkit.WriteFileIn(t, dir, "ignored.txt", "not matched")
	got, err := f.Targets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := names(got); n != "main,a1,b1,b2" {
		t.Errorf("targets = %s, want the config's, then the files' in path order", n)
	}
	if n := names(cfg); n != "main" {
		t.Errorf("the config itself changed: %s", n)
	}
	if v := testutil.ToFloat64(f.discovered); v != 3 {
		t.Errorf("discovered gauge = %v, want 3", v)
	}

	t.Run("a bad file keeps its previous targets", func(t *testing.T) {
		testkit.WriteFileIn(t, dir, "b.yaml", target("b1", "10.0.1.1")+"- name: b3\n  api_url: http://10.0.1.3:8080\n  bogus: 1\n")
		got, err := f.Targets(cfg)
		if err == nil || !strings.Contains(err.Error(), "target file "+filepath.Join(dir, "b.yaml")+": line 6: [1].bogus: unknown field") {
			t.Errorf("err = %v, want the file, line and field", err)
		}
		if n := names(got); n != "main,a1,b1,b2" {
			t.Errorf("targets = %s, want b.yaml's previous b1,b2 kept", n)
		}
		if errorsTotal() != 1 || testutil.ToFloat64(f.readOK) != 0 {
			t.Errorf("errors_total = %v, last_read_successful = %v; want 1 and 0", errorsTotal(), testutil.ToFloat64(f.readOK))
		}
	})

	t.Run("a name or an instance defined twice is refused, naming both places", func(t *testing.T) {
		testkit.WriteFileIn(t, dir, "b.yaml", target("b1", "10.0.1.1"))
		testkit.WriteFileIn(t, dir, "c.yaml", target("x", "10.0.3.1")+target("main", "10.0.3.2")+target("y", "10.0.2.1"))
		got, err := f.Targets(cfg)
		for _, want := range []string{
			`line 4: [1].name: "main" is already defined at config file targets[0]`,
			"line 7: [2].api_url: http://10.0.2.1:8080 is already watched by the target at " + filepath.Join(dir, "a.yaml") + ":1",
		} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v\nwant it to contain %q", err, want)
			}
		}
		if n := names(got); n != "main,a1,b1" {
			t.Errorf("targets = %s, want c.yaml refused whole (it had nothing before) and b.yaml's new content", n)
		}
	})

	t.Run("a file removed takes its targets away", func(t *testing.T) {
		for _, n := range []string{"b.yaml", "c.yaml"} {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := f.Targets(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if n := names(got); n != "main,a1" {
			t.Errorf("targets = %s, want main,a1", n)
		}
		if testutil.ToFloat64(f.readOK) != 1 {
			t.Error("last_read_successful should be 1 again")
		}
	})
}

// TestTargetsNeverEchoSecrets: a password in an api_url and a webhook URL
// pasted where a token file belongs are refused, and neither the error
// nor the log (debug level, every problem) repeats them.
func TestTargetsNeverEchoSecrets(t *testing.T) {
	dir := t.TempDir()
	var logs testkit.Buffer
	log, err := logging.New(&logs, "debug", "json")
	if err != nil {
		t.Fatal(err)
	}
	f := New(Options{Registry: prometheus.NewRegistry(), Logger: log})
	const password, webhook = "s3cr3t-pass", "https://hooks.slack.com/services/T0/B0/s3cr3twebhook"
	testkit.WriteFileIn(t, dir, "a.yaml", "- name: a\n  api_url: http://user:"+password+"@10.0.0.1:8080\n  telemetry_urls: []\n"+
		"- name: b\n  api_url: http://10.0.0.2:8080\n  token_file: "+webhook+"\n")
	_, err = f.Targets(fileCfg(t, dir))
	if err == nil || !strings.Contains(err.Error(), "[1].token_file: holds a secret value") {
		t.Fatalf("err = %v, want the pasted secret refused", err)
	}
	leaks := testkit.SecretForms(password, webhook)
	for what, text := range map[string]string{"the error": err.Error(), "the log": logs.String()} {
		if leaks(text) {
			t.Errorf("%s repeats a secret:\n%s", what, text)
		}
	}
	if !strings.Contains(logs.String(), "target file problem") {
		t.Errorf("the log does not report the problems:\n%s", logs.String())
	}
}

// TestWatch: a file written, added or removed makes Watch apply, on the
// folder's events (the refresh is an hour away); a touch or a file the
// patterns do not match does not; a folder that appears after the start
// is found.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "targets") // created later
	f := New(Options{Registry: prometheus.NewRegistry()})
	cfg := fileCfg(t, sub)
	var applied atomic.Int32
	var last atomic.Value
	last.Store("")
	apply := func(context.Context) error {
		got, _ := f.Targets(cfg)
		last.Store(names(got))
		applied.Add(1)
		return nil
	}
	if _, err := f.Targets(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- f.Watch(ctx, 20*time.Millisecond, time.Hour, apply) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitFor := func(want string) {
		t.Helper()
		testkit.Eventually(t, 5*time.Second, "targets "+want, func() (bool, string) {
			s := last.Load().(string)
			return s == want, s
		})
	}

	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFileIn(t, sub, "a.yaml", target("a1", "10.0.2.1"))
	waitFor("main,a1")
	testkit.WriteFileIn(t, sub, "a.yaml", target("a1", "10.0.2.1")+target("a2", "10.0.2.2"))
	waitFor("main,a1,a2")
	testkit.WriteFileIn(t, sub, "b.yaml", target("b1", "10.0.1.1"))
	waitFor("main,a1,a2,b1")
	if err := os.Remove(filepath.Join(sub, "a.yaml")); err != nil {
		t.Fatal(err)
	}
	waitFor("main,b1")

	n := applied.Load()
	testkit.WriteFileIn(t, sub, "b.yaml", target("b1", "10.0.1.1")) // same content
	testkit.WriteFileIn(t, sub, "notes.txt", "not a target file")
	now := time.Now()
	if err := os.Chtimes(filepath.Join(sub, "b.yaml"), now, now); err != nil {
		t.Fatal(err)
	}
	// Ten debounces: a change would have been applied by now.
	time.Sleep(200 * time.Millisecond) // proving that nothing happens takes waiting
	if got := applied.Load(); got != n {
		t.Errorf("%d applies after a touch and an unmatched file, want none", got-n)
	}
}
