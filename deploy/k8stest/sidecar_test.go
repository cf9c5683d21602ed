package k8stest

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// measuredFootprint is the daemon's peak RSS watching one target
// (scripts/footprint.sh), which the sidecar's resources are sized from.
var measuredFootprint = resource.MustParse("17Mi")

// sidecar returns the example overlay's spacetime-godot Deployment and its
// spacetime-watch container.
func sidecar(t *testing.T) ([]Object, *appsv1.Deployment, *corev1.Container) {
	t.Helper()
	objs := overlay(t, "example")
	dep := find[*appsv1.Deployment](t, objs, "spacetime-godot")
	return objs, dep, container(t, &dep.Spec.Template.Spec, "spacetime-watch")
}

func TestSidecarIsNative(t *testing.T) {
	_, dep, c := sidecar(t)
	pod := dep.Spec.Template.Spec

	if !slices.ContainsFunc(pod.InitContainers, func(ic corev1.Container) bool { return ic.Name == "spacetime-watch" }) {
		t.Fatalf("spacetime-watch is not an init container; init containers: %v", pod.InitContainers)
	}
	if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Errorf("restartPolicy = %v, want Always (a native sidecar, Kubernetes >= 1.29)", c.RestartPolicy)
	}
	if dep.Namespace != "spacetime" {
		t.Errorf("Deployment namespace = %q, want spacetime", dep.Namespace)
	}
	if name, _, _ := strings.Cut(c.Image, ":"); name != "ghcr.io/spacetime-vr/spacetime-watch" {
		t.Errorf("image = %q, want ghcr.io/spacetime-vr/spacetime-watch (users override it with images:)", c.Image)
	}
	wantArgs := []string{"run", "--config.file=/etc/spacetime-watch/config.yaml", "--config.auto-reload", "--state.dir=/var/lib/spacetime-watch", "--web.listen-address=:9850", "--log.format=json"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args = %q, want %q", c.Args, wantArgs)
	}
	if len(c.Command) != 0 {
		t.Errorf("command = %q, want none (the image's entrypoint)", c.Command)
	}
	if p := portNumber(t, c, intstrFrom("metrics")); p != 9850 {
		t.Errorf("port metrics = %d, want 9850", p)
	}

	// The component adds a container and leaves the application's alone.
	base := readDeployment(t, filepath.Join(k8sDir, "overlays/example/deployment.yaml"))
	if !reflect.DeepEqual(pod.Containers, base.Spec.Template.Spec.Containers) {
		t.Errorf("the component changed the application's containers:\n got %+v\nwant %+v", pod.Containers, base.Spec.Template.Spec.Containers)
	}
}

// TestSidecarProbes: the sidecar never gates the game pod. A native
// sidecar's readiness counts toward the pod's, and the pod's readiness
// decides whether players reach the game server; a startup probe would hold
// the game server's start until the watcher passed it. Liveness only.
func TestSidecarProbes(t *testing.T) {
	_, _, c := sidecar(t)
	checkLiveness(t, c)
	if c.ReadinessProbe != nil {
		t.Errorf("readinessProbe = %+v: a native sidecar's readiness gates the game pod's traffic; want none", c.ReadinessProbe)
	}
	if c.StartupProbe != nil {
		t.Errorf("startupProbe = %+v: the game server would wait for the watcher to pass it; want none", c.StartupProbe)
	}
}

// checkLiveness checks the liveness probe the sidecar and the central
// daemon share: /-/healthy reflects the daemon's own loop, never the
// watched instance, and its handler bounds that check at 5 s.
func checkLiveness(t *testing.T, c *corev1.Container) {
	t.Helper()
	checkHTTPProbe(t, c, "liveness", c.LivenessProbe, "/-/healthy")
	if lp := c.LivenessProbe; lp != nil && lp.TimeoutSeconds <= 5 {
		t.Errorf("liveness timeoutSeconds = %d, want more than the handler's own 5 s bound", lp.TimeoutSeconds)
	}
}

// checkHTTPProbe checks that p is an HTTP GET of path on the daemon's port.
func checkHTTPProbe(t *testing.T, c *corev1.Container, name string, p *corev1.Probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s probe = %+v, want an httpGet probe", name, p)
		return
	}
	if p.HTTPGet.Path != path {
		t.Errorf("%s path = %q, want %q", name, p.HTTPGet.Path, path)
	}
	if port := portNumber(t, c, p.HTTPGet.Port); port != 9850 {
		t.Errorf("%s port = %d, want 9850", name, port)
	}
	if p.HTTPGet.Scheme != "" && p.HTTPGet.Scheme != corev1.URISchemeHTTP {
		t.Errorf("%s scheme = %s, want HTTP", name, p.HTTPGet.Scheme)
	}
}

