package k8stest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one rendered manifest, decoded into its Go type.
type Object struct {
	// GVK is the object's apiVersion and kind.
	GVK schema.GroupVersionKind
	// Value points to the typed object: *appsv1.Deployment,
	// *monitoringv1.PodMonitor, ... (see Kinds).
	Value metav1.Object
}

// String names the object as kubectl does: Kind/namespace/name.
func (o Object) String() string {
	if ns := o.Value.GetNamespace(); ns != "" {
		return o.GVK.Kind + "/" + ns + "/" + o.Value.GetName()
	}
	return o.GVK.Kind + "/" + o.Value.GetName()
}

// Kinds lists every kind the manifests may contain, with its Go type. A
// rendered object of another kind is an error: a new kind needs its type
// here before the tests can check it.
var Kinds = map[schema.GroupVersionKind]func() metav1.Object{
	corev1.SchemeGroupVersion.WithKind("Namespace"):             func() metav1.Object { return &corev1.Namespace{} },
	corev1.SchemeGroupVersion.WithKind("ConfigMap"):             func() metav1.Object { return &corev1.ConfigMap{} },
	corev1.SchemeGroupVersion.WithKind("Secret"):                func() metav1.Object { return &corev1.Secret{} },
	corev1.SchemeGroupVersion.WithKind("Service"):               func() metav1.Object { return &corev1.Service{} },
	corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"): func() metav1.Object { return &corev1.PersistentVolumeClaim{} },
	appsv1.SchemeGroupVersion.WithKind("Deployment"):            func() metav1.Object { return &appsv1.Deployment{} },
	appsv1.SchemeGroupVersion.WithKind("StatefulSet"):           func() metav1.Object { return &appsv1.StatefulSet{} },
	networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"):   func() metav1.Object { return &networkingv1.NetworkPolicy{} },
	monitoringv1.SchemeGroupVersion.WithKind("PodMonitor"):      func() metav1.Object { return &monitoringv1.PodMonitor{} },
	monitoringv1.SchemeGroupVersion.WithKind("ServiceMonitor"):  func() metav1.Object { return &monitoringv1.ServiceMonitor{} },
	monitoringv1.SchemeGroupVersion.WithKind("PrometheusRule"):  func() metav1.Object { return &monitoringv1.PrometheusRule{} },
}

// SplitDocuments splits a multi-document YAML stream at its "---" lines.
// Documents holding nothing but blank lines and comments are dropped.
func SplitDocuments(stream []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if hasContent(cur.Bytes()) {
			docs = append(docs, bytes.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(stream))
	sc.Buffer(make([]byte, 0, 64<<10), len(stream)+1)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimRight(line, " \t\r") == "---" {
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return docs
}

// hasContent reports whether a YAML document has a line that is neither
// blank nor a comment.
func hasContent(doc []byte) bool {
	for line := range strings.Lines(string(doc)) {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") {
			return true
		}
	}
	return false
}

// Decode decodes one YAML document strictly into the Go type of its kind
// (see Kinds): duplicate keys, unknown fields and fields whose case differs
// from the API's are errors, as with the API server's strict field
// validation.
func Decode(doc []byte) (Object, error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return Object{}, fmt.Errorf("not valid YAML: %w", err)
	}
	var tm metav1.TypeMeta
	if err := kjson.UnmarshalCaseSensitivePreserveInts(j, &tm); err != nil {
		return Object{}, fmt.Errorf("not a Kubernetes object: %w", err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return Object{}, fmt.Errorf("not a Kubernetes object: apiVersion and kind are required")
	}
	gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
	newObject, ok := Kinds[gvk]
	if !ok {
		return Object{}, fmt.Errorf("%s %s: no Go type for this kind; add it to Kinds", tm.APIVersion, tm.Kind)
	}
	obj := newObject()
	strict, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return Object{}, fmt.Errorf("%s %q: %w", tm.Kind, obj.GetName(), err)
	}
	if len(strict) > 0 {
		return Object{}, fmt.Errorf("%s %q: %w", tm.Kind, obj.GetName(), errors.Join(strict...))
	}
	return Object{GVK: gvk, Value: obj}, nil
}

// DecodeAll splits a rendered stream and decodes every document strictly.
// It reports every document that fails, not only the first.
func DecodeAll(stream []byte) ([]Object, error) {
	var objs []Object
	var errs []error
	for i, doc := range SplitDocuments(stream) {
		o, err := Decode(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i+1, err))
			continue
		}
		objs = append(objs, o)
	}
	return objs, errors.Join(errs...)
}
