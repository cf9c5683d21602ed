package k8stest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// sharded returns the sharded overlay's objects, its StatefulSet and the
// daemon's container.
func sharded(t *testing.T) ([]Object, *appsv1.StatefulSet, *corev1.Container) {
	t.Helper()
	objs := overlay(t, "sharded")
	sts := find[*appsv1.StatefulSet](t, objs, "spacetime-watch")
	return objs, sts, container(t, &sts.Spec.Template.Spec, "spacetime-watch")
}

// TestShardedStatefulSet: N replicas, each its own shard (the pod's
// ordinal) of as many shards as there are replicas, each with its own
// state volume, none waiting for another to start.
func TestShardedStatefulSet(t *testing.T) {
	objs, sts, c := sharded(t)
	count, err := strconv.Atoi(flagValue(t, c.Args, "shard.count"))
	if err != nil {
		t.Fatalf("--shard.count: %v", err)
	}
	if sts.Spec.Replicas == nil || int(*sts.Spec.Replicas) != count || count < 2 {
		t.Errorf("replicas = %v, --shard.count = %d: want equal, and at least 2", sts.Spec.Replicas, count)
	}
	if !slices.Contains(c.Args, "--shard.from-hostname") {
		t.Errorf("args %q: want --shard.from-hostname, so each replica takes its ordinal as its shard", c.Args)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy = %q, want Parallel: a replica that cannot start must not hold back the others", sts.Spec.PodManagementPolicy)
	}
	state := mountAt(t, c, flagValue(t, c.Args, "state.dir"))
	i := slices.IndexFunc(sts.Spec.VolumeClaimTemplates, func(p corev1.PersistentVolumeClaim) bool { return p.Name == state.Name })
	if i < 0 {
		t.Fatalf("state mount %s is not a volumeClaimTemplate: the shards would share one state (one writer each)", state.Name)
	}
	if pvc := sts.Spec.VolumeClaimTemplates[i]; !slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
		t.Errorf("state PVC access modes = %v, want [ReadWriteOnce]", pvc.Spec.AccessModes)
	}
	svc := find[*corev1.Service](t, objs, sts.Spec.ServiceName)
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("governing Service clusterIP = %q, want None (headless)", svc.Spec.ClusterIP)
	}
	if !selects(t, metaSelector(svc.Spec.Selector), sts.Spec.Template.Labels) {
		t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, sts.Spec.Template.Labels)
	}
	sm := only[*monitoringv1.ServiceMonitor](t, objs)
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor endpoints %+v: want one", sm.Spec.Endpoints)
	}
	checkJobRelabel(t, sm.Spec.Endpoints[0].RelabelConfigs)
	t.Run("probes", func(t *testing.T) {
		checkLiveness(t, c)
		checkHTTPProbe(t, c, "readiness", c.ReadinessProbe, "/-/ready")
	})
	t.Run("securityContext", func(t *testing.T) { checkSecurityContext(t, c) })
	t.Run("resources", func(t *testing.T) { checkResources(t, c) })
	cm := find[*corev1.ConfigMap](t, objs, "spacetime-watch-config")
	if hashSuffix.MatchString(cm.Name) {
		t.Errorf("ConfigMap %s has a hash suffix: a change would roll every shard instead of being reloaded", cm.Name)
	}
}

// TestShardedConfigPassesCheckConfig: the config and the fleet's target
// file, laid out as the pod sees them, pass the daemon's strict check,
// which lists every target of the file.
func TestShardedConfigPassesCheckConfig(t *testing.T) {
	objs, sts, c := sharded(t)
	configPath := flagValue(t, c.Args, "config.file")
	mount := mountAt(t, c, filepath.Dir(configPath))
	v := volume(t, &sts.Spec.Template.Spec, mount.Name)
	config, _ := configFile(t, objs, v, "config.yaml")
	// The target file is a list, not a config tree: read it as text.
	targets, ok := find[*corev1.ConfigMap](t, objs, "spacetime-watch-config").Data["targets.yaml"]
	if !ok || !slices.ContainsFunc(v.Projected.Sources, func(s corev1.VolumeProjection) bool {
		return s.ConfigMap != nil && slices.ContainsFunc(s.ConfigMap.Items, func(k corev1.KeyToPath) bool { return k.Key == "targets.yaml" })
	}) {
		t.Fatalf("the config volume does not carry the ConfigMap's targets.yaml")
	}

	root := t.TempDir()
	dir := filepath.Join(root, mount.MountPath)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A path in the container is the same path under root.
	config = strings.ReplaceAll(config, mount.MountPath+"/", dir+"/")
	for name, text := range map[string]string{"config.yaml": config, "targets.yaml": targets} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(daemon(t), "check-config", "--config.file="+filepath.Join(dir, "config.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("spacetime-watch check-config: %v\n%s", err, out)
	}
	for _, name := range []string{"eu-1", "eu-2", "us-1", "us-2"} {
		if !strings.Contains(string(out), "target "+name) {
			t.Errorf("check-config does not list target %s of targets.yaml:\n%s", name, out)
		}
	}
}
