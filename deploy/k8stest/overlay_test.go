package k8stest

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the generated PrometheusRule and the golden files instead of comparing with them")

// Paths from this package's directory (deploy/k8stest).
const (
	repoRoot = "../.."
	k8sDir   = "../k8s"
)

// overlays renders each overlay once per test binary: every test of an
// overlay reads the same objects.
var overlays = map[string]func() ([]Object, error){
	"example": sync.OnceValues(func() ([]Object, error) { return renderOverlay("example") }),
	"central": sync.OnceValues(func() ([]Object, error) { return renderOverlay("central") }),
	"sharded": sync.OnceValues(func() ([]Object, error) { return renderOverlay("sharded") }),
}

func renderOverlay(name string) ([]Object, error) {
	// The go run fallback may build kustomize first.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := Render(ctx, filepath.Join(k8sDir, "overlays", name))
	if err != nil {
		return nil, err
	}
	return DecodeAll(out)
}

// overlay returns the overlay's rendered, strictly decoded objects.
func overlay(t *testing.T, name string) []Object {
	t.Helper()
	objs, err := overlays[name]()
	if err != nil {
		t.Fatalf("overlay %s: %v", name, err)
	}
	return objs
}

// find returns the object of type T named name.
func find[T metav1.Object](t *testing.T, objs []Object, name string) T {
	t.Helper()
	for _, o := range objs {
		if v, ok := o.Value.(T); ok && v.GetName() == name {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T named %q among %v", zero, name, objs)
	return zero
}

// only returns the one object of type T.
func only[T metav1.Object](t *testing.T, objs []Object) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.Value.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, got %d among %v", zero, len(found), objs)
	}
	return found[0]
}

// container returns the container or init container called name.
func container(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Container {
	t.Helper()
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	t.Fatalf("pod has no container %q", name)
	return nil
}

// volume returns the pod's volume called name.
func volume(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Volume {
	t.Helper()
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	t.Fatalf("pod has no volume %q", name)
	return nil
}

// mountAt returns the container's mount at path.
func mountAt(t *testing.T, c *corev1.Container, path string) corev1.VolumeMount {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return m
		}
	}
	t.Fatalf("container %s mounts nothing at %s (mounts: %+v)", c.Name, path, c.VolumeMounts)
	return corev1.VolumeMount{}
}

// flagValue returns the value of --name=value in args.
func flagValue(t *testing.T, args []string, name string) string {
	t.Helper()
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	t.Fatalf("args %q have no --%s=", args, name)
	return ""
}

// selects reports whether sel matches set, with the API's semantics.
func selects(t *testing.T, sel *metav1.LabelSelector, set map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("label selector %v: %v", sel, err)
	}
	return !s.Empty() && s.Matches(labels.Set(set))
}

// portNumber resolves a named or numbered port to one the container
// declares.
func portNumber(t *testing.T, c *corev1.Container, port intstr.IntOrString) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s declares no port %s", c.Name, port.String())
	return 0
}

// configFile returns the daemon config the ConfigMap behind a projected
// volume holds, as text and as a generic YAML tree.
func configFile(t *testing.T, objs []Object, v *corev1.Volume, item string) (string, map[string]any) {
	t.Helper()
	if v.Projected == nil {
		t.Fatalf("volume %s is not projected", v.Name)
	}
	for _, src := range v.Projected.Sources {
		if src.ConfigMap == nil {
			continue
		}
		for _, it := range src.ConfigMap.Items {
			if it.Path != item {
				continue
			}
			cm := find[*corev1.ConfigMap](t, objs, src.ConfigMap.Name)
			text, ok := cm.Data[it.Key]
			if !ok {
				t.Fatalf("ConfigMap %s has no key %q", cm.Name, it.Key)
			}
			var tree map[string]any
			if err := yaml.UnmarshalStrict([]byte(text), &tree); err != nil {
				t.Fatalf("ConfigMap %s key %s: %v", cm.Name, it.Key, err)
			}
			return text, tree
		}
	}
	t.Fatalf("volume %s projects no ConfigMap item at %s", v.Name, item)
	return "", nil
}

