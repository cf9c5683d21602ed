package k8stest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// binDir holds the daemon built for these tests; TestMain removes it.
var binDir string

// daemonBinary builds cmd/spacetime-watch from the main module, once. The
// daemon's config package is internal to that module, so the tests check
// the manifests' configs with the real binary instead of importing it.
var daemonBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "k8stest-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "spacetime-watch")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/spacetime-watch")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/spacetime-watch: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func daemon(t *testing.T) string {
	t.Helper()
	bin, err := daemonBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestConfigsPassCheckConfig runs the daemon's own strict config check on
// the config each overlay's ConfigMap carries.
func TestConfigsPassCheckConfig(t *testing.T) {
	tests := []struct {
		overlay, deployment string
	}{
		{"example", "spacetime-godot"},
		{"central", "spacetime-watch"},
	}
	for _, tt := range tests {
		t.Run(tt.overlay, func(t *testing.T) {
			objs := overlay(t, tt.overlay)
			dep := find[*appsv1.Deployment](t, objs, tt.deployment)
			c := container(t, &dep.Spec.Template.Spec, "spacetime-watch")
			configPath := flagValue(t, c.Args, "config.file")
			v := volume(t, &dep.Spec.Template.Spec, mountAt(t, c, filepath.Dir(configPath)).Name)
			text, _ := configFile(t, objs, v, filepath.Base(configPath))

			file := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(daemon(t), "check-config", "--config.file="+file)
			cmd.Env = containerEnv(t, c, testPodName)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("spacetime-watch check-config: %v\n%s", err, out)
			}
			if !bytes.Contains(out, []byte(": OK,")) {
				t.Errorf("check-config did not say OK:\n%s", out)
			}
		})
	}
}