func TestSidecarSecurityContext(t *testing.T) {
	_, _, c := sidecar(t)
	checkSecurityContext(t, c)
}

// checkSecurityContext checks the hardening the sidecar and the central
// daemon share.
func checkSecurityContext(t *testing.T, c *corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("no securityContext")
	}
	tests := []struct {
		field string
		ok    bool
	}{
		{"runAsNonRoot: true", sc.RunAsNonRoot != nil && *sc.RunAsNonRoot},
		{"runAsUser: 65532", sc.RunAsUser != nil && *sc.RunAsUser == 65532},
		{"readOnlyRootFilesystem: true", sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem},
		{"allowPrivilegeEscalation: false", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
		{"privileged unset or false", sc.Privileged == nil || !*sc.Privileged},
		{"capabilities.drop: [ALL]", sc.Capabilities != nil && slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"})},
		{"no capability added", sc.Capabilities != nil && len(sc.Capabilities.Add) == 0},
		{"seccompProfile: RuntimeDefault", sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
	}
	for _, tt := range tests {
		if !tt.ok {
			t.Errorf("securityContext: want %s; got %+v", tt.field, sc)
		}
	}
}

func TestSidecarResources(t *testing.T) {
	_, _, c := sidecar(t)
	checkResources(t, c)
}

// checkResources checks that requests and limits are set, consistent, and
// sized from the measured footprint, and that GOMEMLIMIT sits below the
// memory limit.
func checkResources(t *testing.T, c *corev1.Container) {
	t.Helper()
	r := c.Resources
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := r.Requests[name]
		lim, okLim := r.Limits[name]
		if !okReq || !okLim {
			t.Errorf("%s: request %v, limit %v: want both set", name, req.String(), lim.String())
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("%s: request %s above limit %s", name, req.String(), lim.String())
		}
	}
	memReq, memLim := r.Requests[corev1.ResourceMemory], r.Limits[corev1.ResourceMemory]
	// The Go heap may double between collections: the request holds the
	// measured peak with room for that, the limit twice the request.
	if memReq.Value() < measuredFootprint.Value()*3/2 {
		t.Errorf("memory request %s: want at least 1.5x the measured %s", memReq.String(), measuredFootprint.String())
	}
	if memLim.Value() < 2*memReq.Value() {
		t.Errorf("memory limit %s: want at least twice the request %s", memLim.String(), memReq.String())
	}
	var goMemLimit string
	if e := envVar(c, "GOMEMLIMIT"); e != nil {
		goMemLimit = e.Value
	}
	// GOMEMLIMIT's MiB is Kubernetes' Mi.
	q, err := resource.ParseQuantity(strings.TrimSuffix(goMemLimit, "B"))
	if err != nil {
		t.Fatalf("GOMEMLIMIT = %q: %v", goMemLimit, err)
	}
	if q.Cmp(memLim) >= 0 || q.Cmp(memReq) <= 0 {
		t.Errorf("GOMEMLIMIT %s: want between the memory request %s and limit %s", goMemLimit, memReq.String(), memLim.String())
	}
}

func TestSidecarMounts(t *testing.T) {
	objs, dep, c := sidecar(t)
	pod := &dep.Spec.Template.Spec

	for _, m := range c.VolumeMounts {
		if m.SubPath != "" || m.SubPathExpr != "" {
			t.Errorf("mount %s uses subPath: the kubelet would never update it", m.Name)
		}
	}

	// Config and secrets: one projected volume at the config's directory.
	configPath := flagValue(t, c.Args, "config.file")
	cfgMount := mountAt(t, c, filepath.Dir(configPath))
	if !cfgMount.ReadOnly {
		t.Errorf("mount %s is writable, want readOnly", cfgMount.Name)
	}
	v := volume(t, pod, cfgMount.Name)
	_, cfg := configFile(t, objs, v, filepath.Base(configPath))

	secret, files, optional := projectedSecretFiles(v, cfgMount.MountPath)
	if secret != "spacetime-secrets" {
		t.Errorf("projected Secret = %q, want spacetime-secrets", secret)
	}
	// A key or Secret missing must not keep the game server from starting.
	if !optional {
		t.Errorf("the Secret source is not optional: a missing key would keep the whole pod, game server included, from starting")
	}
	wantFiles := map[string]string{
		"performance-token": "/etc/spacetime-watch/secrets/performance-token",
		"slack-webhook":     "/etc/spacetime-watch/secrets/slack-webhook",
	}
	if !reflect.DeepEqual(files, wantFiles) {
		t.Errorf("Secret items = %v, want %v (API_TOKEN is left out: the instance ignores it)", files, wantFiles)
	}
	checkSecretFilesProvided(t, cfg, files)

	// State: an emptyDir at --state.dir.
	stateMount := mountAt(t, c, flagValue(t, c.Args, "state.dir"))
	if stateMount.ReadOnly {
		t.Errorf("state mount %s is read-only", stateMount.Name)
	}
	if sv := volume(t, pod, stateMount.Name); sv.EmptyDir == nil {
		t.Errorf("state volume %s = %+v, want an emptyDir (a rescheduled pod is a new instance)", sv.Name, sv.VolumeSource)
	}
}

// checkSecretFilesProvided checks that every *_file the config names is one
// the projected Secret provides.
func checkSecretFilesProvided(t *testing.T, cfg map[string]any, files map[string]string) {
	t.Helper()
	provided := map[string]bool{}
	for _, f := range files {
		provided[f] = true
	}
	named := fileKeys(cfg)
	if len(named) == 0 {
		t.Errorf("the config names no secret file; the Secret's items would go unused")
	}
	for _, f := range named {
		if !provided[f] {
			t.Errorf("the config reads %s, which no Secret item provides (items: %v)", f, files)
		}
	}
}

func TestSidecarConfigWatchesLoopback(t *testing.T) {
	objs, dep, c := sidecar(t)
	configPath := flagValue(t, c.Args, "config.file")
	v := volume(t, &dep.Spec.Template.Spec, mountAt(t, c, filepath.Dir(configPath)).Name)
	_, cfg := configFile(t, objs, v, filepath.Base(configPath))

	targets, _ := cfg["targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("targets = %v, want the one instance in the pod", cfg["targets"])
	}
	target, _ := targets[0].(map[string]any)
	// Alerts name the pod: the target is ${POD_NAME}, which the container's
	// environment takes from the downward API.
	if got := target["name"]; got != "${POD_NAME}" {
		t.Errorf("name = %v, want ${POD_NAME} (alerts of N game pods must say which pod)", got)
	}
	if e := envVar(c, "POD_NAME"); e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("env POD_NAME = %+v, want valueFrom.fieldRef.fieldPath metadata.name", e)
	}
	if got := target["api_url"]; got != "http://127.0.0.1:8080" {
		t.Errorf("api_url = %v, want http://127.0.0.1:8080 (the API binds loopback only)", got)
	}
	if got, _ := target["telemetry_urls"].([]any); !reflect.DeepEqual(got, []any{"ws://127.0.0.1:8081/"}) {
		t.Errorf("telemetry_urls = %v, want [ws://127.0.0.1:8081/]", target["telemetry_urls"])
	}
	// The instance ignores API_TOKEN; its token comes from /status.
	if got := target["token_from_status"]; got != true {
		t.Errorf("token_from_status = %v, want true", got)
	}
	for _, k := range []string{"token_file", "token_env"} {
		if _, ok := target[k]; ok {
			t.Errorf("%s set: the instance accepts only the token /status hands out", k)
		}
	}
}