// fileKeys returns the values of every *_file key in a config tree: the
// files the daemon reads secrets from.
func fileKeys(tree any) []string {
	var out []string
	var walk func(any)
	walk = func(n any) {
		switch n := n.(type) {
		case map[string]any:
			for k, v := range n {
				if s, ok := v.(string); ok && strings.HasSuffix(k, "_file") {
					out = append(out, s)
				}
				walk(v)
			}
		case []any:
			for _, v := range n {
				walk(v)
			}
		}
	}
	walk(tree)
	slices.Sort(out)
	return out
}

// projectedSecretFiles returns the paths at which a projected volume
// mounted at mountPath shows the Secret's items, by key.
func projectedSecretFiles(v *corev1.Volume, mountPath string) (secret string, files map[string]string, optional bool) {
	files = map[string]string{}
	for _, src := range v.Projected.Sources {
		if src.Secret == nil {
			continue
		}
		secret = src.Secret.Name
		optional = src.Secret.Optional != nil && *src.Secret.Optional
		for _, it := range src.Secret.Items {
			files[it.Key] = filepath.Join(mountPath, it.Path)
		}
	}
	return secret, files, optional
}

var hashSuffix = regexp.MustCompile(`-[a-z0-9]{10}$`)

func TestOverlaysDecodeStrictly(t *testing.T) {
	tests := []struct {
		overlay string
		want    []string // Kind/namespace/name, generated names without their hash
	}{
		{"example", []string{
			"ConfigMap/spacetime/spacetime-watch-config",
			"Deployment/spacetime/spacetime-godot",
			"Namespace/spacetime",
			"NetworkPolicy/spacetime/spacetime-watch",
			"PodMonitor/spacetime/spacetime-watch",
			"PrometheusRule/spacetime/spacetime-watch",
		}},
		{"central", []string{
			"ConfigMap/spacetime-watch/spacetime-watch-config",
			"Deployment/spacetime-watch/spacetime-watch",
			"Namespace/spacetime-watch",
			"NetworkPolicy/spacetime-watch/spacetime-watch",
			"PersistentVolumeClaim/spacetime-watch/spacetime-watch-state",
			"PrometheusRule/spacetime-watch/spacetime-watch",
			"Service/spacetime-watch/spacetime-watch",
			"ServiceMonitor/spacetime-watch/spacetime-watch",
		}},
		{"sharded", []string{
			"ConfigMap/spacetime-watch/spacetime-watch-config",
			"Namespace/spacetime-watch",
			"NetworkPolicy/spacetime-watch/spacetime-watch",
			"PrometheusRule/spacetime-watch/spacetime-watch",
			"Service/spacetime-watch/spacetime-watch",
			"ServiceMonitor/spacetime-watch/spacetime-watch",
			"StatefulSet/spacetime-watch/spacetime-watch",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.overlay, func(t *testing.T) {
			var got []string
			for _, o := range overlay(t, tt.overlay) {
				s := o.String()
				if o.GVK.Kind == "ConfigMap" {
					s = hashSuffix.ReplaceAllString(s, "")
				}
				got = append(got, s)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("rendered objects:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestSplitDocuments covers the splitting the overlay tests rely on.
func TestSplitDocuments(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   int
	}{
		{"one document", "a: 1\n", 1},
		{"separators", "a: 1\n---\nb: 2\n---\nc: 3\n", 3},
		{"leading separator and comment-only document", "---\n# only a comment\n---\na: 1\n", 1},
		{"separator with trailing spaces", "a: 1\n---  \nb: 2\n", 2},
		{"--- inside a block scalar is not a separator when indented", "a: |\n  ---\n  x\n", 1},
		{"empty", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SplitDocuments([]byte(tt.stream)); len(got) != tt.want {
				t.Errorf("SplitDocuments(%q): %d documents %q, want %d", tt.stream, len(got), got, tt.want)
			}
		})
	}
}

// readDeployment decodes one committed manifest file, strictly.
func readDeployment(t *testing.T, path string) *appsv1.Deployment {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	d, ok := o.Value.(*appsv1.Deployment)
	if !ok {
		t.Fatalf("%s: a %s, want a Deployment", path, o.GVK.Kind)
	}
	return d
}

// metaSelector is a Service's plain selector as a LabelSelector.
func metaSelector(m map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: m}
}