// TestSidecarDaemonStarts runs the daemon as the rendered pod spec runs it:
// the container's args and env, the projected config and Secret laid out
// under a temporary root as the kubelet lays them out in the container, an
// empty state dir. The instance it watches answers every request with 503.
// The probes must still answer 200: the daemon serves, and a broken
// instance neither restarts the watcher nor takes the pod out of service.
func TestSidecarDaemonStarts(t *testing.T) {
	objs, dep, c := sidecar(t)
	pod := &dep.Spec.Template.Spec
	bin := daemon(t)
	root := t.TempDir()
	host := func(p string) string { return filepath.Join(root, p) }

	var appHits atomic.Int64
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		appHits.Add(1)
		http.Error(w, "instance broken", http.StatusServiceUnavailable)
	}))
	defer app.Close()
	// Nothing leaves the machine, should the daemon notify.
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hook.Close()
	appAddr := strings.TrimPrefix(app.URL, "http://")

	// Mount paths, longest first, to rewrite the paths the config names.
	var mounts []string
	for _, m := range c.VolumeMounts {
		mounts = append(mounts, m.MountPath)
	}
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	rewrite := func(s string) string {
		for _, m := range mounts {
			s = strings.ReplaceAll(s, m+"/", host(m)+"/")
		}
		// The instance's ports in the pod, here the stand-in's.
		s = strings.ReplaceAll(s, "127.0.0.1:8080", appAddr)
		return strings.ReplaceAll(s, "127.0.0.1:8081", appAddr)
	}
	secretValues := map[string]string{
		"performance-token": strings.Repeat("ab", 32),
		"slack-webhook":     hook.URL + "/services/T0/B0/test",
	}
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range c.VolumeMounts {
		v := volume(t, pod, m.Name)
		switch {
		case v.EmptyDir != nil:
			if err := os.MkdirAll(host(m.MountPath), 0o700); err != nil {
				t.Fatal(err)
			}
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				switch {
				case src.ConfigMap != nil:
					cm := find[*corev1.ConfigMap](t, objs, src.ConfigMap.Name)
					for _, it := range src.ConfigMap.Items {
						write(filepath.Join(host(m.MountPath), it.Path), rewrite(cm.Data[it.Key]))
					}
				case src.Secret != nil:
					for _, it := range src.Secret.Items {
						val, ok := secretValues[it.Key]
						if !ok {
							t.Fatalf("no test value for Secret key %q", it.Key)
						}
						write(filepath.Join(host(m.MountPath), it.Path), val+"\n")
					}
				default:
					t.Fatalf("volume %s: projected source %+v not modelled", v.Name, src)
				}
			}
		default:
			t.Fatalf("volume %s: %+v not modelled", v.Name, v.VolumeSource)
		}
	}

	args := make([]string, 0, len(c.Args))
	for _, a := range c.Args {
		switch {
		case strings.HasPrefix(a, "--web.listen-address="):
			a = "--web.listen-address=127.0.0.1:0"
		case strings.HasPrefix(a, "--"):
			// A path in the container is the same path under root.
			if name, val, ok := strings.Cut(a, "="); ok && filepath.IsAbs(val) {
				a = name + "=" + host(val)
			}
		}
		args = append(args, a)
	}
	env := containerEnv(t, c, testPodName)

	logs := &logWriter{addr: make(chan string, 1)}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = io.Discard
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	}()

	var addr string
	select {
	case addr = <-logs.addr:
	case err := <-exited:
		stopped = true
		t.Fatalf("daemon exited before serving: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not log its listen address within 20 s")
	}

	// Let the daemon meet the broken instance before asking for readiness.
	deadline := time.Now().Add(20 * time.Second)
	for appHits.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the daemon never contacted the instance its config names")
		}
		time.Sleep(20 * time.Millisecond)
	}

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if p == nil {
			continue
		}
		if code, body := get(p.HTTPGet.Path); code != http.StatusOK {
			t.Errorf("probe GET %s = %d %q, want 200 while the instance is broken", p.HTTPGet.Path, code, body)
		}
	}
	// The target is the pod: its metrics, and so its alerts, carry the name.
	// spacetime_up appears when the first check round ends, which may be
	// after the first contact with the instance: wait for it.
	wantUp := `spacetime_up{target="` + testPodName + `"}`
	code, body := get("/metrics")
	for deadline := time.Now().Add(20 * time.Second); code == http.StatusOK && !strings.Contains(body, wantUp) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		code, body = get("/metrics")
	}
	if code != http.StatusOK || !strings.Contains(body, "spacetime_watch_build_info") {
		t.Errorf("GET /metrics = %d, want 200 with spacetime_watch_build_info", code)
	}
	if !strings.Contains(body, wantUp) {
		t.Errorf("GET /metrics has no %s within 20 s: the target is not named after the pod", wantUp)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("daemon exit after SIGTERM: %v, want 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not stop within 15 s of SIGTERM (the pod's grace period is 30 s)")
	}

	// --log.format=json: every line is a JSON object a log pipeline can read.
	for _, line := range logs.lines() {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["msg"] == nil || rec["level"] == nil {
			t.Errorf("log line is not a JSON record with level and msg: %q", line)
		}
	}
}

// testPodName is the pod name the tests' downward API hands the daemon.
const testPodName = "spacetime-godot-5d8f7c9b4-q7x2m"

// containerEnv returns this process's environment plus the container's
// variables, as the kubelet sets them in a pod named podName: a value, or
// the pod's name from the downward API.
func containerEnv(t *testing.T, c *corev1.Container, podName string) []string {
	t.Helper()
	env := os.Environ()
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			env = append(env, e.Name+"="+podName)
		default:
			t.Fatalf("env %s: valueFrom %+v not modelled", e.Name, e.ValueFrom)
		}
	}
	return env
}

// logWriter collects the daemon's log lines and sends the address of its
// "Listening on" line once.
type logWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	all     []string
	addr    chan string
	sent    bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		w.all = append(w.all, line)
		var rec struct{ Msg, Address string }
		if !w.sent && json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "Listening on" && rec.Address != "" {
			w.addr <- rec.Address
			w.sent = true
		}
	}
	return len(p), nil
}

func (w *logWriter) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.all)
}

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