func TestSidecarPodMonitor(t *testing.T) {
	objs, dep, c := sidecar(t)
	pm := only[*monitoringv1.PodMonitor](t, objs)
	if pm.Namespace != dep.Namespace {
		t.Errorf("PodMonitor in %q, pods in %q: a PodMonitor selects pods of its own namespace unless told otherwise", pm.Namespace, dep.Namespace)
	}
	if !selects(t, &pm.Spec.Selector, dep.Spec.Template.Labels) {
		t.Errorf("PodMonitor selector %v does not select the pod's labels %v", pm.Spec.Selector, dep.Spec.Template.Labels)
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 {
		t.Fatalf("podMetricsEndpoints = %+v, want one", pm.Spec.PodMetricsEndpoints)
	}
	ep := pm.Spec.PodMetricsEndpoints[0]
	if ep.Port == nil || portNumber(t, c, intstrFrom(*ep.Port)) != 9850 {
		t.Errorf("endpoint port = %v, want the sidecar's metrics port", ep.Port)
	}
	if ep.Path != "/metrics" {
		t.Errorf("endpoint path = %q, want /metrics", ep.Path)
	}
	checkJobRelabel(t, ep.RelabelConfigs)
}

// checkJobRelabel checks that scrapes get job="spacetime-watch", the job
// the rules and the dashboard query.
func checkJobRelabel(t *testing.T, rcs []monitoringv1.RelabelConfig) {
	t.Helper()
	for _, rc := range rcs {
		if rc.TargetLabel == "job" && rc.Replacement != nil && *rc.Replacement == "spacetime-watch" &&
			(rc.Action == "" || strings.EqualFold(rc.Action, "replace")) && len(rc.SourceLabels) == 0 {
			return
		}
	}
	t.Errorf("relabelings %+v do not set job=spacetime-watch", rcs)
}

func TestSidecarNetworkPolicy(t *testing.T) {
	objs, dep, _ := sidecar(t)
	np := only[*networkingv1.NetworkPolicy](t, objs)
	pod := &dep.Spec.Template
	if np.Namespace != dep.Namespace {
		t.Fatalf("NetworkPolicy in %q, pods in %q", np.Namespace, dep.Namespace)
	}
	if !selects(t, &np.Spec.PodSelector, pod.Labels) {
		t.Fatalf("NetworkPolicy selector %v does not select the pod's labels %v", np.Spec.PodSelector, pod.Labels)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("policyTypes = %v, want [Ingress]: egress (Slack, the instance) stays open", np.Spec.PolicyTypes)
	}

	tests := []struct {
		name  string
		from  string // the source pod's namespace
		port  int32
		proto corev1.Protocol
		want  bool
	}{
		{"Prometheus in monitoring scrapes the sidecar", "monitoring", 9850, corev1.ProtocolTCP, true},
		{"a pod of the app's namespace cannot reach the sidecar", "spacetime", 9850, corev1.ProtocolTCP, false},
		{"a pod of another namespace cannot reach the sidecar", "default", 9850, corev1.ProtocolTCP, false},
		{"UDP to the metrics port stays closed", "monitoring", 9850, corev1.ProtocolUDP, false},
		{"the API port stays open", "default", 8080, corev1.ProtocolTCP, true},
		{"the telemetry port stays open", "default", 8081, corev1.ProtocolTCP, true},
		{"the discovery port stays open", "default", 8087, corev1.ProtocolUDP, true},
		{"ports nobody named are closed", "default", 8087, corev1.ProtocolTCP, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := admits(t, np, pod, tt.from, tt.port, tt.proto); got != tt.want {
				t.Errorf("from namespace %s to %d/%s: admitted = %v, want %v", tt.from, tt.port, tt.proto, got, tt.want)
			}
		})
	}

	// Whatever the application declares stays reachable as before.
	for _, app := range pod.Spec.Containers {
		for _, p := range app.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			if !admits(t, np, pod, "default", p.ContainerPort, proto) {
				t.Errorf("container %s port %d/%s (%s) is blocked by the policy", app.Name, p.ContainerPort, proto, p.Name)
			}
		}
	}
}

