package k8stest

import (
	"path/filepath"
	"slices"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// central returns the central overlay's objects, its Deployment and the
// daemon's container.
func central(t *testing.T) ([]Object, *appsv1.Deployment, *corev1.Container) {
	t.Helper()
	objs := overlay(t, "central")
	dep := find[*appsv1.Deployment](t, objs, "spacetime-watch")
	return objs, dep, container(t, &dep.Spec.Template.Spec, "spacetime-watch")
}

func TestCentralSingleWriter(t *testing.T) {
	objs, dep, c := central(t)
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1: the state has one writer", dep.Spec.Replicas)
	}
	if dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy = %q, want Recreate: a rolling update would run two daemons on one state", dep.Spec.Strategy.Type)
	}

	pod := &dep.Spec.Template.Spec
	stateMount := mountAt(t, c, flagValue(t, c.Args, "state.dir"))
	v := volume(t, pod, stateMount.Name)
	if v.PersistentVolumeClaim == nil {
		t.Fatalf("state volume %s = %+v, want a PersistentVolumeClaim", v.Name, v.VolumeSource)
	}
	pvc := find[*corev1.PersistentVolumeClaim](t, objs, v.PersistentVolumeClaim.ClaimName)
	if !slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
		t.Errorf("PVC access modes = %v, want [ReadWriteOnce]", pvc.Spec.AccessModes)
	}
	if _, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		t.Errorf("PVC requests no storage")
	}
	// The daemon runs as 65532; fsGroup makes the volume writable to it.
	if psc := pod.SecurityContext; psc == nil || psc.FSGroup == nil || *psc.FSGroup != 65532 {
		t.Errorf("pod securityContext %+v: want fsGroup 65532 so the PVC is writable", pod.SecurityContext)
	}
}

func TestCentralContainer(t *testing.T) {
	objs, dep, c := central(t)
	pod := &dep.Spec.Template.Spec
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 {
		t.Errorf("pod has containers %d and init containers %d, want the daemon alone", len(pod.Containers), len(pod.InitContainers))
	}
	wantArgs := []string{"run", "--config.file=/etc/spacetime-watch/config.yaml", "--config.auto-reload", "--state.dir=/var/lib/spacetime-watch", "--web.listen-address=:9850", "--log.format=json"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args = %q, want %q", c.Args, wantArgs)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken = %v, want false: the daemon never calls the Kubernetes API", pod.AutomountServiceAccountToken)
	}
	t.Run("probes", func(t *testing.T) {
		checkLiveness(t, c)
		// The central daemon has its own Service: readiness gates only it.
		checkHTTPProbe(t, c, "readiness", c.ReadinessProbe, "/-/ready")
		if c.StartupProbe != nil {
			t.Errorf("startupProbe set: the liveness probe's failureThreshold covers the start")
		}
	})
	t.Run("securityContext", func(t *testing.T) { checkSecurityContext(t, c) })
	t.Run("resources", func(t *testing.T) { checkResources(t, c) })

	t.Run("mounts", func(t *testing.T) {
		for _, m := range c.VolumeMounts {
			if m.SubPath != "" || m.SubPathExpr != "" {
				t.Errorf("mount %s uses subPath: the kubelet would never update it", m.Name)
			}
		}
		configPath := flagValue(t, c.Args, "config.file")
		cfgMount := mountAt(t, c, filepath.Dir(configPath))
		if !cfgMount.ReadOnly {
			t.Errorf("mount %s is writable, want readOnly", cfgMount.Name)
		}
		v := volume(t, pod, cfgMount.Name)
		_, cfg := configFile(t, objs, v, filepath.Base(configPath))
		secret, files, _ := projectedSecretFiles(v, cfgMount.MountPath)
		if secret != "spacetime-watch-secrets" {
			t.Errorf("projected Secret = %q, want the daemon's own spacetime-watch-secrets", secret)
		}
		checkSecretFilesProvided(t, cfg, files)

		targets, _ := cfg["targets"].([]any)
		if len(targets) < 2 {
			t.Errorf("central config has %d targets, want several", len(targets))
		}
	})
}

func TestCentralScraping(t *testing.T) {
	objs, dep, c := central(t)
	svc := only[*corev1.Service](t, objs)
	if !selects(t, metaSelector(svc.Spec.Selector), dep.Spec.Template.Labels) {
		t.Fatalf("Service selector %v does not select the pod's labels %v", svc.Spec.Selector, dep.Spec.Template.Labels)
	}
	var metrics *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if portNumber(t, c, svc.Spec.Ports[i].TargetPort) == 9850 {
			metrics = &svc.Spec.Ports[i]
		}
	}
	if metrics == nil {
		t.Fatalf("Service ports %+v: none targets the daemon's 9850", svc.Spec.Ports)
	}

	sm := only[*monitoringv1.ServiceMonitor](t, objs)
	if sm.Namespace != svc.Namespace {
		t.Errorf("ServiceMonitor in %q, Service in %q", sm.Namespace, svc.Namespace)
	}
	if !selects(t, &sm.Spec.Selector, svc.Labels) {
		t.Errorf("ServiceMonitor selector %v does not select the Service's labels %v", sm.Spec.Selector, svc.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != metrics.Name {
		t.Fatalf("ServiceMonitor endpoints %+v: want one, on the Service's port %q", sm.Spec.Endpoints, metrics.Name)
	}
	if sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("endpoint path = %q, want /metrics", sm.Spec.Endpoints[0].Path)
	}
	checkJobRelabel(t, sm.Spec.Endpoints[0].RelabelConfigs)
}

func TestCentralNetworkPolicy(t *testing.T) {
	objs, dep, _ := central(t)
	np := only[*networkingv1.NetworkPolicy](t, objs)
	pod := &dep.Spec.Template
	if np.Namespace != dep.Namespace || !selects(t, &np.Spec.PodSelector, pod.Labels) {
		t.Fatalf("NetworkPolicy %s/%s selector %v does not select the daemon's pod", np.Namespace, np.Name, np.Spec.PodSelector)
	}
	tests := []struct {
		name string
		from string
		want bool
	}{
		{"Prometheus in monitoring scrapes", "monitoring", true},
		{"the daemon's own namespace cannot", "spacetime-watch", false},
		{"an instance's namespace cannot", "spacetime", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := admits(t, np, pod, tt.from, 9850, corev1.ProtocolTCP); got != tt.want {
				t.Errorf("from %s to 9850/TCP: admitted = %v, want %v", tt.from, got, tt.want)
			}
		})
	}
}