// envVar returns the container's variable name, or nil.
func envVar(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// TestSidecarConfigChangeKeepsPod: the ConfigMap has a fixed name, so a
// config change updates it in place and leaves the pod template as it was:
// the game server keeps running and its players stay connected. The test
// renders a copy of the manifests with another config and compares.
func TestSidecarConfigChangeKeepsPod(t *testing.T) {
	objs, dep, _ := sidecar(t)
	cm := find[*corev1.ConfigMap](t, objs, "spacetime-watch-config")
	if cm.Namespace != dep.Namespace {
		t.Errorf("ConfigMap in %q, pod in %q", cm.Namespace, dep.Namespace)
	}

	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(k8sDir)); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "components/sidecar/config.yaml")
	old, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(old), "targets:", "# a changed config\ntargets:", 1)
	if err := os.WriteFile(cfg, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := Render(ctx, filepath.Join(dir, "overlays/example"))
	if err != nil {
		t.Fatal(err)
	}
	objs2, err := DecodeAll(out)
	if err != nil {
		t.Fatal(err)
	}
	cm2 := find[*corev1.ConfigMap](t, objs2, "spacetime-watch-config")
	if cm2.Data["config.yaml"] == cm.Data["config.yaml"] {
		t.Fatal("the changed config rendered the same ConfigMap; the test changed nothing")
	}
	dep2 := find[*appsv1.Deployment](t, objs2, "spacetime-godot")
	if !reflect.DeepEqual(dep.Spec.Template, dep2.Spec.Template) {
		t.Errorf("a config change changed the pod template (a ConfigMap name hash?): the game pod would roll\n before %+v\n after  %+v",
			dep.Spec.Template.Spec.Volumes, dep2.Spec.Template.Spec.Volumes)
	}
}
